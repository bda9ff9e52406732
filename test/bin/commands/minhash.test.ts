import t from 'tap';
import { spawn } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { PIPELINE_BIN } from '../../helpers/paths.js';
import { SAMPLE_10K } from '../../helpers/samples.js';
import { loadMapping } from '../../../scma/mapping-file.js';
import { DENSE_NAMES } from '../../../core/schema.js';

const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'minhash-cli-'));
t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
const at = (name: string) => path.join(dir, name);

function pipeline(args: string[], stdin?: Uint8Array | string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PIPELINE_BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(stdin);
  });
}

const shards = at('shards');
const pre = await pipeline(['preprocess', '--input', SAMPLE_10K, '--out', shards, '--shard-rows', '2500', '-q']);
if (pre.code !== 0) throw new Error(`preprocess failed: ${pre.stderr}`);

t.test('one pass over shards writes a mapping and a JSON summary', async (t) => {
  const r = await pipeline(['minhash', '--input', shards, '--out', at('m.arrow'), '--dim', '8', '--sample', '3000', '--seed', '5']);
  t.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  t.match(s, { kind: 'mapping', dim: 8, numHash: 2, sample: 3000, seed: 5, sampledRows: 3000, inputRows: 10000 });
  t.equal(s.bytes, (await fsp.stat(at('m.arrow'))).size);
  t.ok(s.values > 1000 && s.seconds >= 0);
  const m = await loadMapping(at('m.arrow'), { dim: 8 });
  t.equal(m.meta.values, s.values);
  t.match(r.stderr, /sampled 3000 of 10000 rows/);
});

t.test('parts merged, stdin and one pass give byte-identical mappings', async (t) => {
  const common = ['--sample', '3000', '--seed', '5'];
  for (const i of [0, 1, 2]) {
    const r = await pipeline(['minhash', '--input', shards, '--part', `${i}/3`, '--partial', '--out', at(`p${i}.arrow`), '-q', ...common]);
    t.equal(r.code, 0, r.stderr);
    t.match(JSON.parse(r.stdout), { kind: 'partial' });
  }
  const merged = await pipeline(['minhash', '--merge', at('p2.arrow'), at('p0.arrow'), at('p1.arrow'), '--out', at('merged.arrow'), '--dim', '8', '-q']);
  t.equal(merged.code, 0, merged.stderr);
  t.ok(readFileSync(at('merged.arrow')).equals(readFileSync(at('m.arrow'))), 'merged = one pass');

  const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const pre = spawn(process.execPath, [PIPELINE_BIN, 'preprocess', '--input', SAMPLE_10K, '--to', '-', '-q'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const mh = spawn(process.execPath, [PIPELINE_BIN, 'minhash', '--input', '-', '--out', at('stdin.arrow'), '--dim', '8', '-q', ...common], { stdio: ['pipe', 'ignore', 'pipe'] });
    pre.stdout.pipe(mh.stdin);
    let stderr = '';
    mh.stderr.on('data', (d) => (stderr += d));
    mh.on('error', reject);
    mh.on('close', (code) => resolve({ code, stderr }));
  });
  t.equal(r.code, 0, r.stderr);
  t.ok(readFileSync(at('stdin.arrow')).equals(readFileSync(at('m.arrow'))), 'stdin = shards');
});

t.test('an input without categorical columns is a clear error', async (t) => {
  const cols: Record<string, Uint8Array | Float32Array> = { label: new Uint8Array([0, 1]) };
  for (const name of DENSE_NAMES) cols[name] = new Float32Array([1, 2]);
  const dense = tableToIPC(tableFromArrays(cols), 'stream');
  const r = await pipeline(['minhash', '--input', '-', '--out', at('x.arrow')], dense);
  t.equal(r.code, 1);
  t.match(r.stderr, /no categorical column c1: the MinHash mapping needs c1\.\.c26/);
  await t.rejects(fsp.stat(at('x.arrow')), 'nothing written');
});

t.test('bad options and files: usage errors with exit code 2, clear messages', async (t) => {
  let r = await pipeline(['minhash', '--input', shards, '--out', at('y.arrow'), '--dim', '0']);
  t.equal(r.code, 2, r.stderr);
  t.match(r.stderr, /Invalid option dim: must be an integer in 1\.\.65536, got "0"/);
  r = await pipeline(['minhash', '--input', shards, '--merge', at('p0.arrow'), '--out', at('y.arrow')]);
  t.equal(r.code, 2);
  t.match(r.stderr, /exactly one of --input and --merge/);
  r = await pipeline(['minhash', '--input', shards, '--part', '3/3', '--out', at('y.arrow')]);
  t.match(r.stderr, /Invalid option part/);
  r = await pipeline(['minhash', '--merge', at('m.arrow'), '--out', at('y.arrow')]);
  t.equal(r.code, 1);
  t.match(r.stderr, /m\.arrow: not a scma-sample file/);
  r = await pipeline(['minhash', '--help']);
  t.equal(r.code, 0);
  t.match(r.stdout, /--num-hash K/);
});

t.test('--input -: a truncated Arrow stream or raw TSV on stdin fails clearly, writing nothing', async (t) => {
  const { arrowStreamBytes } = await import('../../helpers/arrow-bytes.js');
  const whole = await arrowStreamBytes(500, 100);
  const ok = await pipeline(['minhash', '--input', '-', '--out', at('whole.arrow'), '--dim', '4', '-q'], whole);
  t.equal(ok.code, 0, ok.stderr);
  t.match(JSON.parse(ok.stdout), { kind: 'mapping', inputRows: 500 });
  const cut = await pipeline(['minhash', '--input', '-', '--out', at('cut.arrow'), '--dim', '4', '-q'], whole.subarray(0, Math.floor(whole.length * 0.7)));
  t.equal(cut.code, 1);
  t.match(cut.stderr, /pipeline minhash: <stdin>: the Arrow IPC stream stopped after \d+ bytes without its end-of-stream marker/);
  await t.rejects(fsp.stat(at('cut.arrow')), 'nothing written');
  const tsv = await pipeline(['minhash', '--input', '-', '--out', at('tsv.arrow'), '-q'], readFileSync(SAMPLE_10K));
  t.equal(tsv.code, 1);
  t.match(tsv.stderr, /<stdin>: not an Arrow IPC stream: it starts with text .*like raw TSV rows: run them through `pipeline preprocess --input - --to -` first/);
  t.notMatch(tsv.stderr, /metadata bytes/);
  await t.rejects(fsp.stat(at('tsv.arrow')), 'nothing written');
});
