/**
 * `pipeline train` and `pipeline predict` end to end on the real Kaggle sample:
 * every embedding kind learns (test AUC >= 0.65 on the last 2,000 rows, never
 * trained on), the saved model predicts one probability per row, and bad input
 * fails clearly without leaving half-written output.
 */
import t from 'tap';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KAGGLE_10K, KAGGLE_TEST_100 } from '../helpers/paths.js';
import { runPipeline, runShell, summaryOf } from '../helpers/cli.js';

const SMALL = ['--arch-sparse-feature-size', '8', '--arch-mlp-bot', '13-16-8', '--arch-mlp-top', '32-16-1', '--mini-batch-size', '128', '--learning-rate', '0.1', '--backend', 'cpu', '--print-freq', '50'];

const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'train-cli-'));
t.teardown(() => fsp.rm(tmp, { recursive: true, force: true }));
const shards = path.join(tmp, 'shards');
const pre = await runPipeline(['preprocess', '--input', KAGGLE_10K, '--out', shards]);
if (pre.code !== 0) throw new Error(pre.stderr);

const exists = (p: string) => fsp.access(p).then(() => true, () => false);

for (const kind of ['full', 'hashnet', 'scma']) {
  t.test(`${kind} embeddings reach test AUC >= 0.65 on kaggle-train-head-10k (last 2,000 rows held out)`, async (t) => {
    const out = path.join(tmp, `out-${kind}`);
    const metrics = path.join(tmp, `metrics-${kind}.jsonl`);
    const extra = kind === 'full' ? [] : ['--compression', '1/16'];
    const started = Date.now();
    const r = await runPipeline(['train', '--input', shards, '--embedding', kind, ...extra, ...SMALL, '--nepochs', '3', '--test-fraction', '0.2', '--out', out, '--metrics', metrics]);
    t.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    t.comment(`${kind}: test AUC ${s.test.auc.toFixed(4)}, logloss ${s.test.logloss.toFixed(4)}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    t.equal(s.test.rows, 2000);
    t.equal(s.trainRows, 8000);
    t.ok(s.test.auc >= 0.65, `test AUC ${s.test.auc}`);
    t.equal(s.steps, 3 * Math.ceil(8000 / 128));
    if (kind !== 'full') t.equal(s.memoryFloats, Math.round((s.distinctValues * 8) / 16), 'M = R x distinct values x d');
    const lines = (await fsp.readFile(metrics, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    t.ok(lines.filter((l) => l.type === 'train').length >= 3, 'train loss lines');
    t.same(lines.filter((l) => l.type === 'eval').map((l) => l.split), ['test']);
    t.equal(lines[lines.length - 1].type, 'summary');
    t.ok(await exists(path.join(out, 'model', 'model.json')));
    if (kind === 'scma') t.match(r.stderr, /building the SCMA MinHash mapping/);
  });
}

t.test('predict writes one probability per row: raw TSV without labels, raw TSV, shards', async (t) => {
  const model = path.join(tmp, 'out-scma');
  const r = await runPipeline(['predict', '--model', model, '--input', KAGGLE_TEST_100, '--no-label', '--backend', 'cpu']);
  t.equal(r.code, 0, r.stderr);
  const p = r.stdout.trim().split('\n').map(Number);
  t.equal(p.length, 100);
  t.ok(p.every((x) => x > 0 && x < 1), 'probabilities');
  t.ok(new Set(p).size > 10, 'not constant');
  // The same rows as raw TSV and as shards give the same probabilities (same featurize settings).
  const head = (await fsp.readFile(KAGGLE_10K, 'utf8')).split('\n').slice(0, 300).join('\n') + '\n';
  const raw = await runPipeline(['predict', '--model', model, '--input', '-', '--backend', 'cpu'], { input: head });
  t.equal(raw.code, 0, raw.stderr);
  const viaShards = await runPipeline(['predict', '--model', model, '--input', shards, '--backend', 'cpu']);
  const a = raw.stdout.trim().split('\n');
  const b = viaShards.stdout.trim().split('\n');
  t.equal(a.length, 300);
  t.equal(b.length, 10000);
  t.same(a, b.slice(0, 300));
});

t.test('bad input: clear errors, nothing written', async (t) => {
  const out = path.join(tmp, 'bad-out');
  const cases: [string[], RegExp][] = [
    [['--arch-mlp-bot', '13-x-8'], /arch-mlp-bot.*layer 2/],
    [['--arch-mlp-bot', '12-16-8'], /arch-mlp-bot: must start with 13/],
    [['--arch-mlp-bot', '13-16-4'], /arch-mlp-bot: must end with d = 8/],
    [['--arch-mlp-top', '32-16-2'], /arch-mlp-top: must end with 1/],
    [['--embedding', 'hashnet', '--compression', '0'], /Invalid option compression: must be in \(0, 1\], got "0"/],
    [['--embedding', 'hashnet', '--compression', '1.5'], /Invalid option compression: must be in \(0, 1\]/],
    [['--embedding', 'sparse'], /Invalid option embedding/],
    [['--test-fraction', '2'], /test-fraction/],
  ];
  for (const [args, re] of cases) {
    const r = await runPipeline(['train', '--input', shards, ...SMALL, ...args, '--out', out]);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, re);
  }
  t.notOk(await exists(out), 'no output directory');
  // a mapping whose d differs from the model's
  const mapping = path.join(tmp, 'map4.arrow');
  const m = await runPipeline(['minhash', '--input', shards, '--out', mapping, '--dim', '4']);
  t.equal(m.code, 0, m.stderr);
  const r = await runPipeline(['train', '--input', shards, ...SMALL, '--embedding', 'scma', '--mapping', mapping, '--out', out]);
  t.equal(r.code, 1);
  t.match(r.stderr, /d=4.*d=8|d=8.*d=4/);
  t.notOk(await exists(out));
  // an empty input
  const empty = path.join(tmp, 'empty.tsv');
  await fsp.writeFile(empty, '');
  const emptyShards = path.join(tmp, 'empty-shards');
  await runPipeline(['preprocess', '--input', empty, '--out', emptyShards]);
  const e = await runPipeline(['train', '--input', emptyShards, ...SMALL, '--embedding', 'hashnet', '--memory-floats', '1000', '--out', out]);
  t.not(e.code, 0);
  t.match(e.stderr, /no rows|no training rows/);
  t.notOk(await exists(out));
  // a diverging run: NaN/Inf loss stops with a clear error, no saved model
  const nan = await runPipeline(['train', '--input', shards, ...SMALL, '--learning-rate', '1e30', '--embedding', 'hashnet', '--memory-floats', '5000', '--out', out, '--checkpoint-freq', '1']);
  t.equal(nan.code, 1);
  t.match(nan.stderr, /training loss became (NaN|Infinity|-Infinity) at step \d+/);
  t.notOk(await exists(path.join(out, 'model', 'model.json')), 'no saved model');
  // an existing checkpoint is never clobbered without --resume
  const again = await runPipeline(['train', '--input', shards, ...SMALL, '--embedding', 'hashnet', '--memory-floats', '5000', '--out', path.join(tmp, 'out-hashnet')]);
  t.equal(again.code, 1);
  t.match(again.stderr, /holds a checkpoint .*--resume/);
});

t.test('preprocess --to - | train --input - works, and stops cleanly when either side fails', async (t) => {
  const ok = await runShell(`bin/pipeline preprocess --input ${KAGGLE_10K} --to - | bin/pipeline train --input - --embedding hashnet --memory-floats 20000 --test-fraction 0.2 ${SMALL.join(' ')}`);
  t.equal(ok.code, 0, ok.stderr);
  const s = summaryOf(ok);
  t.equal(s.test.rows, 2000);
  t.equal(s.trainRows, 8000);
  t.ok(s.test.auc > 0.6, `stdin test AUC ${s.test.auc}`);
  // the consumer fails at once: the producer stops (EPIPE) instead of hanging
  const badTrain = await runShell(`bin/pipeline preprocess --input ${KAGGLE_10K} --to - | bin/pipeline train --input - --split dlrm ${SMALL.join(' ')}`);
  t.not(badTrain.code, 0);
  t.match(badTrain.stderr, /--split dlrm needs the total row count/);
  // the producer fails mid-stream (a bad row): train must not report success on the partial stream
  const bad = path.join(tmp, 'bad.tsv');
  const lines = (await fsp.readFile(KAGGLE_10K, 'utf8')).split('\n');
  lines.splice(5000, 0, 'not\ta\tcriteo\trow');
  await fsp.writeFile(bad, lines.join('\n'));
  const badPre = await runShell(`bin/pipeline preprocess --input ${bad} --to - | bin/pipeline train --input - --embedding hashnet --memory-floats 20000 ${SMALL.join(' ')}`);
  t.not(badPre.code, 0, 'the pipeline fails');
  t.match(badPre.stderr, /line 5001/);
});
