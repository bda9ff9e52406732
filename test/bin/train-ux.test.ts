/**
 * What a DLRM user types: dlrm_ssm's sample command line trains; SCMA models with
 * --mapping are self-contained (moved, they still predict); a stdin stream gets a
 * default memory unless --compression is asked for; aliases that contradict fail.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runPipeline, runShell, summaryOf } from '../helpers/cli.js';
import { PIPELINE_BIN } from '../helpers/paths.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'train-ux-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const tsv = path.join(tmp, 'train.tsv');
const shards = path.join(tmp, 'shards');
const SMALL = ['--arch-sparse-feature-size', '4', '--arch-mlp-bot', '13-8-4', '--arch-mlp-top', '16-1', '--mini-batch-size', '256', '--backend', 'wasm'];

t.test('setup', async (t) => {
  for (const args of [
    ['synth', '--rows', '6000', '--seed', '9', '--out', tsv],
    ['preprocess', '--input', tsv, '--out', shards, '-q'],
    ['minhash', '--input', shards, '--out', path.join(tmp, 'mapping.arrow'), '--dim', '4', '-q'],
  ]) {
    const r = await runPipeline(args);
    t.equal(r.code, 0, r.stderr);
  }
});

t.test("dlrm_ssm's sample command line (bench/dlrm_s_criteo_kaggle.sh), minus its data-loading flags, trains", async (t) => {
  // Its flags verbatim, then ours for the data: --input and DLRM's Kaggle split.
  const ssm = [
    '--lsh-emb-flag', '--lsh-emb-compression-rate=0.03125', '--arch-sparse-feature-size=16', '--arch-mlp-bot=13-512-256-64-16', '--arch-mlp-top=512-256-1',
    '--loss-function=bce', '--round-targets=True', '--learning-rate=0.1', '--mini-batch-size=2048', '--nepochs=5', '--print-freq=1024', '--print-time', '--use-gpu',
    '--test-mini-batch-size=16384', '--test-num-workers=16', '--test-freq=1000', '--mlperf-logging', `--save-model=${path.join(tmp, 'model.dat')}`,
  ];
  // 2,500 rows: two steps of 2,048 per epoch; the 512-256 MLPs are slow on a shared CPU.
  const small = path.join(tmp, 'small');
  const head = path.join(tmp, 'head.tsv');
  fs.writeFileSync(head, fs.readFileSync(tsv, 'latin1').split('\n').slice(0, 2500).join('\n') + '\n', 'latin1');
  const pre = await runPipeline(['preprocess', '--input', head, '--out', small, '-q']);
  t.equal(pre.code, 0, pre.stderr);
  const r = await runPipeline(['train', ...ssm, '--input', small, '--split', 'dlrm']);
  t.equal(r.code, 0, r.stderr);
  const s = summaryOf(r);
  t.equal(s.embedding, 'scma', '--lsh-emb-flag is --embedding scma');
  t.equal(s.memoryFloats, Math.round(0.03125 * s.distinctValues * 16), '--lsh-emb-compression-rate is --compression');
  t.equal(s.epochs, 5);
  t.ok(s.test && s.test.rows > 0, 'evaluated on the held-out day');
  t.ok(fs.existsSync(path.join(tmp, 'model.dat', 'model', 'model.json')), '--save-model is --out');
  t.match(r.stderr, /backend: webgpu (unavailable|$)/m, '--use-gpu asks for the GPU backend');
  const help = await runPipeline(['train', '--help']);
  for (const f of ['lsh-emb-flag', 'lsh-emb-compression-rate', 'rand-emb-flag', 'rand-emb-compression-rate']) t.match(help.stdout, new RegExp(`--${f}\\b.*alias of --embedding`), `--help lists --${f} as an alias`);
  const both = await runPipeline(['train', '--input', shards, '--lsh-emb-flag', '--rand-emb-flag']);
  t.equal(both.code, 2);
  t.match(both.stderr, /Invalid option lsh-emb-flag: and --rand-emb-flag choose different embeddings/);
  const contra = await runPipeline(['train', '--input', shards, '--rand-emb-flag', '--embedding', 'scma']);
  t.match(contra.stderr, /Invalid option embedding: contradicts --rand-emb-flag \(hashnet\)/);
});

t.test('an SCMA model trained with --mapping carries its mapping: moved elsewhere, it still predicts', async (t) => {
  const run = path.join(tmp, 'run-scma');
  const r = await runPipeline(['train', '--input', shards, '--embedding', 'scma', '--mapping', path.join(tmp, 'mapping.arrow'), ...SMALL, '--test-fraction', '0.1', '--out', run]);
  t.equal(r.code, 0, r.stderr);
  const modelJson = fs.readFileSync(path.join(run, 'model', 'model.json'), 'utf8');
  t.notMatch(modelJson, new RegExp(tmp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no absolute path in model.json');
  t.ok(fs.existsSync(path.join(run, 'model', 'mapping.arrow')), 'the mapping is in the model directory');
  const before = await runPipeline(['predict', '--model', run, '--input', tsv, '--backend', 'wasm']);
  const moved = path.join(tmp, 'elsewhere', 'model-copy');
  fs.mkdirSync(path.dirname(moved));
  fs.renameSync(run, moved);
  fs.rmSync(path.join(tmp, 'mapping.arrow')); // the original is gone too
  const after = await runPipeline(['predict', '--model', moved, '--input', tsv, '--backend', 'wasm']);
  t.equal(after.code, 0, after.stderr);
  t.equal(after.stdout, before.stdout, 'the same predictions');
});

t.test('stdin: the default memory when no counts are known, an error when --compression is asked for', async (t) => {
  const r = await runShell(`node ${PIPELINE_BIN} preprocess --input ${tsv} --to - -q | node ${PIPELINE_BIN} train --input - --test-fraction 0.1 --embedding hashnet ${SMALL.join(' ')}`);
  t.equal(r.code, 0, r.stderr);
  t.equal(summaryOf(r).memoryFloats, 2 ** 24);
  t.match(r.stderr, /a stdin stream carries no per-feature value counts for --compression: using 16,777,216 floats/);
  const asked = await runShell(`node ${PIPELINE_BIN} preprocess --input ${tsv} --to - -q | node ${PIPELINE_BIN} train --input - --embedding hashnet --compression 1/16 ${SMALL.join(' ')}`);
  t.equal(asked.code, 1);
  t.match(asked.stderr, /--compression on a stdin stream needs the per-feature value counts/);
});

t.test('--compression means nothing for full tables: one log line, not an error', async (t) => {
  const r = await runPipeline(['train', '--input', shards, '--embedding', 'full', '--compression', '0.0625', ...SMALL, '--test-fraction', '0.1']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr.match(/ignored for --embedding full/g)?.length, 1);
  t.equal(summaryOf(r).memoryFloats, null);
});
