/**
 * `pipeline train` on bad input (issue 4): wrong arch strings, a mapping whose d
 * differs from the model's, a compression outside (0, 1], an empty input, a NaN
 * loss: clear errors, nothing half-written. And `preprocess --to - | train --input -`
 * stops cleanly when either side fails: a producer that dies mid-stream makes train
 * fail instead of training on a silently shorter input.
 */
import t from 'tap';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { PIPELINE_BIN } from '../helpers/paths.js';
import { REAL_DATA_SKIP, SAMPLE_10K, learningInput } from '../helpers/samples.js';
import { runPipeline, runShell, summaryOf } from '../helpers/cli.js';

// wasm: ~10x the speed of tfjs-backend-cpu for this model (see train.test.ts).
const SMALL = ['--arch-sparse-feature-size', '8', '--arch-mlp-bot', '13-16-8', '--arch-mlp-top', '32-16-1', '--mini-batch-size', '128', '--learning-rate', '0.1', '--backend', 'wasm', '--print-freq', '50'];

const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'train-errors-'));
t.teardown(() => fsp.rm(tmp, { recursive: true, force: true }));
const shards = path.join(tmp, 'shards');
const pre = await runPipeline(['preprocess', '--input', SAMPLE_10K, '--out', shards]);
if (pre.code !== 0) throw new Error(pre.stderr);

const exists = (p: string) => fsp.access(p).then(() => true, () => false);

t.test('bad input: clear errors, nothing written', async (t) => {
  const out = path.join(tmp, 'bad-out');
  const cases: [string[], RegExp][] = [
    [['--arch-mlp-bot', '13-x-8'], /arch-mlp-bot.*layer 2/],
    [['--arch-mlp-bot', '12-16-8'], /arch-mlp-bot: must start with 13/],
    [['--arch-mlp-bot', '13-16-4'], /arch-mlp-bot: must end with d = 8/],
    [['--arch-mlp-top', '32-16-2'], /arch-mlp-top: must end with 1/],
    [['--embedding', 'hashnet', '--compression', '0'], /Invalid option compression: must be a number in \(0, 1\], got "0"/],
    [['--embedding', 'hashnet', '--compression', '1.5'], /Invalid option compression: must be a number in \(0, 1\]/],
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
  t.same((await fsp.readdir(out).catch(() => [])).filter((n) => n.endsWith('.tmp')), [], 'no temp files');
  // an existing checkpoint is never clobbered without --resume
  const done = path.join(tmp, 'done');
  const first = await runPipeline(['train', '--input', shards, ...SMALL, '--embedding', 'hashnet', '--memory-floats', '5000', '--test-fraction', '0.8', '--out', done]);
  t.equal(first.code, 0, first.stderr);
  const again = await runPipeline(['train', '--input', shards, ...SMALL, '--embedding', 'hashnet', '--memory-floats', '5000', '--test-fraction', '0.8', '--out', done]);
  t.equal(again.code, 1);
  t.match(again.stderr, /holds a checkpoint .*--resume/);
});

t.test('preprocess --to - | train --input - works, and stops cleanly when either side fails', async (t) => {
  const LEARN = learningInput();
  const ok = await runShell(`bin/pipeline preprocess --input ${LEARN.file} --to - | bin/pipeline train --input - --embedding hashnet --memory-floats 20000 --test-fraction 0.2 ${SMALL.join(' ')}`);
  t.equal(ok.code, 0, ok.stderr);
  const s = summaryOf(ok);
  t.equal(s.test.rows, 2000);
  t.equal(s.trainRows, 8000);
  if (LEARN.threshold) t.ok(s.test.auc > 0.6, `stdin test AUC ${s.test.auc}`);
  else t.comment(`AUC > 0.6 skipped: ${REAL_DATA_SKIP}; train-synth.test.ts checks learning on generated data`);
  // Each side's own exit status: `a | b; echo ${PIPESTATUS[@]}`.
  const statuses = (r: { stderr: string }) => /STATUS (\d+) (\d+)/.exec(r.stderr)!.slice(1).map(Number);
  // the consumer fails at once: the producer stops (EPIPE) instead of hanging
  const badTrain = await runShell(`bin/pipeline preprocess --input ${SAMPLE_10K} --to - | bin/pipeline train --input - --split dlrm ${SMALL.join(' ')}; echo STATUS \${PIPESTATUS[@]} >&2`);
  t.equal(statuses(badTrain)[1], 1, 'train fails');
  t.match(badTrain.stderr, /--split dlrm needs the total row count/);
  // the producer fails mid-stream (a bad row at line 5001): train fails too, naming the cause, and saves no model
  const bad = path.join(tmp, 'bad.tsv');
  const lines = (await fsp.readFile(SAMPLE_10K, 'utf8')).split('\n');
  lines.splice(5000, 0, 'not\ta\tcriteo\trow');
  await fsp.writeFile(bad, lines.join('\n'));
  const out = path.join(tmp, 'pipe-out');
  const badPre = await runShell(`bin/pipeline preprocess --input ${bad} --to - | bin/pipeline train --input - --embedding hashnet --memory-floats 20000 --out ${out} ${SMALL.join(' ')}; echo STATUS \${PIPESTATUS[@]} >&2`);
  t.same(statuses(badPre), [1, 1], 'both sides fail');
  t.match(badPre.stderr, /line 5001/, 'the producer names the bad row');
  t.match(badPre.stderr, /pipeline train: <stdin>: the Arrow IPC stream stopped after \d+ bytes without its end-of-stream marker/);
  t.notOk(await exists(path.join(out, 'model', 'model.json')), 'no saved model');
  t.notMatch(badPre.stdout, /summary/, 'no summary');
  // the producer is killed (SIGKILL) mid-stream: train must not take the rows it got for the whole input
  const pre = spawn(process.execPath, [PIPELINE_BIN, 'preprocess', '--input', SAMPLE_10K, '--to', '-'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const consumer = spawn(process.execPath, [PIPELINE_BIN, 'train', '--input', '-', '--embedding', 'hashnet', '--memory-floats', '20000', ...SMALL], { stdio: ['pipe', 'pipe', 'pipe'] });
  let sent = 0;
  let stderr = '';
  let stdout = '';
  consumer.stderr.on('data', (d) => (stderr += d));
  consumer.stdout.on('data', (d) => (stdout += d));
  consumer.stdin.on('error', () => {});
  pre.stdout.on('data', (d: Buffer) => {
    sent += d.length;
    // train's slow reading holds the producer back, so it is still running here
    if (sent >= 300_000 && pre.exitCode === null && pre.signalCode === null) pre.kill('SIGKILL');
  });
  pre.stdout.pipe(consumer.stdin);
  const [, preSignal] = await once(pre, 'close');
  const [code] = await once(consumer, 'close');
  t.equal(preSignal, 'SIGKILL', `the producer was killed after ${sent} bytes`);
  t.equal(code, 1, 'train fails');
  t.match(stderr, /the Arrow IPC stream stopped after \d+ bytes without its end-of-stream marker: its producer failed or was killed mid-stream/);
  t.equal(stdout, '', 'no summary');
  // an empty stream (valid, no rows) is an empty input, not a success
  const empty = path.join(tmp, 'empty-pipe.tsv');
  await fsp.writeFile(empty, '');
  const e = await runShell(`bin/pipeline preprocess --input ${empty} --to - | bin/pipeline train --input - --embedding hashnet --memory-floats 1000 ${SMALL.join(' ')}`);
  t.equal(e.code, 1);
  t.match(e.stderr, /no training rows/);
});
