import t from 'tap';
import { ValueCounter, IdentityVocabulary, encodeVocabulary, decodeVocabulary, OOV_ROW, countValues } from '../../stages/vocab.js';
import { emptyFeatureBatch } from '../../core/schema.js';

t.setTimeout(240_000); // the 2^24 case: ~17M rows x 26 features through the counter, tens of seconds on a loaded machine

function batch(values: number[][]) {
  // values[f] = column f (the rest of the 26 columns: 0)
  const b = emptyFeatureBatch(values[0].length);
  values.forEach((col, f) => b.cats[f].set(col));
  return b;
}

t.test('count reduce: contiguous rows per feature, rare and unseen values to the OOV row', async (t) => {
  const c = await countValues((async function* () {
    yield batch([[5, 5, 9, 7], [1, 1, 1, 1]]);
    yield batch([[9, 5, 11, 7], [2, 1, 1, 3]]);
  })());
  t.same(c.distinct().slice(0, 3), [4, 3, 1]);
  t.equal(c.rows, 8);
  const v = c.vocabulary({ minCount: 2 });
  t.equal(v.size(0), 4, '5, 7, 9 kept + OOV');
  const rows = [5, 7, 9].map((x) => v.index(0, x));
  t.same([...rows].sort(), [1, 2, 3]);
  t.equal(v.index(0, 11), OOV_ROW, 'rare');
  t.equal(v.index(0, 12345), OOV_ROW, 'unseen');
  t.equal(v.size(1), 2, 'only 1 has count >= 2');
  t.equal(v.index(1, 2), OOV_ROW);
  const all = c.vocabulary();
  t.equal(all.size(0), 5);
  t.not(all.index(0, 11), OOV_ROW);
  t.throws(() => c.vocabulary({ minCount: 0 }), /Invalid option min-count/);
});

t.test('merge of partial counts equals one pass', async (t) => {
  const a = new ValueCounter();
  a.add(batch([[1, 2, 3]]));
  const b = new ValueCounter();
  b.add(batch([[3, 4, 4]]));
  a.merge(b);
  const one = new ValueCounter();
  one.add(batch([[1, 2, 3, 3, 4, 4]]));
  t.same(a.counts[0].entries(), one.counts[0].entries());
  t.same(a.counts[0].entries(), [[1, 1], [2, 1], [3, 2], [4, 2]]);
});

t.test('vocabulary round-trips through its binary form', async (t) => {
  const c = new ValueCounter();
  c.add(batch([[10, 20, 30, 20], [7, 7, 8, 9]]));
  const v = c.vocabulary();
  const back = decodeVocabulary(encodeVocabulary(v));
  for (const [f, x] of [[0, 10], [0, 20], [0, 30], [0, 99], [1, 8], [2, 0]]) t.equal(back.index(f, x), v.index(f, x));
  t.equal(back.totalRows(), v.totalRows());
});

t.test('identity vocabulary for bucketed ids', async (t) => {
  const v = new IdentityVocabulary(1000);
  t.equal(v.size(0), 1000);
  t.equal(v.index(3, 999), 999);
  t.equal(v.totalRows(), 26000);
  t.throws(() => new IdentityVocabulary(0), /Invalid option buckets/);
  const per = new IdentityVocabulary(Array.from({ length: 26 }, (_, f) => f + 2));
  t.equal(per.size(3), 5);
  t.equal(per.index(3, 4), 4);
  t.throws(() => new IdentityVocabulary([1, 2]), /Invalid option buckets/);
});

t.test('more than 2^24 distinct ids in one feature: counted, kept and looked up exactly (a Map stopped at 2^24)', async (t) => {
  const n = 2 ** 24 + 50_000;
  const id = (r: number) => Math.imul(r, 0x9e3779b1) >>> 0; // a bijection: n distinct ids
  const chunk = 1 << 20;
  const counter = new ValueCounter();
  const b = emptyFeatureBatch(chunk);
  for (let start = 0; start < n; start += chunk) {
    b.rows = Math.min(chunk, n - start);
    for (let i = 0; i < b.rows; i++) {
      b.cats[0][i] = id(start + i);
      b.cats[1][i] = (start + i) % 7;
    }
    counter.add(b);
  }
  // The first 1000 rows once more: their ids are seen twice.
  b.rows = 1000;
  for (let i = 0; i < 1000; i++) {
    b.cats[0][i] = id(i);
    b.cats[1][i] = i % 7;
  }
  counter.add(b);
  const distinct = counter.distinct();
  t.equal(distinct[0], n, 'feature 0: every id');
  t.equal(distinct[1], 7);
  t.equal(distinct[2], 1, 'an all-zero column: one value');
  const twice = counter.vocabulary({ minCount: 2 });
  t.equal(twice.size(0), 1001, 'min-count 2 keeps the 1000 ids seen twice');
  const vocab = counter.vocabulary();
  counter.counts.length = 0; // drop the counts (256 MiB) before checking the vocabulary
  t.equal(vocab.size(0), n + 1, 'one row per id plus the OOV row');
  const keys = vocab.keys[0];
  let unsorted = 0;
  for (let i = 1; i < keys.length; i++) if (keys[i - 1] >= keys[i]) unsorted++;
  t.equal(unsorted, 0, 'rows in ascending id order');
  let wrong = 0;
  for (let j = 0; j < keys.length; j += 997) if (vocab.index(0, keys[j]) !== j + 1) wrong++;
  t.equal(wrong, 0, 'every 997th id maps to its row');
  t.equal(vocab.index(0, id(n)), OOV_ROW, 'an id never seen: the OOV row');
  t.equal(vocab.index(1, 6), 7);
});

t.test('countDistinct: the exact counts below its limit, a HyperLogLog estimate within 3% past it', async (t) => {
  const { countDistinct, countValues } = await import('../../stages/vocab.js');
  const { numberedBatches } = await import('../helpers/train-data.js');
  const { mulberry32 } = await import('../../core/hash.js');
  const rng = mulberry32(11);
  const batches = numberedBatches(60_000, 5000);
  for (const b of batches) for (let f = 0; f < b.cats.length; f++) for (let i = 0; i < b.rows; i++) b.cats[f][i] = f === 0 ? Math.floor(rng() * 2 ** 32) : Math.floor(rng() * (f * 1000 + 1));
  const exact = (await countValues((async function* () { yield* batches; })())).distinct();
  const small = await countDistinct(batches);
  t.same(small.distinct, exact, 'under the limit: the same numbers as ValueCounter');
  t.ok(small.exact);
  t.equal(small.rows, 60_000);
  // Past a limit of 1000, features with more distinct values are estimated.
  const est = await countDistinct(batches, 1000);
  t.notOk(est.exact);
  let estimated = 0;
  for (let f = 0; f < exact.length; f++) {
    if (exact[f] <= 1000) t.equal(est.distinct[f], exact[f], `c${f + 1}: exact under the limit`);
    else {
      estimated++;
      const rel = Math.abs(est.distinct[f] - exact[f]) / exact[f];
      if (rel > 0.03) t.fail(`c${f + 1}: estimate ${est.distinct[f]} vs ${exact[f]} (${(rel * 100).toFixed(2)}%)`);
    }
  }
  t.ok(estimated >= 20, `${estimated} features estimated, each within 3% (4 standard errors)`);
});
