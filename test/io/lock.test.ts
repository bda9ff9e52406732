import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { REPO_ROOT } from '../helpers/paths.js';
import { acquireLock, staleReason, type LockHolder } from '../../io/lock.js';

/** A pid that ran and has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

t.test('a second writer is refused naming the holder; after release the lock is free', async (t) => {
  const file = path.join(t.testdir(), '.pipeline.lock');
  const a = acquireLock(file, 'preprocess --out x', 'x');
  const err = t.throws(() => acquireLock(file, 'preprocess --out x', 'x')) as Error & { code: string; context: { holder: LockHolder } };
  t.equal(err.code, 'ERR_LOCKED');
  t.match(err.message, new RegExp(`^x: is in use by another run: pid ${process.pid} on host ${os.hostname()}, started \\d{4}-\\d\\d-\\d\\dT`));
  t.equal(err.context.holder.pid, process.pid);
  a.release();
  t.notOk(fs.existsSync(file), 'release removes it');
  a.release();
  const b = acquireLock(file, 'again');
  t.equal(JSON.parse(fs.readFileSync(file, 'utf8')).command, 'again');
  b.release();
});

t.test('a dead holder, an empty lock file, a reused pid and a previous boot are taken over', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, '.pipeline.lock');
  const base = { host: os.hostname(), started: '2026-01-01T00:00:00.000Z', command: 'old' };
  const cases: [string, string][] = [
    ['dead pid', JSON.stringify({ ...base, pid: deadPid() })],
    ['empty file', ''],
    ['torn JSON', '{"pid": 12'],
    ['pid reused', JSON.stringify({ ...base, pid: process.pid, bootId: fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), procStart: '1' })],
    ['another boot', JSON.stringify({ ...base, pid: process.pid, bootId: 'not-this-boot', procStart: '1' })],
  ];
  for (const [name, text] of cases) {
    fs.writeFileSync(file, text);
    const l = acquireLock(file, 'new');
    t.equal(JSON.parse(fs.readFileSync(file, 'utf8')).pid, process.pid, name);
    l.release();
  }
  t.same(fs.readdirSync(dir), [], 'no stale copies left behind');
});

t.test("another host's lock is never taken over; the message says which file to remove", async (t) => {
  const file = path.join(t.testdir(), '.pipeline.lock');
  const h: LockHolder = { pid: 1, host: 'elsewhere', started: '2026-01-01T00:00:00.000Z', command: 'train --out run' };
  fs.writeFileSync(file, JSON.stringify(h));
  t.equal(staleReason(h), null);
  t.throws(() => acquireLock(file, 'x', 'run'), { code: 'ERR_LOCKED', message: new RegExp(`pid 1 on host elsewhere.*remove ${file.replace(/[.]/g, '\\.')}`) });
  t.equal(JSON.parse(fs.readFileSync(file, 'utf8')).host, 'elsewhere', 'untouched');
});

t.test('a live holder in another process is refused', async (t) => {
  const file = path.join(t.testdir(), '.pipeline.lock');
  const script = `import('${path.join(REPO_ROOT, 'dist/io/lock.js')}').then((m) => { m.acquireLock(${JSON.stringify(file)}, 'child'); process.stdout.write('locked\\n'); process.stdin.resume(); })`;
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  t.throws(() => acquireLock(file, 'me'), { code: 'ERR_LOCKED', message: new RegExp(`pid ${child.pid} .*\\(child\\)`) });
  child.stdin.end();
  await new Promise((r) => child.once('exit', r));
  t.notOk(fs.existsSync(file), 'released at exit');
  acquireLock(file, 'me').release();
});

t.test('a holder that is a zombie (killed, not yet reaped) is gone', async (t) => {
  const { spawn } = await import('node:child_process');
  // `sleep 30` inherits the subshell as a child it never waits for: a zombie once it ends.
  const parent = spawn('sh', ['-c', '(sleep 1; exit 0) & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d) => resolve(String(d).trim()))));
  let state = '';
  while (state !== 'Z') {
    state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0];
    if (state !== 'Z') await new Promise((r) => setImmediate(r));
  }
  t.match(staleReason({ pid, host: os.hostname(), started: 'x', command: 'x' }), /no longer runs/);
  parent.kill();
});

t.test('the lock file never exists empty: a holder stopped the moment it appears has written it', async (t) => {
  // An O_EXCL create followed by a write left the file empty for a moment; a contender
  // reading it then judged the live holder gone ("it is empty") and took its lock over.
  // train-lock.test.ts stops a holder with SIGSTOP as soon as the file exists. Fresh
  // processes, as there: a process's first write is the slow one.
  const { spawn } = await import('node:child_process');
  const dir = t.testdir();
  const N = 10; // the old create-then-write failed this in 3 of 20 tries on a loaded 2-core machine
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // tap's loader hooks: a second of start-up per child for nothing here
  const bad: string[] = [];
  for (let i = 0; i < N; i++) {
    const file = path.join(dir, `l${i}.lock`);
    const script = `import(${JSON.stringify(path.join(REPO_ROOT, 'dist/io/lock.js'))}).then((m) => { m.acquireLock(${JSON.stringify(file)}, 'child'); process.stdin.resume(); })`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'ignore', 'inherit'], env });
    const state = () => fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1][0];
    while (!fs.existsSync(file)) {
      if (state() === 'Z') throw new Error('the child ended before taking the lock');
      await new Promise((r) => setImmediate(r));
    }
    child.kill('SIGSTOP');
    while (state() !== 'T');
    const text = fs.readFileSync(file, 'utf8');
    child.kill('SIGCONT');
    child.stdin.end();
    const [code] = await once(child, 'exit');
    let pid: unknown;
    try {
      pid = JSON.parse(text).pid;
    } catch {
      // empty or torn
    }
    if (code !== 0 || pid !== child.pid) bad.push(`try ${i}: exit ${code}, lock read ${JSON.stringify(text)} while its holder was stopped`);
  }
  t.same(bad, [], `${N} holders stopped at their lock's first sight: each had written it`);
  t.same(fs.readdirSync(dir), [], 'locks released at exit, no staging file left');
});

t.test('a staging file left by a run killed while taking the lock is removed by the next one; a live one is not', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, '.pipeline.lock');
  const dead = `${file}.${deadPid()}.new`;
  const live = `${file}.1.new`; // pid 1 always runs
  fs.writeFileSync(dead, '');
  fs.writeFileSync(live, '');
  const l = acquireLock(file, 'x');
  t.notOk(fs.existsSync(dead), "the dead run's staging file is gone");
  t.ok(fs.existsSync(live), "a live run's staging file stays");
  l.release();
});
