/**
 * One train per --out (and per --metrics file): a second run while the first holds
 * the lock is refused naming the holder; a lock left by a killed run is taken over
 * by the rerun; SIGTERM drops the lock and temp files. Real child processes. The
 * first run is held still with SIGSTOP while the second one tries, so the test does
 * not depend on how fast either runs.
 */
import t from 'tap';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { SAMPLE_1K } from '../helpers/samples.js';
import { runPipeline, summaryOf, type RunResult } from '../helpers/cli.js';
import { LOCK_NAME } from '../../io/lock.js';

// Child processes on a loaded 2-core machine: a train takes seconds to tens of seconds.
t.setTimeout(600_000);
const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'train-lock-'));
t.teardown(() => fsp.rm(tmp, { recursive: true, force: true }));
const shards = path.join(tmp, 'shards');
const pre = await runPipeline(['preprocess', '--input', SAMPLE_1K, '--out', shards]);
if (pre.code !== 0) throw new Error(pre.stderr);

const ARGS = ['train', '--input', shards, '--embedding', 'hashnet', '--memory-floats', '4000', '--arch-sparse-feature-size', '4', '--arch-mlp-bot', '13-8-4', '--arch-mlp-top', '8-1',
  '--mini-batch-size', '50', '--test-fraction', '0.2', '--checkpoint-freq', '2', '--shuffle-buffer', '100', '--seed', '5', '--backend', 'wasm', '--print-freq', '1000'];

/** Starts a train and resolves once `file` exists (the child holding it), with the run's end. */
function startHolding(args: string[], file: string): Promise<{ child: ChildProcess; done: Promise<RunResult> }> {
  return new Promise((resolve) => {
    const done = runPipeline(args, {
      onSpawn: (c) => {
        const poll = setInterval(() => {
          if (existsSync(file) || c.exitCode !== null || c.signalCode !== null) {
            clearInterval(poll);
            resolve({ child: c, done });
          }
        }, 2);
      },
    });
  });
}

t.test('a second train into the same --out is refused naming the holder; the first one finishes', async (t) => {
  const out = path.join(tmp, 'a');
  const { child, done } = await startHolding([...ARGS, '--out', out], path.join(out, LOCK_NAME));
  child.kill('SIGSTOP'); // holds the lock while the second run tries
  const second = await runPipeline([...ARGS, '--out', out]);
  child.kill('SIGCONT');
  t.equal(second.code, 1, second.stderr);
  t.match(second.stderr, new RegExp(`^pipeline train: ${out.replace(/[.]/g, '\\.')}.*is in use by another run: pid ${child.pid} on host ${os.hostname()}, started \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z \\(train --out`));
  t.equal(second.stderr.trim().split('\n').length, 1, 'one line');
  const first = await done;
  t.equal(first.code, 0, first.stderr);
  t.ok(existsSync(path.join(out, 'model', 'model.json')), 'the first run saved its model');
  t.notOk(existsSync(path.join(out, LOCK_NAME)), 'lock released at the end');
});

t.test('a second train writing the same --metrics file is refused, whatever its --out', async (t) => {
  const metrics = path.join(tmp, 'm.jsonl');
  const { child, done } = await startHolding([...ARGS, '--out', path.join(tmp, 'm1'), '--metrics', metrics], path.join(tmp, '.m.jsonl.lock'));
  child.kill('SIGSTOP');
  const second = await runPipeline([...ARGS, '--out', path.join(tmp, 'm2'), '--metrics', metrics]);
  child.kill('SIGCONT');
  t.equal(second.code, 1, second.stderr);
  t.match(second.stderr, new RegExp(`m\\.jsonl.*is in use by another run: pid ${child.pid} .*\\(train --metrics`));
  t.notOk(existsSync(path.join(tmp, 'm2')), 'the refused run left no --out behind');
  t.equal((await done).code, 0);
});

t.test('a lock left by a killed train is taken over by the rerun (--resume), which ends like an uninterrupted run', async (t) => {
  const ref = await runPipeline([...ARGS, '--out', path.join(tmp, 'ref')]);
  t.equal(ref.code, 0, ref.stderr);
  const out = path.join(tmp, 'k');
  const { child, done } = await startHolding([...ARGS, '--out', out], path.join(out, LOCK_NAME));
  child.kill('SIGKILL');
  const killed = await done;
  t.equal(killed.signal, 'SIGKILL');
  t.ok(existsSync(path.join(out, LOCK_NAME)), 'the killed run left its lock');
  const held = JSON.parse(await fsp.readFile(path.join(out, LOCK_NAME), 'utf8'));
  t.equal(held.pid, child.pid, 'held by the dead process');
  const again = await runPipeline([...ARGS, '--out', out, '--resume']);
  t.equal(again.code, 0, again.stderr);
  t.same(summaryOf(again).test, summaryOf(ref).test, 'same test metrics as the uninterrupted run');
  t.same(await fsp.readFile(path.join(out, 'model', 'dense.bin')), await fsp.readFile(path.join(tmp, 'ref', 'model', 'dense.bin')), 'same weights');
  t.notOk(existsSync(path.join(out, LOCK_NAME)), 'lock released');
  t.same((await fsp.readdir(out)).filter((n) => n.includes('.stale.')), [], 'no aside file left from the takeover');
});

t.test('a forged lock of a live process on this host is respected; one whose pid is gone is not', async (t) => {
  const out = path.join(tmp, 'f');
  await fsp.mkdir(out);
  // pid 1 always runs (and is not us): a live holder.
  await fsp.writeFile(path.join(out, LOCK_NAME), JSON.stringify({ pid: 1, host: os.hostname(), started: '2026-01-01T00:00:00.000Z', command: 'train --out f' }));
  const r = await runPipeline([...ARGS, '--out', out]);
  t.equal(r.code, 1);
  t.match(r.stderr, /is in use by another run: pid 1 on host .*, started 2026-01-01T00:00:00\.000Z \(train --out f\)/);
  // A pid past the kernel's pid_max never runs.
  await fsp.writeFile(path.join(out, LOCK_NAME), JSON.stringify({ pid: 2 ** 22 + 1, host: os.hostname(), started: '2026-01-01T00:00:00.000Z', command: 'train --out f' }));
  const ok = await runPipeline([...ARGS, '--out', out]);
  t.equal(ok.code, 0, ok.stderr);
  t.notOk(existsSync(path.join(out, LOCK_NAME)));
});

t.test('SIGTERM: exit 143, one line naming the checkpoint, lock and temp files removed', async (t) => {
  const out = path.join(tmp, 's');
  const { child, done } = await startHolding([...ARGS, '--out', out, '--nepochs', '50'], path.join(out, 'checkpoint.bin'));
  child.kill('SIGTERM');
  const r = await done;
  t.equal(r.code, 143, r.stderr);
  t.match(r.stderr, /interrupted: checkpoint (at step \d+ )?in .* \(continue it with --resume\); rerun/);
  const left = await fsp.readdir(out);
  t.notOk(left.includes(LOCK_NAME), 'lock removed');
  t.same(left.filter((n) => n.endsWith('.tmp')), [], 'no temp file');
  t.ok(left.includes('checkpoint.bin'), 'the checkpoint stays');
});
