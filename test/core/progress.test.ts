import t from 'tap';
import { Progress, formatDuration, formatCount, progressSetting } from '../../core/progress.js';

t.test('lines come by time, with %, rate and ETA when the total is known', async (t) => {
  let now = 0;
  const lines: string[] = [];
  const p = new Progress({ label: 'preprocess', write: (l) => lines.push(l), intervalMs: 10_000, now: () => now });
  now = 5_000;
  t.equal(p.tick(100), false, 'not before the interval');
  now = 10_000;
  t.equal(p.tick(250_000, { total: 1_000_000 }), true);
  t.equal(lines[0], 'preprocess: 25.0% 250,000/1,000,000 rows 25.0k rows/s elapsed 10s ETA 30s');
  now = 15_000;
  t.equal(p.tick(300_000), false);
  now = 20_000;
  p.tick(500_000, { fraction: 0.5, extra: 'file 2/3' });
  t.equal(lines[1], 'preprocess: 50.0% 500,000 rows file 2/3 25.0k rows/s elapsed 20s ETA 20s', 'a byte fraction stands for the percentage');
  now = 30_000;
  p.tick(600_000);
  t.equal(lines[2], 'preprocess: 600,000 rows 20.0k rows/s elapsed 30s', 'no total: no % or ETA');
});

t.test('on by default only on a terminal; --progress / --no-progress decide otherwise', async (t) => {
  t.same(progressSetting(undefined, { isTTY: true }, {}), { enabled: true, intervalMs: 2000 });
  t.same(progressSetting(undefined, { isTTY: false }, {}), { enabled: false, intervalMs: 10_000 });
  t.same(progressSetting(true, {}, {}), { enabled: true, intervalMs: 10_000 });
  t.same(progressSetting(false, { isTTY: true }, {}), { enabled: false, intervalMs: 2000 });
  t.same(progressSetting(true, {}, { PIPELINE_PROGRESS_SECONDS: '60' }), { enabled: true, intervalMs: 60_000 });
});

t.test('durations and counts for people', async (t) => {
  t.equal(formatDuration(42.4), '42s');
  t.equal(formatDuration(95), '1m35s');
  t.equal(formatDuration(4000), '1h06m40s');
  t.equal(formatDuration(NaN), '?');
  t.equal(formatCount(45_200), '45.2k');
  t.equal(formatCount(1_234_567), '1.23M');
  t.equal(formatCount(999), '999');
});
