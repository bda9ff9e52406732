/**
 * Learning on synthetic data whose true click probabilities are known: SCMA's
 * test AUC covers a stated fraction of the way from chance (0.5) to the oracle
 * AUC (the AUC of the true probabilities on the same held-out rows).
 */
import t from 'tap';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runPipeline, summaryOf } from '../helpers/cli.js';
import { exactAuc } from '../../core/metrics.js';

/**
 * Fraction of (oracle - 0.5) the trained model must reach. Measured with this exact
 * setup (wasm, 5 epochs) over synth seeds 1-5 x train seeds 0-1: 0.55 to 0.87, median
 * 0.77; the seeds below give 0.87. 0.5 ("most of the way") leaves margin for the
 * worst seed seen. With 2 epochs the same grid spans 0.30-0.69: still learning.
 */
const FRACTION = 0.5;
const ROWS = 20000;

t.test(`scma on synthetic data reaches ${FRACTION} of the way from 0.5 to the oracle AUC`, async (t) => {
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'train-synth-'));
  t.teardown(() => fsp.rm(tmp, { recursive: true, force: true }));
  const tsv = path.join(tmp, 'synth.tsv');
  const probs = path.join(tmp, 'probs.txt');
  const s = await runPipeline(['synth', '--rows', String(ROWS), '--seed', '5', '--out', tsv, '--probs', probs]);
  t.equal(s.code, 0, s.stderr);
  const shards = path.join(tmp, 'shards');
  t.equal((await runPipeline(['preprocess', '--input', tsv, '--out', shards])).code, 0);
  const r = await runPipeline(['train', '--input', shards, '--embedding', 'scma', '--compression', '1/16', '--arch-sparse-feature-size', '8', '--arch-mlp-bot', '13-16-8', '--arch-mlp-top', '32-16-1',
    '--mini-batch-size', '128', '--nepochs', '5', '--learning-rate', '0.1', '--test-fraction', '0.2', '--backend', 'wasm', '--print-freq', '100']);
  t.equal(r.code, 0, r.stderr);
  const sum = summaryOf(r);
  const labels = (await fsp.readFile(tsv, 'utf8')).trim().split('\n').map((l) => Number(l.slice(0, l.indexOf('\t'))));
  const p = (await fsp.readFile(probs, 'utf8')).trim().split('\n').map(Number);
  const testStart = ROWS - sum.test.rows;
  const oracle = exactAuc(labels.slice(testStart), p.slice(testStart));
  const reached = (sum.test.auc - 0.5) / (oracle - 0.5);
  t.comment(`test AUC ${sum.test.auc.toFixed(4)}, oracle ${oracle.toFixed(4)}: ${(100 * reached).toFixed(0)}% of the way`);
  t.ok(reached >= FRACTION, `reached ${reached.toFixed(3)} of the way`);
});
