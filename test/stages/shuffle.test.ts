import t from 'tap';
import { ShuffleBuffer, shuffleBatches, shuffleStream, SeededRandom } from '../../stages/shuffle.js';
import { numberedBatches, rowIds } from '../helpers/train-data.js';
import { NUM_CAT, NUM_DENSE, type FeatureBatch } from '../../core/schema.js';
import { Readable } from 'node:stream';

async function collect(it: AsyncIterable<FeatureBatch>): Promise<FeatureBatch[]> {
  const out: FeatureBatch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

t.test('validates options at construction', async (t) => {
  t.throws(() => new ShuffleBuffer({ capacity: -1 }), /Invalid option shuffle-buffer: must be a non-negative integer, got -1/);
  t.throws(() => new ShuffleBuffer({ seed: 1.5 }), /Invalid option seed/);
});

t.test('output is a permutation of the input, rows intact', async (t) => {
  const out = await collect(shuffleBatches(numberedBatches(1000, 64), { capacity: 100, seed: 5 }));
  const ids = rowIds(out);
  t.equal(ids.length, 1000);
  t.same([...ids].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  t.not(ids.join(','), Array.from({ length: 1000 }, (_, i) => i).join(','), 'order changed');
  // every column of a row travels together
  for (const b of out)
    for (let i = 0; i < b.rows; i++) {
      const r = Math.round(b.dense[0][i]);
      for (let k = 0; k < NUM_DENSE; k++) if (b.dense[k][i] !== Math.fround(r + k / 100)) t.fail(`row ${r} dense ${k}`);
      for (let k = 0; k < NUM_CAT; k++) if (b.cats[k][i] !== ((r * 31 + k) >>> 0)) t.fail(`row ${r} cat ${k}`);
      if (b.label![i] !== (r % 3 === 0 ? 1 : 0)) t.fail(`row ${r} label`);
    }
});

t.test('deterministic by seed, independent of input chunking; other seeds differ', async (t) => {
  const a = rowIds(await collect(shuffleBatches(numberedBatches(500, 7), { capacity: 64, seed: 1 })));
  const b = rowIds(await collect(shuffleBatches(numberedBatches(500, 123), { capacity: 64, seed: 1 })));
  const c = rowIds(await collect(shuffleBatches(numberedBatches(500, 7), { capacity: 64, seed: 2 })));
  t.same(a, b);
  t.notSame(a, c);
});

t.test('buffer stays bounded: a row moves at most about capacity x (a few) positions early', async (t) => {
  const cap = 50;
  const buf = new ShuffleBuffer({ capacity: cap, seed: 3 });
  for (const b of numberedBatches(2000, 100)) {
    buf.push(b);
    if (buf.buffered > cap) t.fail(`buffer holds ${buf.buffered}`);
  }
  // a row can only leave after it entered: output position >= input position - capacity
  const ids = rowIds(await collect(shuffleBatches(numberedBatches(2000, 100), { capacity: cap, seed: 3 })));
  ids.forEach((r, pos) => {
    if (pos < r - cap) t.fail(`row ${r} emitted at ${pos}`);
  });
});

t.test('shuffles well: mean displacement grows with capacity, positions look uniform in a full buffer', async (t) => {
  // With capacity >= input size, the result is a uniform permutation: each of 10 rows
  // lands first with probability 1/10.
  const firsts = new Array(10).fill(0);
  const trials = 4000;
  for (let s = 0; s < trials; s++) {
    const out = await collect(shuffleBatches(numberedBatches(10, 10), { capacity: 10, seed: s }));
    firsts[Math.round(out[0].dense[0][0])]++;
  }
  const chi2 = firsts.reduce((acc, o) => acc + (o - trials / 10) ** 2 / (trials / 10), 0);
  t.ok(chi2 < 27.9, `chi-square ${chi2.toFixed(1)} (9 dof, p=0.001 cut 27.9)`);
});

t.test('capacity 0 passes rows through in order', async (t) => {
  t.same(rowIds(await collect(shuffleBatches(numberedBatches(30, 7), { capacity: 0 }))), Array.from({ length: 30 }, (_, i) => i));
});

t.test('exported state resumes the exact same order', async (t) => {
  const batches = numberedBatches(600, 50);
  const whole = rowIds(await collect(shuffleBatches(batches, { capacity: 80, seed: 9 })));
  const first = new ShuffleBuffer({ capacity: 80, seed: 9 });
  const part: FeatureBatch[] = [];
  for (const b of batches.slice(0, 5)) part.push(first.push(b));
  const state = first.exportState();
  const second = new ShuffleBuffer({ capacity: 80, seed: 12345 });
  second.importState(state);
  for (const b of batches.slice(5)) part.push(second.push(b));
  part.push(second.flush());
  t.same(rowIds(part), whole);
});

t.test('stream form applies the same order and propagates errors', async (t) => {
  const viaStream = await collect(Readable.from(numberedBatches(300, 40)).pipe(shuffleStream({ capacity: 32, seed: 4 })));
  const viaIter = await collect(shuffleBatches(numberedBatches(300, 40), { capacity: 32, seed: 4 }));
  t.same(rowIds(viaStream), rowIds(viaIter));
  const s = shuffleStream({ capacity: 4 });
  const mixed = [...numberedBatches(5, 5, true), ...numberedBatches(5, 5, false)];
  await t.rejects(collect(Readable.from(mixed).pipe(s)), /all labeled or all unlabeled/);
});

t.test('SeededRandom is uniform enough and reproducible from its state', async (t) => {
  const r = new SeededRandom(42);
  r.next();
  const copy = new SeededRandom(0);
  copy.state = r.state;
  t.equal(r.next(), copy.next());
  let sum = 0;
  for (let i = 0; i < 100000; i++) sum += r.next();
  t.ok(Math.abs(sum / 100000 - 0.5) < 0.005);
});
