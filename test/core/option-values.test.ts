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

import { parseEnumValue, parseFractionValue, parseIntValue, parseListValue, parseNumberValue } from '../../core/option-values.js';

const invalid = (name: string, rest: RegExp) => ({ code: 'ERR_INVALID_OPTION', message: new RegExp(`^Invalid option ${name.replace(/[[\]]/g, '\\$&')}: ${rest.source}`) });

t.test('integers are decimal digits only: "1e3", "1.0", "0x10", "12abc" and "" are errors', async (t) => {
  t.equal(parseIntValue('n', '42'), 42);
  t.equal(parseIntValue('n', '-7'), -7);
  t.equal(parseIntValue('n', ' 8 '), 8, 'surrounding blanks are ignored');
  for (const bad of ['1e3', '1.0', '0x10', '12abc', '', ' ', 'NaN', 'Infinity', '9007199254740993']) {
    t.throws(() => parseIntValue('mini-batch-size', bad, { min: 1 }), invalid('mini-batch-size', /must be a positive integer, got /), JSON.stringify(bad));
  }
});

t.test('integer bounds, described the same way everywhere', async (t) => {
  t.equal(parseIntValue('dim', '65536', { min: 1, max: 65536 }), 65536);
  t.throws(() => parseIntValue('dim', '0', { min: 1, max: 65536 }), invalid('dim', /must be an integer in 1\.\.65536, got "0"/));
  t.throws(() => parseIntValue('dim', '65537', { min: 1, max: 65536 }), invalid('dim', /must be an integer in 1\.\.65536/));
  t.equal(parseIntValue('test-freq', '0', { min: 0 }), 0);
  t.throws(() => parseIntValue('test-freq', '-1', { min: 0 }), invalid('test-freq', /must be a non-negative integer, got "-1"/));
  t.throws(() => parseIntValue('x', '3', { min: 5 }), invalid('x', /must be an integer >= 5/));
  t.throws(() => parseIntValue('seed', '1.5'), invalid('seed', /must be an integer, got "1.5"/));
});

t.test('numbers take a fraction and an exponent: "1e3", "1e-3", ".5" are numbers', async (t) => {
  t.equal(parseNumberValue('learning-rate', '1e3'), 1000);
  t.equal(parseNumberValue('learning-rate', '1e-3'), 0.001);
  t.equal(parseNumberValue('learning-rate', '.5'), 0.5);
  t.equal(parseNumberValue('learning-rate', '2.'), 2);
  for (const bad of ['', 'abc', '1/16', '0x10', 'Infinity', 'NaN', '1e', '1,5']) {
    t.throws(() => parseNumberValue('learning-rate', bad, { min: 0, minExclusive: true }), invalid('learning-rate', /must be a positive number, got /), JSON.stringify(bad));
  }
  t.throws(() => parseNumberValue('learning-rate', '0', { min: 0, minExclusive: true }), invalid('learning-rate', /must be a positive number, got "0"/));
  t.equal(parseNumberValue('test-fraction', '0', { min: 0, max: 1, maxExclusive: true }), 0);
  t.throws(() => parseNumberValue('test-fraction', '1', { min: 0, max: 1, maxExclusive: true }), invalid('test-fraction', /must be a number in \[0, 1\), got "1"/));
  t.throws(() => parseNumberValue('x', '-1', { min: 0 }), invalid('x', /must be a non-negative number/));
});

t.test('fractions also read a ratio "1/16", with the same bounds', async (t) => {
  const b = { min: 0, minExclusive: true, max: 1 };
  t.equal(parseFractionValue('compression', '1/16', b), 1 / 16);
  t.equal(parseFractionValue('compression', '0.25', b), 0.25);
  t.equal(parseFractionValue('compression', '1', b), 1);
  t.equal(parseFractionValue('compression', '1e-2', b), 0.01);
  for (const bad of ['0', '1.5', '3/2', '1/0', '0/4', '1/', 'a/b']) {
    t.throws(() => parseFractionValue('compression', bad, b), invalid('compression', /must be a number in \(0, 1\], got /), JSON.stringify(bad));
  }
});

t.test('enums name their choices', async (t) => {
  t.equal(parseEnumValue('embedding', 'scma', ['full', 'hashnet', 'scma']), 'scma');
  t.throws(() => parseEnumValue('embedding', 'dense', ['full', 'hashnet', 'scma']), invalid('embedding', /must be one of full, hashnet, scma, got "dense"/));
  t.throws(() => parseEnumValue('on-bad-row', 'ignore', ['fail', 'skip']), invalid('on-bad-row', /must be fail or skip, got "ignore"/));
  t.throws(() => parseEnumValue('format', 'PARQUET', ['parquet', 'arrow']), invalid('format', /must be parquet or arrow/), 'case matters');
});

t.test('lists: each item parsed and named by its index, the count checked', async (t) => {
  const item = (n: string, r: string) => parseIntValue(n, r, { min: 2 });
  t.same(parseListValue('buckets', '100', item, [1, 3]), [100]);
  t.same(parseListValue('buckets', '100,200,300', item, [1, 3]), [100, 200, 300]);
  t.throws(() => parseListValue('buckets', '100,200', item, [1, 3]), invalid('buckets', /must be one value or 3 values separated by commas \(got 2\), got "100,200"/));
  t.throws(() => parseListValue('buckets', '100,1,300', item, [1, 3]), invalid('buckets[1]', /must be an integer >= 2, got "1"/));
  t.throws(() => parseListValue('buckets', '1', item, [1, 3]), invalid('buckets', /must be an integer >= 2, got "1"/));
});
