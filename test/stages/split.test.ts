import t from 'tap';
import { parseSplit, planSplit, requireTotal, selectRows, TailHoldback } from '../../stages/split.js';
import { numberedBatches, rowIds } from '../helpers/train-data.js';
import type { FeatureBatch } from '../../core/schema.js';

t.test('option validation', async (t) => {
  t.throws(() => parseSplit({ split: 'days' }), /Invalid option split: must be "dlrm", got "days"/);
  t.throws(() => parseSplit({ testFraction: '1.5' }), /Invalid option test-fraction: must be a number in \[0, 1\), got "1.5"/);
  t.throws(() => parseSplit({ testFraction: 'abc' }), /test-fraction/);
  t.throws(() => parseSplit({ testFraction: '0.6', valFraction: '0.5' }), /val-fraction/);
  t.throws(() => parseSplit({ split: 'dlrm', testFraction: '0.2' }), /cannot be combined/);
  t.same(parseSplit({}), { kind: 'none' });
  t.throws(() => requireTotal({ kind: 'dlrm' }, undefined, '-'), /--split dlrm needs the total row count/);
});

t.test('dlrm split matches np.array_split day sizes and halves the last day test-first', async (t) => {
  // reference: sizes of 7 np.array_split days; last day split in 2 (first half larger)
  for (const n of [0, 1, 6, 7, 13, 100, 10000, 45840617]) {
    const day = Math.floor(n / 7);
    const p = planSplit({ kind: 'dlrm' }, n);
    t.equal(p.train.end, n - day, `n=${n} train`);
    t.equal(p.test.end - p.test.start, Math.ceil(day / 2));
    t.equal(p.val.end - p.val.start, Math.floor(day / 2));
    t.equal(p.test.start, p.train.end);
    t.equal(p.val.start, p.test.end);
    t.equal(p.val.end, n);
  }
  t.same(planSplit({ kind: 'dlrm' }, 10000), { total: 10000, train: { start: 0, end: 8572 }, test: { start: 8572, end: 9286 }, val: { start: 9286, end: 10000 } });
});

t.test('fraction split: last f of rows is test, the v before it validation', async (t) => {
  t.same(planSplit({ kind: 'fraction', test: 0.2, val: 0 }, 10000), { total: 10000, train: { start: 0, end: 8000 }, val: { start: 8000, end: 8000 }, test: { start: 8000, end: 10000 } });
  t.same(planSplit({ kind: 'fraction', test: 0.1, val: 0.1 }, 95), { total: 95, train: { start: 0, end: 75 }, val: { start: 75, end: 85 }, test: { start: 85, end: 95 } });
});

t.test('selectRows takes exactly a global range and stops reading after it', async (t) => {
  let pulled = 0;
  async function* src() {
    for (const b of numberedBatches(1000, 64)) {
      pulled++;
      yield b;
    }
  }
  const out: FeatureBatch[] = [];
  for await (const b of selectRows(src(), { start: 100, end: 300 })) out.push(b);
  t.same(rowIds(out), Array.from({ length: 200 }, (_, i) => 100 + i));
  t.equal(pulled, 5, 'stopped after the batch holding row 299');
});

t.test('TailHoldback on a stream of unknown length gives the same split as the known-length plan', async (t) => {
  for (const [n, chunk, f, v] of [[1000, 37, 0.2, 0], [999, 1, 0.1, 0.15], [10, 3, 0.5, 0], [3, 5, 0.2, 0.2]] as const) {
    const h = new TailHoldback({ test: f, val: v });
    const train: FeatureBatch[] = [];
    for (const b of numberedBatches(n, chunk)) {
      const r = h.push(b);
      if (r) train.push(r);
    }
    const end = h.finish();
    if (end.train) train.push(end.train);
    const plan = planSplit({ kind: 'fraction', test: f, val: v }, n);
    const range = (r: { start: number; end: number }) => Array.from({ length: r.end - r.start }, (_, i) => r.start + i);
    t.same(rowIds(train), range(plan.train), `n=${n} train`);
    t.same(rowIds([end.val]), range(plan.val), `n=${n} val`);
    t.same(rowIds([end.test]), range(plan.test), `n=${n} test`);
  }
});
