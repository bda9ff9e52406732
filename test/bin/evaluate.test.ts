/**
 * `evaluate` agrees with train's own test evaluation on the same rows, and
 * `predict --id` carries ids (numbered or a column) and writes Kaggle's CSV.
 */
import t from 'tap';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runPipeline, summaryOf } from '../helpers/cli.js';

const SMALL = ['--arch-sparse-feature-size', '4', '--arch-mlp-bot', '13-8-4', '--arch-mlp-top', '16-1', '--mini-batch-size', '128', '--backend', 'wasm'];
const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'evaluate-'));
t.teardown(() => fsp.rm(tmp, { recursive: true, force: true }));
const tsv = path.join(tmp, 'train.tsv');
const shards = path.join(tmp, 'shards');
const run = path.join(tmp, 'run');

t.test('setup: synth, preprocess, train with the last 500 of 2,500 rows held out', async (t) => {
  for (const args of [
    ['synth', '--rows', '2500', '--seed', '5', '--out', tsv],
    ['preprocess', '--input', tsv, '--out', shards, '-q'],
  ]) {
    const r = await runPipeline(args);
    t.equal(r.code, 0, r.stderr);
  }
});

let trainTest: { rows: number; auc: number; logloss: number; accuracy: number };
t.test('evaluate on the held-out rows reproduces train\'s test metrics', async (t) => {
  const r = await runPipeline(['train', '--input', shards, '--embedding', 'hashnet', ...SMALL, '--test-fraction', '0.2', '--out', run]);
  t.equal(r.code, 0, r.stderr);
  trainTest = summaryOf(r).test;
  t.equal(trainTest.rows, 500);
  const lines = (await fsp.readFile(tsv, 'latin1')).split('\n').filter(Boolean);
  const tail = path.join(tmp, 'tail.tsv');
  await fsp.writeFile(tail, lines.slice(2000).join('\n') + '\n', 'latin1');
  const e = await runPipeline(['evaluate', '--model', run, '--input', tail, '--backend', 'wasm']);
  t.equal(e.code, 0, e.stderr);
  const m = summaryOf(e);
  t.equal(m.rows, 500);
  t.equal(m.positives, lines.slice(2000).filter((l) => l.startsWith('1')).length);
  // The summary is rounded to 4 significant digits for people.
  t.equal(m.auc, Number(trainTest.auc.toPrecision(4)), 'the same AUC as train reported');
  t.equal(m.logloss, Number(trainTest.logloss.toPrecision(4)), 'the same logloss');
  t.equal(m.accuracy, Number(trainTest.accuracy.toPrecision(4)), 'the same accuracy');
  const all = summaryOf(await runPipeline(['evaluate', '--model', run, '--input', shards, '--backend', 'wasm']));
  t.equal(all.rows, 2500, 'shards: every row');
  const unlabeled = await runPipeline(['evaluate', '--model', run, '--input', tail, '--backend', 'wasm', '--mini-batch-size', '0']);
  t.equal(unlabeled.code, 2);
  t.match(unlabeled.stderr, /Invalid option mini-batch-size/);
});

t.test('predict --id N numbers rows; --id column carries a first field through; --csv writes Id,Predicted', async (t) => {
  const lines = (await fsp.readFile(tsv, 'latin1')).split('\n').filter(Boolean).slice(0, 300);
  const unlabeled = lines.map((l) => l.slice(l.indexOf('\t') + 1));
  const test = path.join(tmp, 'test.txt');
  await fsp.writeFile(test, unlabeled.join('\n') + '\n', 'latin1');
  const plain = await runPipeline(['predict', '--model', run, '--input', test, '--no-label', '--backend', 'wasm']);
  t.equal(plain.code, 0, plain.stderr);
  const probs = plain.stdout.trim().split('\n');
  t.equal(probs.length, 300);

  const csv = await runPipeline(['predict', '--model', run, '--input', test, '--no-label', '--backend', 'wasm', '--id', '60000000', '--csv']);
  t.equal(csv.code, 0, csv.stderr);
  const rows = csv.stdout.trim().split('\n');
  t.equal(rows[0], 'Id,Predicted');
  t.same(rows.slice(1), probs.map((p, i) => `${60000000 + i},${p}`));

  const withIds = path.join(tmp, 'with-ids.txt');
  await fsp.writeFile(withIds, unlabeled.map((l, i) => `row-${i * 7}\t${l}`).join('\n') + '\n', 'latin1');
  const col = await runPipeline(['predict', '--model', run, '--input', withIds, '--no-label', '--backend', 'wasm', '--id', 'column', '--mini-batch-size', '64']);
  t.equal(col.code, 0, col.stderr);
  t.same(col.stdout.trim().split('\n'), probs.map((p, i) => `row-${i * 7}\t${p}`), 'ids carried through, the same probabilities');

  const bad = await runPipeline(['predict', '--model', run, '--input', test, '--no-label', '--csv']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /Invalid option csv: needs --id/);
  const badId = await runPipeline(['predict', '--model', run, '--input', test, '--no-label', '--id', 'x1']);
  t.match(badId.stderr, /Invalid option id: must be 'column' or a first id/);
});
