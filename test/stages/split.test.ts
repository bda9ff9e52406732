import t from 'tap';
import { parseSplit, planSplit, requireTotal, selectRows, TailHoldback } from '../../stages/split.js';
import { numberedBatches, rowIds } from '../helpers/train-data.js';
import type { FeatureBatch } from '../../core/schema.js';

t.test('option validation', async (t) => {
  t.throws(() => parseSplit({ split: 'days' }), /Invalid option split: must be "dlrm" or "dlrm-terabyte", got "days"/);
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

t.test("dlrm-terabyte: DLRM's memory-map split of day files, from the manifest's per-file row counts", async (t) => {
  const { resolveDaySplit } = await import('../../stages/split.js');
  const { rowsPerInput } = await import('../../io/manifest.js');
  t.same(parseSplit({ split: 'dlrm-terabyte' }), { kind: 'dlrm-terabyte' });
  // The last day of 7 rows: test is the first ceil(7/2) = 4, validation the other 3.
  t.same(planSplit({ kind: 'dlrm-terabyte', lastDayRows: 7 }, 30), { total: 30, train: { start: 0, end: 23 }, test: { start: 23, end: 27 }, val: { start: 27, end: 30 } });
  t.throws(() => planSplit({ kind: 'dlrm-terabyte' }, 30), { code: 'ERR_SPLIT_NEEDS_COUNT' });
  t.throws(() => requireTotal({ kind: 'dlrm-terabyte' }, undefined, '-'), /--split dlrm-terabyte needs the total row count/);

  // Three day files, given relative ('data/day_0.gz') and recorded resolved; a shard spans days 0 and 1.
  const config = { inputs: ['/w/data/day_0.gz', '/w/data/day_1.gz', '/w/data/day_2.gz'], inputBytes: [1, 1, 1], format: 'arrow' as const, shardRows: 12, buckets: null, labeled: true, onBadRow: 'skip' as const, seed: 0, version: 1 };
  const shard = (rows: number, source: { file: string; firstLine: number; lastLine: number; rows?: number }[]) => ({ file: 'p', rows, firstRow: 0, bytes: 1, source });
  const manifest = {
    version: 1, format: 'arrow' as const, rows: 30, labeled: true, complete: true, config,
    shards: [
      shard(12, [{ file: 'data/day_0.gz', firstLine: 1, lastLine: 11, rows: 10 }, { file: 'data/day_1.gz', firstLine: 1, lastLine: 2, rows: 2 }]),
      shard(12, [{ file: 'data/day_1.gz', firstLine: 3, lastLine: 13, rows: 11 }, { file: 'data/day_2.gz', firstLine: 1, lastLine: 1, rows: 1 }]),
      shard(6, [{ file: 'data/day_2.gz', firstLine: 2, lastLine: 7, rows: 6 }]),
    ],
  };
  t.same(rowsPerInput(manifest), [10, 13, 7], 'rows per file, not lines (a skipped bad row in day_0)');
  const explicit = resolveDaySplit({ kind: 'dlrm-terabyte' }, manifest, 'shards/');
  t.same(explicit.spec, { kind: 'dlrm-terabyte', lastDayRows: 7 });
  const detected = resolveDaySplit({ kind: 'dlrm' }, manifest, 'shards/');
  t.same(detected.spec, { kind: 'dlrm-terabyte', lastDayRows: 7 }, '--split dlrm on day files is the Terabyte split');
  t.match(detected.note, /inputs are day files.*2 day files train \(day_0\.gz\.\.day_1\.gz, 23 rows\); day_2\.gz \(7 rows\) is halved into test \(4\) and validation \(3\)/);
  const kaggle = { ...manifest, config: { ...config, inputs: ['/w/train.txt', '/w/more.txt', '/w/x.txt'] } };
  t.same(resolveDaySplit({ kind: 'dlrm' }, kaggle, 'shards/').spec, { kind: 'dlrm' }, 'other files keep the 7-day split');
  const one = { ...manifest, config: { ...config, inputs: ['/w/data/day_0.gz'] } };
  t.throws(() => resolveDaySplit({ kind: 'dlrm-terabyte' }, one, 'shards/'), /needs shards made from two or more day files/);
  // A manifest before per-source row counts: line counts, exact when nothing was rejected.
  const old = { ...manifest, shards: manifest.shards.map((s) => ({ ...s, source: s.source.map(({ rows: _r, ...x }) => x) })) };
  t.equal(rowsPerInput(old), null, 'lines (31) disagree with rows (30): unknown, not wrong');
});
