import t from 'tap';
import { parseArch } from '../../core/option-values.js';

t.test('parseArch reads DLRM arch strings', async (t) => {
  t.same(parseArch('13-512-256-16', 'arch-mlp-bot'), [13, 512, 256, 16]);
  t.same(parseArch('512-256-1', 'arch-mlp-top'), [512, 256, 1]);
  t.same(parseArch('1', 'arch-mlp-top'), [1]);
});

t.test('parseArch rejects malformed strings naming the option', async (t) => {
  for (const bad of ['', '13--16', '13-abc-16', '13-0-16', '13-2.5-16', '-13-16', '13-16-', ' ']) {
    t.throws(() => parseArch(bad, 'arch-mlp-bot'), { code: 'ERR_INVALID_OPTION', message: /^Invalid option arch-mlp-bot: / }, JSON.stringify(bad));
  }
});
