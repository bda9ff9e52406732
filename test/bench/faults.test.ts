/** bench/faults with one trial per kind on a small input: CI keeps the fault suite working (N >= 20 runs by hand; docs/reliability.md). */
import t from 'tap';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../helpers/paths.js';

t.test('one random trial of each fault kind passes', async (t) => {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist/bench/faults.js'), '--trials', '1', '--rows', '20000', '--seed', String(Date.now() % 1000)], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.same(lines.map((l) => [l.kind, l.trials, l.failures]), ['preprocess', 'rollback', 'minhash', 'train', 'concurrent', 'bitflip'].map((k) => [k, 1, 0]));
});
