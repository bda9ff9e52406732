/** Environment errors: one line naming the path, no stack trace, no temp file left. */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { runPipeline } from '../helpers/cli.js';
import { SAMPLE_10K } from '../helpers/samples.js';

const dir = t.testdir();
const small = path.join(dir, 'small.tsv');
fs.writeFileSync(small, fs.readFileSync(SAMPLE_10K, 'latin1').split('\n').slice(0, 500).join('\n') + '\n', 'latin1');
const oneLine = (t: { match: (a: string, b: RegExp, m: string) => void; equal: (a: number, b: number, m: string) => void; notMatch: (a: string, b: RegExp, m: string) => void }, stderr: string, re: RegExp, what: string) => {
  t.match(stderr, re, what);
  t.equal(stderr.trimEnd().split('\n').length, 1, `${what}: one line`);
  t.notMatch(stderr, /\n\s+at /, `${what}: no stack`);
};

t.test('preprocess: --out is a file, --rejects is a directory', async (t) => {
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, 'x');
  const r = await runPipeline(['preprocess', '--input', small, '--out', file, '-q']);
  t.equal(r.code, 1);
  oneLine(t, r.stderr, /^pipeline preprocess: .*a-file: exists and is not a directory\n$/, '--out on a file');
  const rejDir = path.join(dir, 'rejects-dir');
  fs.mkdirSync(rejDir);
  const r2 = await runPipeline(['preprocess', '--input', small, '--out', path.join(dir, 'o'), '--on-bad-row', 'skip', '--rejects', rejDir, '-q']);
  t.equal(r2.code, 1);
  oneLine(t, r2.stderr, /^pipeline preprocess: .*rejects-dir: is a directory \(EISDIR, open\)\n$/, '--rejects on a directory');
});

t.test('preprocess: a read-only --out is EACCES in one line', { skip: process.getuid?.() === 0 ? 'root ignores file permissions' : false }, async (t) => {
  const ro = path.join(dir, 'ro');
  fs.mkdirSync(ro);
  fs.chmodSync(ro, 0o500);
  const r = await runPipeline(['preprocess', '--input', small, '--out', ro, '-q']);
  fs.chmodSync(ro, 0o700);
  t.equal(r.code, 1);
  oneLine(t, r.stderr, /ro.*(permission denied|cannot create the lock file)/, 'read-only --out');
});

t.test('minhash --out on a directory: one line, no temp file', async (t) => {
  const out = path.join(dir, 'shards');
  t.equal((await runPipeline(['preprocess', '--input', small, '--out', out, '-q'])).code, 0);
  const target = path.join(dir, 'map-dir');
  fs.mkdirSync(target);
  const r = await runPipeline(['minhash', '--input', out, '--out', target, '--sample', '100', '-q']);
  t.equal(r.code, 1);
  oneLine(t, r.stderr, /^pipeline minhash: .*map-dir: is a directory; --out takes the mapping file to write\n$/, 'minhash --out dir');
  t.same(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file beside it');
});

t.test('a cut-off Arrow shard given as a file: one line naming it', async (t) => {
  const out = path.join(dir, 'arrow');
  t.equal((await runPipeline(['preprocess', '--input', small, '--out', out, '--format', 'arrow', '-q'])).code, 0);
  const shard = path.join(out, 'part-00000.arrow');
  const short = path.join(dir, 'short.arrow');
  const b = fs.readFileSync(shard);
  fs.writeFileSync(short, b.subarray(0, Math.floor(b.length / 2)));
  const r = await runPipeline(['stats', '--input', short]);
  t.equal(r.code, 1);
  oneLine(t, r.stderr, /^pipeline stats: .*short\.arrow: /, 'short Arrow shard');
});

t.test('predict with a model directory missing dense.bin: one line naming it', async (t) => {
  const model = path.join(dir, 'model');
  fs.mkdirSync(model);
  fs.writeFileSync(path.join(model, 'model.json'), JSON.stringify({ format: 'x' }));
  const r = await runPipeline(['predict', '--model', model, '--input', small]);
  t.equal(r.code, 1);
  oneLine(t, r.stderr, /^pipeline predict: .*model/, 'predict without weights');
});
