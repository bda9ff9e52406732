import t from 'tap';
import { Batcher, batchRows, batcherStream } from '../../stages/batcher.js';
import { numberedBatches } from '../helpers/train-data.js';
import { NUM_CAT, NUM_DENSE } from '../../core/schema.js';
import type { TrainBatch } from '../../model/types.js';
import { Readable } from 'node:stream';

async function collect(it: AsyncIterable<TrainBatch>): Promise<TrainBatch[]> {
  const out: TrainBatch[] = [];
  for await (const b of it) out.push(b);
  return out;
}
const ids = (bs: TrainBatch[]) => bs.flatMap((b) => Array.from({ length: b.rows }, (_, i) => Math.round(b.dense[i * NUM_DENSE])));

t.test('validates the batch size', async (t) => {
  t.throws(() => new Batcher({ batchSize: 0 }), /Invalid option mini-batch-size: must be a positive integer, got 0/);
});

t.test('fixed-size row-major batches across input chunk boundaries, remainder flushed at end', async (t) => {
  const out = await collect(batchRows(numberedBatches(1000, 77), { batchSize: 128 }));
  t.same(out.map((b) => b.rows), [128, 128, 128, 128, 128, 128, 128, 104]);
  t.same(ids(out), Array.from({ length: 1000 }, (_, i) => i));
  for (const b of out) {
    t.equal(b.dense.length, b.rows * NUM_DENSE);
    t.equal(b.cats.length, b.rows * NUM_CAT);
    t.equal(b.label!.length, b.rows);
    for (let i = 0; i < b.rows; i++) {
      const r = Math.round(b.dense[i * NUM_DENSE]);
      if (b.cats[i * NUM_CAT + 25] !== ((r * 31 + 25) >>> 0) || b.dense[i * NUM_DENSE + 12] !== Math.fround(r + 0.12) || b.label![i] !== (r % 3 === 0 ? 1 : 0)) t.fail(`row ${r}`);
    }
  }
});

t.test('drops the remainder when asked; exact multiples have no remainder', async (t) => {
  t.same((await collect(batchRows(numberedBatches(1000, 77), { batchSize: 128, dropRemainder: true }))).map((b) => b.rows), [128, 128, 128, 128, 128, 128, 128]);
  t.same((await collect(batchRows(numberedBatches(256, 100), { batchSize: 128 }))).map((b) => b.rows), [128, 128]);
  t.same((await collect(batchRows(numberedBatches(0, 1), { batchSize: 128 }))).length, 0);
});

t.test('unlabeled input gives batches without labels', async (t) => {
  const out = await collect(batchRows(numberedBatches(10, 3, false), { batchSize: 4 }));
  t.equal(out[0].label, undefined);
  t.same(out.map((b) => b.rows), [4, 4, 2]);
});

t.test('stream form', async (t) => {
  const out = await collect(Readable.from(numberedBatches(300, 40)).pipe(batcherStream({ batchSize: 64 })));
  t.same(out.map((b) => b.rows), [64, 64, 64, 64, 44]);
  t.same(ids(out), Array.from({ length: 300 }, (_, i) => i));
});
