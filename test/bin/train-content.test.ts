/**
 * train reads what it was given, checked (issue 9):
 *  - --resume is keyed on content, not paths: a different mapping (or a different
 *    input) at the same path is refused naming the file; the same mapping or shards
 *    under another path resume;
 *  - a damaged shard fails train naming the file and the shard; --no-verify reads it.
 */
import t from 'tap';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SAMPLE_1K, SAMPLE_10K } from '../helpers/samples.js';
import { runPipeline, summaryOf } from '../helpers/cli.js';
import { readFeatureBatches } from '../../io/read-shards.js';

t.setTimeout(600_000); // child processes on a loaded 2-core machine
const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'train-content-'));
t.teardown(() => fsp.rm(tmp, { recursive: true, force: true }));

async function pipelineOk(args: string[]) {
  const r = await runPipeline(args);
  if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  return r;
}

const shards = path.join(tmp, 'shards');
await pipelineOk(['preprocess', '--input', SAMPLE_1K, '--out', shards, '--format', 'arrow', '-q']);

const SMALL = ['--memory-floats', '4000', '--arch-sparse-feature-size', '4', '--arch-mlp-bot', '13-8-4', '--arch-mlp-top', '8-1',
  '--mini-batch-size', '100', '--test-fraction', '0.2', '--shuffle-buffer', '100', '--seed', '5', '--backend', 'wasm', '--print-freq', '1000'];

t.test('--resume: a different mapping at the same path is refused naming it; the same mapping elsewhere resumes', async (t) => {
  const mapA = path.join(tmp, 'map-a.arrow');
  const mapB = path.join(tmp, 'map-b.arrow');
  await pipelineOk(['minhash', '--input', shards, '--out', mapA, '--dim', '4', '--seed', '1', '-q']);
  await pipelineOk(['minhash', '--input', shards, '--out', mapB, '--dim', '4', '--seed', '2', '-q']);
  const map = path.join(tmp, 'map.arrow');
  await fsp.copyFile(mapA, map);
  const out = path.join(tmp, 'scma');
  const args = (m: string, input = shards) => ['train', '--input', input, '--embedding', 'scma', '--mapping', m, ...SMALL, '--out', out, '--resume'];
  const first = await runPipeline(args(map));
  t.equal(first.code, 0, first.stderr);

  await fsp.copyFile(mapB, map); // same path, other contents
  const swapped = await runPipeline(args(map));
  t.equal(swapped.code, 1, swapped.stderr);
  t.match(swapped.stderr, new RegExp(`^pipeline train: ${map.replace(/[.]/g, '\\.')}: is not the mapping the checkpoint .*checkpoint\\.bin was trained with: its contents differ \\(mapping: "crc32:[0-9a-f]{8}" -> "crc32:[0-9a-f]{8}"\\)`));

  const resumedA = await runPipeline(args(mapA)); // the first mapping under another path
  t.equal(resumedA.code, 0, resumedA.stderr);
  t.match(resumedA.stderr, /resuming from step \d+/);
  t.same(summaryOf(resumedA).test, summaryOf(first).test, 'the same model');

  const moved = path.join(tmp, 'shards-moved');
  await fsp.cp(shards, moved, { recursive: true });
  const resumedMoved = await runPipeline(args(mapA, moved));
  t.equal(resumedMoved.code, 0, 'shards under another path resume: ' + resumedMoved.stderr);
});

t.test('--resume: other rows at the same input path are refused naming the input', async (t) => {
  const input = path.join(tmp, 'in');
  await pipelineOk(['preprocess', '--input', SAMPLE_1K, '--out', input, '-q']);
  const out = path.join(tmp, 'hashnet');
  const args = ['train', '--input', input, '--embedding', 'hashnet', ...SMALL, '--out', out, '--resume'];
  t.equal((await runPipeline(args)).code, 0);
  // 1000 other rows (the first 1000 of another sample): same row count, same path.
  const other = path.join(tmp, 'other.tsv');
  await fsp.writeFile(other, (await fsp.readFile(SAMPLE_10K, 'latin1')).split('\n').slice(0, 1000).join('\n') + '\n', 'latin1');
  await fsp.rm(input, { recursive: true });
  await pipelineOk(['preprocess', '--input', other, '--out', input, '-q']);
  const r = await runPipeline(args);
  t.equal(r.code, 1, r.stderr);
  t.match(r.stderr, new RegExp(`^pipeline train: ${input}: is not the input the checkpoint .* was trained with: its contents differ \\(input: "shards:1:crc32:[0-9a-f]{8}" -> "shards:1:crc32:[0-9a-f]{8}"\\)`));
});

t.test('a damaged shard fails train naming the file and the shard; --no-verify trains on it', async (t) => {
  const damaged = path.join(tmp, 'damaged');
  await fsp.cp(shards, damaged, { recursive: true });
  const shard = (await fsp.readdir(damaged)).find((f) => f.startsWith('part-'))!;
  const file = path.join(damaged, shard);
  // Flip one bit of a categorical id (any uint32 is a valid id), so the file still decodes.
  const [b] = await (async () => {
    const all = [];
    for await (const x of readFeatureBatches(file)) all.push(x);
    return all;
  })();
  const col = b.cats[3];
  const needle = Buffer.from(col.buffer, col.byteOffset, 16);
  const bytes = await fsp.readFile(file);
  const at = bytes.indexOf(needle);
  t.ok(at > 0 && bytes.indexOf(needle, at + 1) === -1, 'the column found once in the file');
  bytes[at + 1] ^= 0x10;
  await fsp.writeFile(file, bytes);

  const args = ['train', '--input', damaged, '--embedding', 'hashnet', ...SMALL];
  const r = await runPipeline(args);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`\\npipeline train: ${file.replace(/[.]/g, '\\.')}, shard ${shard.replace(/[.]/g, '\\.')}: damaged shard: crc32 [0-9a-f]{8}, the manifest says [0-9a-f]{8} \\(--no-verify reads it anyway\\)\\n$`));
  const unchecked = await runPipeline([...args, '--no-verify']);
  t.equal(unchecked.code, 0, unchecked.stderr);
  t.equal(summaryOf(unchecked).trainRows, 800);
});

t.test('a damaged mapping fails train naming it; --no-verify loads it', async (t) => {
  const map = path.join(tmp, 'map-damaged.arrow');
  await pipelineOk(['minhash', '--input', shards, '--out', map, '--dim', '4', '--seed', '1', '-q']);
  const bytes = await fsp.readFile(map);
  // A byte in the middle of the code column (the bulk of the file): still a valid code.
  bytes[Math.floor(bytes.length * 0.6)] ^= 0x01;
  await fsp.writeFile(map, bytes);
  const args = ['train', '--input', shards, '--embedding', 'scma', '--mapping', map, ...SMALL];
  const r = await runPipeline(args);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`${map.replace(/[.]/g, '\\.')}: damaged mapping file`));
  const unchecked = await runPipeline([...args, '--no-verify']);
  t.equal(unchecked.code, 0, unchecked.stderr);
});
