import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dayNumber, dayOrderWarning, expandGlob, expandInputs, naturalCompare } from '../../input/expand.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'expand-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const days = [0, 1, 2, 9, 10, 11, 23].map((d) => path.join(dir, `day_${d}.gz`));
for (const f of days) fs.writeFileSync(f, 'x');
fs.writeFileSync(path.join(dir, '.day_5.gz'), 'hidden');
fs.mkdirSync(path.join(dir, 'day_99.gz')); // a directory is not an input

t.test('natural order: day_2 before day_10', async (t) => {
  t.same(['day_10', 'day_2', 'day_1'].sort(naturalCompare), ['day_1', 'day_2', 'day_10']);
});

t.test('a glob expands to the matching files, in natural order, skipping hidden files and directories', async (t) => {
  t.same(expandGlob(path.join(dir, 'day_*.gz')), days);
  t.same(expandGlob(path.join(dir, 'day_?.gz')), days.slice(0, 4));
  t.same(expandGlob(path.join(dir, 'day_[12]*.gz')), [1, 2, 10, 11, 23].map((d) => path.join(dir, `day_${d}.gz`)));
  t.same(expandGlob(path.join(path.dirname(dir), path.basename(dir).replace(/-.*/, '-*'), 'day_2?.gz')).filter((p) => p.startsWith(dir)), [path.join(dir, 'day_23.gz')], 'a pattern in a directory segment');
});

t.test('expandInputs keeps literal paths and - in place, expands patterns, and names a pattern that matches nothing', async (t) => {
  t.same(expandInputs(['-']), ['-']);
  t.same(expandInputs([days[3], path.join(dir, 'day_1?.gz')]), [days[3], days[4], days[5]]);
  t.throws(() => expandInputs([path.join(dir, 'night_*.gz')]), { code: 'ERR_INPUT_NOT_FOUND', message: /night_\*\.gz: no file matches this pattern/ });
});

t.test('day files out of numeric order (a shell glob) get a warning naming the two files', async (t) => {
  t.equal(dayNumber('/a/day_17.gz'), 17);
  t.equal(dayNumber('/a/day_17'), 17);
  t.equal(dayNumber('/a/today_1.gz'), null);
  t.equal(dayOrderWarning(days), null);
  const lexical = [...days].sort();
  t.match(dayOrderWarning(lexical), /day_23\.gz before day_9\.gz|day_11\.gz before day_2\.gz/);
  t.equal(dayOrderWarning(['a.tsv', 'b.tsv']), null);
});
