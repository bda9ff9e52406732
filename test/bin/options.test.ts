/** The typed option tables: one parser for every command, and --help written from the same table. */
import t from 'tap';
import { helpText, parseCommandArgs, type OptionTable } from '../../bin/options.js';

const TABLE = {
  input: { type: 'path', short: 'i', arg: 'FILE', required: true, help: 'the input' },
  files: { type: 'path', multiple: true, arg: 'FILE', help: 'more inputs' },
  size: { type: 'int', min: 1, arg: 'N', default: 128, help: 'batch size' },
  rate: { type: 'number', min: 0, minExclusive: true, default: 0.1, help: 'learning rate' },
  share: { type: 'fraction', min: 0, minExclusive: true, max: 1, help: 'memory share' },
  kind: { type: 'enum', choices: ['full', 'hashnet', 'scma'] as const, default: 'scma', help: 'embedding kind' },
  buckets: { type: 'int-list', min: 2, lengths: [1, 3], help: 'ids per feature' },
  arch: { type: 'string', default: '13-64-16', help: 'layer sizes' },
  label: { type: 'boolean', default: true, help: 'rows are labeled' },
  quiet: { type: 'boolean', short: 'q', help: 'no progress' },
} satisfies OptionTable;

const parse = (argv: string[]) => parseCommandArgs(argv, 'cmd', 'a command', TABLE)!;

t.test('argv becomes typed values, with the defaults of the table', async (t) => {
  const v = parse(['-i', 'a.tsv']);
  t.same(v, { input: 'a.tsv', files: undefined, size: 128, rate: 0.1, share: undefined, kind: 'scma', buckets: undefined, arch: '13-64-16', label: true, quiet: false });
  const w = parse(['--input', 'a', '--files', 'b', '--files', 'c', '--size', '64', '--rate', '1e-3', '--share', '1/16', '--kind', 'full', '--buckets', '10,20,30', '--arch', '13-8-4', '--no-label', '-q']);
  t.same(w, { input: 'a', files: ['b', 'c'], size: 64, rate: 0.001, share: 1 / 16, kind: 'full', buckets: [10, 20, 30], arch: '13-8-4', label: false, quiet: true });
  t.equal(typeof w.size, 'number');
});

t.test('every bad value names its option and says what it takes', async (t) => {
  const cases: [string[], RegExp][] = [
    [[], /^Missing option input: is required \(FILE: [^)]*\)$/],
    [['-i', 'a', '--size', '0'], /^Invalid option size: must be a positive integer, got "0"$/],
    [['-i', 'a', '--size', '1e3'], /^Invalid option size: must be a positive integer, got "1e3"$/],
    [['-i', 'a', '--size', '12abc'], /^Invalid option size: must be a positive integer/],
    [['-i', 'a', '--rate', '0'], /^Invalid option rate: must be a positive number, got "0"$/],
    [['-i', 'a', '--rate', 'fast'], /^Invalid option rate: must be a positive number/],
    [['-i', 'a', '--share', '2'], /^Invalid option share: must be a number in \(0, 1\], got "2"$/],
    [['-i', 'a', '--kind', 'dense'], /^Invalid option kind: must be one of full, hashnet, scma, got "dense"$/],
    [['-i', 'a', '--buckets', '10,20'], /^Invalid option buckets: must be one value or 3 values separated by commas/],
    [['-i', 'a', '--buckets', '10,1,30'], /^Invalid option buckets\[1\]: must be an integer >= 2, got "1"$/],
  ];
  for (const [argv, re] of cases) t.throws(() => parse(argv), { code: 'ERR_INVALID_OPTION', message: re }, argv.join(' '));
  t.throws(() => parse(['-i', 'a', '--bogus']), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }, 'unknown options: node:util parseArgs');
  t.throws(() => parse(['-i', 'a', '--size']), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' }, 'a value-taking option without its value');
});

t.test('--help comes from the table: type, bounds, choices and default', async (t) => {
  const text = helpText('cmd', 'a command', TABLE);
  t.match(text, /-i, --input FILE\s+the input \(required\)/);
  t.match(text, /--size N\s+batch size \(a positive integer; default 128\)/);
  t.match(text, /--rate VALUE\s+learning rate \(a positive number; default 0\.1\)/);
  t.match(text, /--share VALUE\s+memory share \(a number in \(0, 1\], or a ratio like 1\/16\)/);
  t.match(text, /--kind full\|hashnet\|scma\s+embedding kind \(one of full, hashnet, scma; default scma\)/);
  t.match(text, /--buckets VALUE\s+ids per feature \(1 or 3 comma-separated integers >= 2\)/);
  t.match(text, /--label\s+rows are labeled \(default true\)/);
  t.match(text, /-q, --quiet\s+no progress$/m);
  let printed = '';
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
  let result;
  try {
    result = parseCommandArgs(['--help'], 'cmd', 'a command', TABLE);
  } finally {
    process.stdout.write = write;
  }
  t.equal(result, null, '--help: no values, even without the required option');
  t.equal(printed, text + '\n');
});
