/**
 * `npm start`, the README's main job, on a small synthetic set: every step of the
 * chain runs and leaves its output, and the summary compares the test AUC with the
 * generator's oracle AUC. It also refuses to wipe a folder it did not make.
 */
import t from 'tap';
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runShell, summaryOf } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';

const MAIN_JOB = path.join(REPO_ROOT, 'dist/bin/main-job.js');

t.test('runs synth -> preprocess -> minhash -> train and reports the AUC beside the oracle', async (t) => {
  const work = path.join(mkdtempSync(path.join(os.tmpdir(), 'main-job-')), 'run');
  t.teardown(() => rmSync(path.dirname(work), { recursive: true, force: true }));
  const r = await runShell(null, [MAIN_JOB, '--rows', '30000', '--epochs', '2', '--work', work, '--backend', 'wasm']);
  if (r.code !== 0) t.comment(r.stderr.slice(-2000));
  t.equal(r.code, 0, 'exits 0');
  const s = summaryOf(r);
  t.equal(s.rows, 30000);
  for (const f of ['synth.tsv', 'shards/_manifest.json', 'mapping.arrow', 'model/model/model.json', 'metrics.jsonl']) t.ok(existsSync(path.join(work, f)), `${f} written`);
  t.ok(s.oracleAuc > 0.7, `the synthetic data has a learnable signal (oracle AUC ${s.oracleAuc})`);
  t.ok(s.testAuc > 0.55 && s.testAuc <= s.oracleAuc + 0.02, `the model learns, short of the oracle (test AUC ${s.testAuc})`);
  t.ok(Math.abs(s.fractionOfOracle - (s.testAuc - 0.5) / (s.oracleAuc - 0.5)) < 5e-3, 'fraction of the way to the oracle (each printed to 4 significant digits)');
  t.equal(s.oracleAuc, Number(s.oracleAuc.toPrecision(4)), 'printed to 4 significant digits');
});

t.test('refuses to replace a non-empty folder it did not make', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'main-job-user-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'precious.txt'), 'keep me');
  const r = await runShell(null, [MAIN_JOB, '--rows', '100', '--work', dir]);
  t.not(r.code, 0);
  t.match(r.stderr, /did not make/);
  t.ok(existsSync(path.join(dir, 'precious.txt')), 'the user file is still there');
});
