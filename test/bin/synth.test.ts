import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatProbs, synthBatches } from '../../input/synth.js';
import { PIPELINE_BIN } from '../helpers/paths.js';

function pipeline(args: string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PIPELINE_BIN, ...args], { encoding: 'buffer', maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number) : 0;
      resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr: stderr.toString() });
    });
  });
}

const dir = await mkdtemp(path.join(tmpdir(), 'synth-cli-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

t.test('writes N rows to stdout, the same bytes as the library', async (t) => {
  const { code, stdout, stderr } = await pipeline(['synth', '--rows', '1000', '--seed', '7', '--out', '-']);
  t.equal(code, 0, stderr);
  const lines = stdout.toString('latin1').split('\n');
  t.equal(lines.pop(), '');
  t.equal(lines.length, 1000);
  t.ok(lines.every((l) => l.split('\t').length === 40), '40 fields per line');
  const lib = Buffer.concat([...synthBatches({ rows: 1000, seed: 7 })].map((b) => b.text));
  t.ok(stdout.equals(lib), 'identical to synthBatches({ rows: 1000, seed: 7 })');
  t.match(stderr, /1000 rows/, 'a summary on stderr, not in the data');
});

t.test('--out FILE and --probs FILE', async (t) => {
  const out = path.join(dir, 'rows.tsv');
  const probs = path.join(dir, 'probs.txt');
  const { code, stderr } = await pipeline(['synth', '--rows', '1000', '--seed', '7', '--out', out, '--probs', probs]);
  t.equal(code, 0, stderr);
  const tsv = await readFile(out);
  t.equal(tsv.toString().split('\n').length - 1, 1000);
  const p = (await readFile(probs, 'utf8')).split('\n');
  t.equal(p.pop(), '');
  t.equal(p.length, 1000, 'one probability per row');
  t.ok(p.every((x) => Number(x) > 0 && Number(x) < 1));
  t.equal(p.join('\n') + '\n', [...synthBatches({ rows: 1000, seed: 7 })].map((b) => formatProbs(b.probs)).join(''));
  const other = await pipeline(['synth', '--rows', '1000', '--seed', '8']);
  t.notOk(other.stdout.equals(tsv), 'another seed, other rows');
});

t.test('--help and bad options', async (t) => {
  const help = await pipeline(['synth', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout.toString(), /usage: pipeline synth/);
  t.match(help.stdout.toString(), /--probs FILE/);

  for (const [args, re] of [
    [['--rows', 'abc'], /Invalid option rows: must be a non-negative integer, got "abc"/],
    [['--rows', '1e3'], /Invalid option rows/],
    [['--rows=-3'], /Invalid option rows/],
    [[], /^pipeline synth: Missing option rows: is required \(a non-negative integer: number of rows\)\n$/],
    [['--rows', '10', '--seed', '1.5'], /Invalid option seed: must be an integer, got "1.5"/],
    [['--rows', '10', '--bogus'], /bogus/],
  ] as [string[], RegExp][]) {
    const r = await pipeline(['synth', ...args]);
    t.equal(r.code, 2, `exit 2 for ${args.join(' ')}`);
    t.match(r.stderr, re);
    t.equal(r.stdout.length, 0, 'no data written');
  }

  const unwritable = await pipeline(['synth', '--rows', '10', '--out', path.join(dir, 'missing/dir/rows.tsv')]);
  t.equal(unwritable.code, 1);
  t.match(unwritable.stderr, /missing\/dir\/rows\.tsv: cannot write: ENOENT/);
});

t.test('--model latent and its knobs: the library\'s rows; knobs refused without it', async (t) => {
  const { code, stdout, stderr } = await pipeline(['synth', '--rows', '500', '--seed', '3', '--model', 'latent', '--pair', '0.4', '--deviation', '0.5', '--groups', '64']);
  t.equal(code, 0, stderr);
  const lib = Buffer.concat([...synthBatches({ rows: 500, seed: 3, model: 'latent', groups: 64, latent: { pair: 0.4, deviation: 0.5 } })].map((b) => b.text));
  t.ok(stdout.equals(lib), 'identical to synthBatches with the same knobs');
  const plain = await pipeline(['synth', '--rows', '500', '--seed', '3', '--model', 'latent']);
  t.ok(plain.stdout.equals(Buffer.concat([...synthBatches({ rows: 500, seed: 3, model: 'latent' })].map((b) => b.text))), 'the latent defaults');
  for (const [args, re] of [
    [['--rows', '10', '--model', 'fancy'], /Invalid option model: must be default or latent, got "fancy"/],
    [['--rows', '10', '--pair', '0.3'], /Invalid option pair: applies to --model latent only/],
    [['--rows', '10', '--model', 'latent', '--deviation', '2'], /Invalid option deviation: must be a number in \[0, 1\], got "2"/],
    [['--rows', '10', '--model', 'latent', '--in-group', 'x'], /Invalid option in-group: must be a number in \[0, 1\], got "x"/],
  ] as [string[], RegExp][]) {
    const r = await pipeline(['synth', ...args]);
    t.equal(r.code, 2, `exit 2 for ${args.join(' ')}`);
    t.match(r.stderr, re);
    t.equal(r.stdout.length, 0);
  }
});

t.test('--profile terabyte --values uniform: the library rows; bad --values named', async (t) => {
  const { code, stdout, stderr } = await pipeline(['synth', '--rows', '300', '--seed', '4', '--profile', 'terabyte', '--values', 'uniform']);
  t.equal(code, 0, stderr);
  const lib = Buffer.concat([...synthBatches({ rows: 300, seed: 4, profile: 'terabyte', values: 'uniform' })].map((b) => b.text));
  t.ok(stdout.equals(lib), "identical to synthBatches({ profile: 'terabyte', values: 'uniform' })");
  const bad = await pipeline(['synth', '--rows', '3', '--values', 'flat']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /Invalid option values: must be zipf or uniform, got "flat"/);
  const latent = await pipeline(['synth', '--rows', '3', '--values', 'uniform', '--model', 'latent']);
  t.equal(latent.code, 2);
  t.match(latent.stderr, /Invalid option values: .*latent/);
});
