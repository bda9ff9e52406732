import t from 'tap';
import { ShuffleBatcher, shuffledTrainBatches } from '../../stages/shuffle-batcher.js';
import { shuffleBatches } from '../../stages/shuffle.js';
import { batchRows } from '../../stages/batcher.js';
import { numberedBatches } from '../helpers/train-data.js';
import { mulberry32 } from '../../core/hash.js';
import { NUM_CAT, NUM_DENSE, type FeatureBatch, type TrainBatch } from '../../core/schema.js';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const b of it) out.push(b);
  return out;
}

/** Random values (not row-derived), ragged chunks: any mix-up of rows, columns or order shows. */
function randomBatches(total: number, seed: number, labeled: boolean): FeatureBatch[] {
  const rng = mulberry32(seed);
  const sizes: number[] = [];
  for (let left = total; left > 0; ) {
    const n = Math.min(left, 1 + Math.floor(rng() * 300));
    sizes.push(n);
    left -= n;
  }
  const out = numberedBatches(0, 1, labeled);
  for (const n of sizes) {
    const [b] = numberedBatches(n, n, labeled);
    for (let k = 0; k < NUM_DENSE; k++) for (let i = 0; i < n; i++) b.dense[k][i] = rng() * 100 - 20;
    for (let k = 0; k < NUM_CAT; k++) for (let i = 0; i < n; i++) b.cats[k][i] = Math.floor(rng() * 2 ** 32);
    if (b.label) for (let i = 0; i < n; i++) b.label[i] = rng() < 0.3 ? 1 : 0;
    out.push(b);
  }
  return out;
}

function same(t: { fail(m: string): unknown; pass(m: string): unknown; equal(a: unknown, b: unknown, m: string): unknown }, a: TrainBatch[], b: TrainBatch[], what: string): void {
  t.equal(a.length, b.length, `${what}: batch count`);
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i], y = b[i];
    if (x.rows !== y.rows || Buffer.compare(Buffer.from(x.dense.buffer, x.dense.byteOffset, x.rows * NUM_DENSE * 4), Buffer.from(y.dense.buffer, y.dense.byteOffset, y.rows * NUM_DENSE * 4)) !== 0
      || Buffer.compare(Buffer.from(x.cats.buffer, x.cats.byteOffset, x.rows * NUM_CAT * 4), Buffer.from(y.cats.buffer, y.cats.byteOffset, y.rows * NUM_CAT * 4)) !== 0
      || (x.label === undefined) !== (y.label === undefined) || (x.label && y.label && x.label.join() !== y.label.join())) {
      t.fail(`${what}: batch ${i} differs`);
      return;
    }
  }
  t.pass(`${what}: identical`);
}

t.test('the same batches, bit for bit, as batchRows(shuffleBatches(...)) for any capacity, batch size and chunking', async (t) => {
  let cases = 0;
  for (const labeled of [true, false])
    for (const capacity of [0, 1, 2, 7, 100, 1000, 5000])
      for (const batchSize of [1, 64, 333, 2048]) {
        const seed = cases * 7919 + 3;
        const input = randomBatches(3000, seed, labeled);
        const want = await collect(batchRows(shuffleBatches(input, { capacity, seed }), { batchSize }));
        const got = await collect(shuffledTrainBatches(input, { capacity, seed, batchSize }));
        same(t, got, want, `labeled ${labeled} capacity ${capacity} batch ${batchSize}`);
        cases++;
      }
  t.equal(cases, 56);
});

t.test('a shuffle happens, and every row arrives once with its columns together', async (t) => {
  const out = await collect(shuffledTrainBatches(numberedBatches(1000, 64), { capacity: 100, seed: 5, batchSize: 128 }));
  const ids = out.flatMap((b) => Array.from({ length: b.rows }, (_, i) => b.dense[i * NUM_DENSE]));
  t.same([...ids].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  t.not(ids.join(), Array.from({ length: 1000 }, (_, i) => i).join(), 'order changed');
  for (const b of out)
    for (let i = 0; i < b.rows; i++) {
      const r = b.dense[i * NUM_DENSE];
      for (let k = 0; k < NUM_CAT; k++) if (b.cats[i * NUM_CAT + k] !== ((r * 31 + k) >>> 0)) return t.fail(`row ${r} cat ${k}`);
      if (b.label![i] !== (r % 3 === 0 ? 1 : 0)) return t.fail(`row ${r} label`);
    }
  t.equal(out.at(-1)!.rows, 1000 % 128, 'the remainder is the last, shorter batch');
});

t.test('bad options and mixed labeled/unlabeled input are refused', async (t) => {
  t.throws(() => new ShuffleBatcher({ capacity: -1, batchSize: 8 }), /shuffle-buffer/);
  t.throws(() => new ShuffleBatcher({ seed: 0.5, batchSize: 8 }), /seed/);
  t.throws(() => new ShuffleBatcher({ batchSize: 0 }), /mini-batch-size/);
  const sb = new ShuffleBatcher({ capacity: 10, batchSize: 4 });
  sb.push(numberedBatches(5, 5, true)[0]);
  t.throws(() => sb.push(numberedBatches(5, 5, false)[0]), /labeled/);
});
