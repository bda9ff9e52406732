import t from 'tap';
import { ValueCounter, IdentityVocabulary, encodeVocabulary, decodeVocabulary, OOV_ROW, countValues } from '../../stages/vocab.js';
import { emptyFeatureBatch } from '../../core/schema.js';

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
  t.same([...a.counts[0]].sort(), [...one.counts[0]].sort());
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
