import t from 'tap';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeSynth } from '../../input/synth.js';
import { preprocess } from '../../pipeline/preprocess.js';
import { train } from '../../pipeline/train.js';
import { inputThreadAvailable, threadedTrainBatches } from '../../pipeline/train/input-thread.js';
import { readFeatureBatches } from '../../io/read-shards.js';
import { selectRows } from '../../stages/split.js';
import { shuffledTrainBatches } from '../../stages/shuffle-batcher.js';
import type { TrainBatch } from '../../core/schema.js';

async function collect(it: AsyncIterable<TrainBatch>): Promise<TrainBatch[]> {
  const out: TrainBatch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'input-thread-'));
t.teardown(() => fsp.rm(tmp, { recursive: true, force: true }));
const tsv = path.join(tmp, 'synth.tsv');
await writeSynth({ rows: 3000, seed: 5, out: tsv });
const shards = path.join(tmp, 'shards');
await preprocess({ inputs: [tsv], out: shards, format: 'arrow', shardRows: 700, concurrency: 0 });

t.test('the worker is found in the compiled package', async (t) => {
  t.ok(inputThreadAvailable());
});

t.test('the worker thread yields the in-thread batches, in order, bit for bit', async (t) => {
  const range = { start: 250, end: 2710 };
  for (const [capacity, batchSize] of [[0, 128], [500, 256], [10_000, 333]]) {
    const want = await collect(shuffledTrainBatches(selectRows(readFeatureBatches(shards), range), { capacity, seed: 9, batchSize }));
    const got = await collect(threadedTrainBatches({ input: shards, range, verify: true, capacity, seed: 9, batchSize }, 2));
    t.equal(got.length, want.length, `capacity ${capacity}: batch count`);
    t.ok(
      got.every((b, i) => b.rows === want[i].rows && Buffer.from(b.cats.buffer, b.cats.byteOffset, b.cats.byteLength).equals(Buffer.from(want[i].cats.buffer, want[i].cats.byteOffset, want[i].cats.byteLength)) && b.dense.every((x, k) => Object.is(x, want[i].dense[k])) && b.label!.every((x, k) => x === want[i].label![k])),
      `capacity ${capacity} batch ${batchSize}: identical batches`,
    );
  }
});

t.test('a consumer that stops early ends the worker; a damaged shard fails with its code and file', async (t) => {
  const it = threadedTrainBatches({ input: shards, range: { start: 0, end: 3000 }, verify: true, capacity: 100, seed: 1, batchSize: 64 }, 2);
  const first = await it.next();
  t.equal(first.value!.rows, 64);
  await it.return(undefined);

  const bad = path.join(tmp, 'bad');
  await fsp.cp(shards, bad, { recursive: true });
  const shard = path.join(bad, 'part-00002.arrow');
  const bytes = await fsp.readFile(shard);
  for (let i = 2000; i < 2064; i++) bytes[i] ^= 0xff;
  await fsp.writeFile(shard, bytes);
  await t.rejects(collect(threadedTrainBatches({ input: bad, range: { start: 0, end: 3000 }, verify: true, capacity: 0, seed: 1, batchSize: 64 })), { code: 'ERR_CHECKSUM', message: /part-00002\.arrow/ });
});

t.test('train gives the same model and metrics with the input on a worker thread and on the main thread', async (t) => {
  const run = (inputThread: boolean) =>
    train({ input: shards, embedding: 'hashnet', backend: 'cpu', batchSize: 128, epochs: 1, shuffleBuffer: 1000, seed: 3, split: { kind: 'fraction', test: 0.2, val: 0 }, inputThread, log: () => {} });
  const a = await run(true);
  const b = await run(false);
  t.equal(a.steps, b.steps);
  t.equal(a.finalTrainLoss, b.finalTrainLoss, "the final training loss, exactly");
  t.ok(a.finalTrainLoss !== null && a.test !== null, "there was a loss and a test set to compare");
  t.same(a.test, b.test, 'test metrics, exactly');
});
