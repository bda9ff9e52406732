/**
 * A training killed with SIGKILL at random moments and resumed with --resume ends
 * exactly where an uninterrupted run ends: same final metrics, same weights byte
 * for byte (cpu backend), same metrics lines. Real child processes, real kills.
 */
import t from 'tap';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { SAMPLE_1K } from '../helpers/samples.js';
import { runPipeline, summaryOf } from '../helpers/cli.js';
import { mulberry32 } from '../../core/hash.js';
import { CHECKPOINT_FILE } from '../../model/checkpoint.js';

const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'train-resume-'));
t.teardown(() => fsp.rm(tmp, { recursive: true, force: true }));
const shards = path.join(tmp, 'shards');
const pre = await runPipeline(['preprocess', '--input', SAMPLE_1K, '--out', shards]);
if (pre.code !== 0) throw new Error(pre.stderr);

const ARGS = ['train', '--input', shards, '--embedding', 'hashnet', '--memory-floats', '4000', '--arch-sparse-feature-size', '4', '--arch-mlp-bot', '13-8-4', '--arch-mlp-top', '8-1',
  '--mini-batch-size', '50', '--nepochs', '2', '--test-fraction', '0.2', '--val-fraction', '0.1', '--test-freq', '7', '--checkpoint-freq', '2', '--shuffle-buffer', '150', '--seed', '3', '--backend', 'cpu', '--print-freq', '3'];

const stable = async (file: string) =>
  (await fsp.readFile(file, 'utf8')).trim().split('\n').map((l) => {
    const { samplesPerSecond, seconds, resumedFromStep, inputWaitSeconds, trainSeconds, ...rest } = JSON.parse(l);
    return rest;
  });

t.test('SIGKILL at random moments + --resume == uninterrupted, and runs are deterministic', async (t) => {
  const runA = async (name: string) => {
    const r = await runPipeline([...ARGS, '--out', path.join(tmp, name), '--metrics', path.join(tmp, `${name}.jsonl`)]);
    t.equal(r.code, 0, r.stderr);
    return summaryOf(r);
  };
  const started = Date.now();
  const a = await runA('a');
  const wall = Date.now() - started;
  const a2 = await runA('a2');
  t.same(a.test, a2.test, 'deterministic: same test metrics');
  t.same(await fsp.readFile(path.join(tmp, 'a2/model/dense.bin')), await fsp.readFile(path.join(tmp, 'a/model/dense.bin')), 'deterministic: same weights');

  const rnd = mulberry32(11);
  const outB = path.join(tmp, 'b');
  let kills = 0;
  let final;
  const resumedFrom: number[] = [];
  for (let attempt = 0; attempt < 12; attempt++) {
    let timer: NodeJS.Timeout | undefined;
    // Anywhere in a run's lifetime: during start-up, the count and training passes, a
    // checkpoint write or the final evaluation (each attempt resumes a shorter remainder).
    const delay = rnd() * wall;
    let watcher: NodeJS.Timeout | undefined;
    const r = await runPipeline([...ARGS, '--out', outB, '--metrics', path.join(tmp, 'b.jsonl'), '--resume'], {
      onSpawn: (c: ChildProcess) => {
        if (attempt === 0) {
          // The first kill waits for the first checkpoint (an event, not a time), so at
          // least one resume starts mid-training however slow the machine is.
          watcher = setInterval(() => {
            if (existsSync(path.join(outB, CHECKPOINT_FILE))) {
              clearInterval(watcher);
              c.kill('SIGKILL');
            }
          }, 5);
        } else if (kills < 4) timer = setTimeout(() => c.kill('SIGKILL'), delay);
      },
    });
    clearTimeout(timer);
    clearInterval(watcher);
    const from = /resuming from step (\d+)/.exec(r.stderr);
    if (from) resumedFrom.push(Number(from[1]));
    if (r.signal === 'SIGKILL') {
      kills++;
      continue;
    }
    t.equal(r.code, 0, r.stderr);
    final = summaryOf(r);
    break;
  }
  t.ok(kills >= 1, `killed ${kills} times`);
  t.comment(`uninterrupted run ${wall} ms, ${a.steps} steps; resumed from steps ${resumedFrom.join(', ')}`);
  t.ok(resumedFrom.some((s) => s > 0 && s < a.steps), 'some kill landed mid-training, after a checkpoint');
  t.ok(final, 'finished');
  t.same(final.test, a.test, 'same test metrics');
  t.same(final.val, a.val, 'same validation metrics');
  t.equal(final.steps, a.steps);
  t.equal(final.finalTrainLoss, a.finalTrainLoss);
  for (const f of ['dense.bin', 'embedding.bin']) t.same(await fsp.readFile(path.join(outB, 'model', f)), await fsp.readFile(path.join(tmp, 'a', 'model', f)), `${f} byte-equal`);
  t.same(await stable(path.join(tmp, 'b.jsonl')), await stable(path.join(tmp, 'a.jsonl')), 'same metrics lines, none repeated');
  t.same((await fsp.readdir(outB)).filter((n) => n.endsWith('.tmp')), [], 'no temp files left');
  // A kill during the final evaluation resumes from the last checkpoint, with no step
  // left to run: the same summary and metrics lines (deterministically covered here).
  const again = await runPipeline([...ARGS, '--out', outB, '--metrics', path.join(tmp, 'b.jsonl'), '--resume']);
  t.equal(again.code, 0, again.stderr);
  t.match(again.stderr, new RegExp(`resuming from step ${a.steps}\\b`));
  const { seconds: _s1, samplesPerSecond: _r1, resumedFromStep: _f1, inputWaitSeconds: _w1, trainSeconds: _t1, ...endA } = a;
  const { seconds: _s2, samplesPerSecond: _r2, resumedFromStep: _f2, inputWaitSeconds: _w2, trainSeconds: _t2, ...endB } = summaryOf(again);
  t.same(endB, endA, 'resumed after the last step: same summary, finalTrainLoss included');
  t.same(await stable(path.join(tmp, 'b.jsonl')), await stable(path.join(tmp, 'a.jsonl')), 'same metrics lines after that too');
});
