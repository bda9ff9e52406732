import t from 'tap';
import { buildMapping, MinHashReducer, ScmaMapping } from '../../scma/reduce.js';
import { hashNetCodes } from '../../scma/codes.js';
import { emptyFeatureBatch, NUM_CAT, type FeatureBatch } from '../../core/schema.js';
import { crossCollisions, randomBatches, rebatch, tolerance, uniqueRows } from './helpers.js';

const A = 7;
const B = 9;

/**
 * 120 rows: value A of feature 0 in rows S_A, value B of feature 1 in rows S_B, with
 * |S_A u S_B| = 40 and |S_A n S_B| = 40 J; every other value is unique to its row.
 */
function jaccardInput(j: number): FeatureBatch {
  const b = uniqueRows(120);
  const union = 40;
  const both = Math.round(j * union);
  const onlyA = Math.floor((union - both) / 2);
  // Spread the sets over the rows so positions carry no pattern.
  const rowsOf = (i: number) => 3 * i + 1;
  for (let i = 0; i < union; i++) {
    const r = rowsOf(i);
    if (i < both || i < both + onlyA) b.cats[0][r] = A;
    if (i < both || i >= both + onlyA) b.cats[1][r] = B;
  }
  return b;
}

function codes(m: ScmaMapping, f: number, v: number): Uint32Array {
  const out = new Uint32Array(m.dim);
  m.codesInto(f, v, out, 0);
  return out;
}

t.test('validates options once, at construction', async (t) => {
  t.throws(() => new MinHashReducer({ sample: 0 }), /Invalid option sample: must be an integer in 1\.\.268435456, got 0/);
  t.throws(() => new MinHashReducer({ seed: -1 }), /Invalid option seed/);
  const r = new MinHashReducer({ sample: 10 });
  t.throws(() => r.toMapping({ dim: 0 }), /Invalid option dim/);
  t.throws(() => r.toMapping({ dim: 4, numHash: 0 }), /Invalid option numHash/);
  await t.rejects(buildMapping([], { dim: 2.5 }), /Invalid option dim/);
});

t.test('an input without categorical columns is a clear error', async (t) => {
  const batch: FeatureBatch = { ...emptyFeatureBatch(3), cats: [] };
  await t.rejects(buildMapping([batch], { dim: 4 }), { code: 'ERR_NO_CATEGORICAL', message: /no categorical columns/ });
});

t.test('sample: exactly P rows, uniform over the input, fixed by the seed, independent of batching', async (t) => {
  const input = randomBatches(20_000, 1000, 1);
  const P = 2000;
  const r = new MinHashReducer({ sample: P, seed: 5 });
  for (const b of input) r.add(b);
  const { rows } = r.rowsSorted();
  t.equal(rows.length, P);
  t.equal(new Set(rows).size, P, 'without replacement');
  // Uniform: 10 bins of 2000 input rows each expect 200 sampled rows; chi-square, df 9, p ~ 1e-4.
  const bins = new Array(10).fill(0);
  for (const x of rows) bins[Math.floor(x / 2000)]++;
  const chi2 = bins.reduce((s, c) => s + (c - 200) ** 2 / 200, 0);
  t.ok(chi2 < 33.7, `chi-square ${chi2.toFixed(1)} over bins ${bins}`);

  for (const size of [1, 777, 20_000]) {
    const r2 = new MinHashReducer({ sample: P, seed: 5 });
    for (const b of rebatch(input, size)) r2.add(b);
    t.same(r2.rowsSorted(), r.rowsSorted(), `same sample in batches of ${size}`);
  }
  const other = new MinHashReducer({ sample: P, seed: 6 });
  for (const b of input) other.add(b);
  const overlap = other.rowsSorted().rows.filter((x) => new Set(rows).has(x)).length;
  // Another seed draws another sample: overlap ~ P * P/N = 200.
  t.ok(overlap > 120 && overlap < 280, `overlap between seeds ${overlap}`);
});

t.test('sample keeps every row when the input is smaller than P', async (t) => {
  const r = new MinHashReducer({ sample: 1000 });
  for (const b of randomBatches(300, 64, 2)) r.add(b);
  t.same(Array.from(r.rowsSorted().rows), Array.from({ length: 300 }, (_, i) => i));
  t.equal(r.toMapping({ dim: 4 }).meta.sampledRows, 300);
});

t.test('values in exactly the same rows get the same codes, across features too', async (t) => {
  const b = uniqueRows(50);
  for (const r of [3, 17, 30, 44]) {
    b.cats[2][r] = 11;
    b.cats[20][r] = 12;
  }
  const m = await buildMapping([b], { dim: 16, seed: 3 });
  t.same(codes(m, 2, 11), codes(m, 20, 12));
  t.notSame(codes(m, 2, 11), codes(m, 2, 1_000_000_000 + 2_000_000 + 3), 'but not as a value in one of those rows alone');
});

t.test('P(code_j(u) = code_j(v)) = J^K for sampled row sets with Jaccard J', async (t) => {
  const dim = 32;
  const trials = 120;
  for (const numHash of [1, 2, 3]) {
    for (const j of [0.2, 0.5, 0.8]) {
      const input = jaccardInput(j);
      let equal = 0;
      for (let s = 0; s < trials; s++) {
        const m = await buildMapping([input], { dim, numHash, sample: 1000, seed: 1000 * numHash + s });
        const a = codes(m, 0, A);
        const b = codes(m, 1, B);
        for (let k = 0; k < dim; k++) if (a[k] === b[k]) equal++;
      }
      const n = dim * trials;
      const p = j ** numHash;
      const got = equal / n;
      t.ok(Math.abs(got - p) <= tolerance(p, n), `K=${numHash} J=${j}: ${got.toFixed(4)} vs J^K=${p.toFixed(4)} (+-${tolerance(p, n).toFixed(4)})`);
    }
  }
});

t.test('the Jaccard that counts is over sampled rows only', async (t) => {
  // Rows outside the sample do not move any code: the mapping of the full input equals
  // the mapping of its sampled rows fed at their global indices.
  const input = randomBatches(5000, 1000, 3);
  const r = new MinHashReducer({ sample: 700, seed: 8 });
  for (const b of input) r.add(b);
  const { rows, cats } = r.rowsSorted();
  const only = new MinHashReducer({ sample: 700, seed: 8 });
  only.addSampledRows(rows, cats);
  const m1 = r.toMapping({ dim: 8 });
  const m2 = only.toMapping({ dim: 8 });
  t.same(m2.codes, m1.codes);
  t.same(m2.values, m1.values);
});

t.test('values with disjoint row sets collide only at the plain-hash rate', async (t) => {
  // Feature 0 value v is in rows 5v..5v+4: 800 values with disjoint 5-row sets.
  const b = uniqueRows(4000);
  for (let i = 0; i < 4000; i++) b.cats[0][i] = Math.floor(i / 5) + 1;
  const dim = 16;
  const m = await buildMapping([b], { dim, sample: 4000, seed: 21 });
  const nv = 800;
  const M = 61;
  let raw = 0;
  let modM = 0;
  const col = new Uint32Array(nv);
  for (let j = 0; j < dim; j++) {
    for (let v = 0; v < nv; v++) col[v] = codes(m, 0, v + 1)[j];
    raw += (crossCollisions(col, col, 2 ** 32) - nv) / 2;
    modM += (crossCollisions(col, col, M) - nv) / 2;
  }
  const pairs = ((nv * (nv - 1)) / 2) * dim;
  t.ok(raw <= 1, `uint32 codes equal for ${raw} of ${pairs} pairs`);
  t.ok(Math.abs(modM / pairs - 1 / M) <= tolerance(1 / M, pairs), `mod ${M}: ${(modM / pairs).toFixed(5)} vs ${(1 / M).toFixed(5)}`);
});

t.test('unseen values get hashNetCodes, independent of the sampled values', async (t) => {
  const dim = 16;
  const seed = 77;
  const input = randomBatches(3000, 1000, 4);
  const m = await buildMapping(input, { dim, sample: 3000, seed });
  const hn = hashNetCodes(dim, seed);
  const want = new Uint32Array(dim);
  const got = new Uint32Array(dim + 3);
  for (const [f, v] of [[0, 0], [5, 999_999], [25, 4_000_000_000]]) {
    t.equal(m.indexOf(f, v), -1, `(${f}, ${v}) unseen`);
    hn.codesInto(f, v, want, 0);
    m.codesInto(f, v, got, 3);
    t.same(got.subarray(3), want, `(${f}, ${v}) falls back to HashNet`);
  }
  // Unseen codes against sampled codes: equal mod M at rate 1/M, per dimension.
  const M = 53;
  const sampled = m.meta.values;
  const unseen = 400;
  let hits = 0;
  const xs = new Uint32Array(unseen);
  const ys = new Uint32Array(sampled);
  const buf = new Uint32Array(dim);
  for (let j = 0; j < dim; j++) {
    for (let i = 0; i < unseen; i++) {
      m.codesInto(i % 26, 3_000_000 + i, buf, 0);
      xs[i] = buf[j];
    }
    for (let i = 0; i < sampled; i++) ys[i] = m.codes[i * dim + j];
    hits += crossCollisions(xs, ys, M);
  }
  const n = unseen * sampled * dim;
  t.ok(Math.abs(hits / n - 1 / M) <= tolerance(1 / M, n), `unseen-vs-sampled ${(hits / n).toFixed(5)} vs ${(1 / M).toFixed(5)}`);
  t.ok(sampled > 1000 && m.indexOf(0, input[0].cats[0][0]) >= 0, 'sampled values are in the table');
});

t.test('split-then-merge draws the single-pass sample and mapping', async (t) => {
  const input = randomBatches(9000, 500, 6);
  const opts = { sample: 1500, seed: 12 };
  const whole = new MinHashReducer(opts);
  for (const b of input) whole.add(b);
  // Three parts over disjoint row ranges, each reduced alone with its global row indices.
  const parts = [new MinHashReducer(opts), new MinHashReducer(opts), new MinHashReducer(opts)];
  input.forEach((b, i) => parts[i % 3].add(b, i * 500));
  const merged = parts[2].merge(parts[0]).merge(parts[1]);
  t.same(merged.rowsSorted(), whole.rowsSorted());
  t.equal(merged.inputRows, 9000);
  const a = whole.toMapping({ dim: 8, numHash: 2 });
  const b = merged.toMapping({ dim: 8, numHash: 2 });
  t.same(b.meta, a.meta);
  t.same(b.features, a.features);
  t.same(b.values, a.values);
  t.same(b.codes, a.codes);

  t.throws(() => parts[0].merge(parts[0]), { code: 'ERR_MERGE_OVERLAP' }, 'overlapping parts are refused');
  t.throws(() => whole.merge(new MinHashReducer({ sample: 1500, seed: 13 })), { code: 'ERR_MERGE_MISMATCH' });
});

t.test('the reduce gives the same codes whatever its block size', async (t) => {
  const r = new MinHashReducer({ sample: 800, seed: 2 });
  for (const b of randomBatches(2000, 500, 10)) r.add(b);
  const whole = r.toMapping({ dim: 24, numHash: 3 });
  for (const blockBytes of [1, 800 * 3 * 4 * 5, 800 * 3 * 4 * 7]) {
    t.same(r.toMapping({ dim: 24, numHash: 3, blockBytes }).codes, whole.codes, `blockBytes ${blockBytes}`);
  }
  // And one dimension of a d=24 mapping is the same function as in another run: codes are
  // per (minima, j), so a K=3 value's code j does not depend on the block it was computed in.
  t.equal(whole.codes.length, whole.meta.values * 24);
});

t.test('codesInto writes at the offset and leaves the rest alone', async (t) => {
  const m = await buildMapping(randomBatches(500, 500, 9), { dim: 4, seed: 1 });
  const out = new Uint32Array(12).fill(5);
  const v = m.values[0];
  m.codesInto(m.features[0], v, out, 4);
  t.same(Array.from(out.subarray(0, 4)), [5, 5, 5, 5]);
  t.same(Array.from(out.subarray(8)), [5, 5, 5, 5]);
  t.same(out.subarray(4, 8), m.codes.subarray(0, 4));
  t.equal(NUM_CAT, 26);
});
