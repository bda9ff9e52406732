/** preprocess() on short, trimmed, cut-off and empty input: counted in the summary and manifest, and warned about. */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { preprocess } from '../../pipeline/preprocess.js';
import { readManifest } from '../../io/manifest.js';
import { SAMPLE_10K } from '../helpers/samples.js';

const lines = fs.readFileSync(SAMPLE_10K, 'latin1').split('\n').slice(0, 2000);

t.test('trimmed rows are counted in the summary and the manifest, in both formats and parsers', async (t) => {
  const dir = t.testdir();
  const input = path.join(dir, 'in.tsv');
  const trimmed = lines.map((l, i) => (i % 10 === 0 ? l.split('\t').slice(0, 20).join('\t') : l));
  fs.writeFileSync(input, trimmed.join('\n') + '\n', 'latin1');
  for (const [format, parseWorkers] of [['parquet', 0], ['arrow', 2]] as const) {
    const out = path.join(dir, `out-${format}`);
    const warnings: string[] = [];
    const s = await preprocess({ inputs: [input], out, format, shardRows: 700, parseWorkers, concurrency: 1, warn: (l) => warnings.push(l) });
    t.equal(s.rows, 2000);
    t.equal(s.trimmedRows, 200, `${format}: summary`);
    t.equal((await readManifest(out)).trimmedRows, 200, `${format}: manifest`);
    t.same(warnings, []);
  }
});

t.test('a too-short row fails the run naming file, line and field; skipped it is counted', async (t) => {
  const dir = t.testdir();
  const input = path.join(dir, 'in.tsv');
  fs.writeFileSync(input, [...lines.slice(0, 5), '1', ...lines.slice(5, 10)].join('\n') + '\n', 'latin1');
  await t.rejects(preprocess({ inputs: [input], out: path.join(dir, 'a'), concurrency: 1 }), { code: 'ERR_BAD_ROW', context: { file: input, line: 6, field: 'i1', reason: 'too-few-fields' } });
  const s = await preprocess({ inputs: [input], out: path.join(dir, 'b'), concurrency: 1, onBadRow: 'skip' });
  t.same([s.rows, s.rejects], [10, { 'too-few-fields': 1 }]);
});

t.test('an empty input succeeds with a warning; a short unterminated last line is reported', async (t) => {
  const dir = t.testdir();
  const empty = path.join(dir, 'empty.tsv');
  fs.writeFileSync(empty, '');
  const warnings: string[] = [];
  const s = await preprocess({ inputs: [empty], out: path.join(dir, 'e'), concurrency: 1, warn: (l) => warnings.push(l) });
  t.equal(s.rows, 0);
  t.match(s.warnings, [/no rows in the input/]);
  t.match(warnings, [/^preprocess: warning: no rows in the input \(.*empty\.tsv\)/]);
  const cut = path.join(dir, 'cut.tsv');
  fs.writeFileSync(cut, lines.slice(0, 9).join('\n') + '\n' + lines[9].split('\t').slice(0, 30).join('\t'), 'latin1');
  const c = await preprocess({ inputs: [cut], out: path.join(dir, 'c'), concurrency: 1, warn: () => {} });
  t.equal(c.rows, 10);
  t.match(c.warnings, [/end in a short line without a newline: possibly cut off/]);
});
