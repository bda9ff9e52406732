/**
 * One writer per output: a lock file created exclusively beside (or inside) what a
 * command writes, holding who holds it (pid, host, start time, command).
 *
 * A second writer is refused with the holder named. A lock whose holder is gone is
 * taken over without the user deleting anything. "Gone" is decided only where it can
 * be decided: same host, and either the pid no longer runs, or it runs but started
 * at another time than the holder did (the pid was reused), or the machine was
 * rebooted since (another boot id). A lock of another host is never taken over: we
 * cannot see its processes, so the message says which file to remove once the user
 * knows that run is over.
 *
 * Takeover is itself race-free: the stale lock is renamed to a unique name (one
 * contender wins the rename), the renamed file is checked to be the stale lock that
 * was judged (not a fresh lock someone created meanwhile; that one is put back), and
 * only then is a new lock created exclusively: written under a staging name, then
 * hard-linked in place, so it never exists empty or half written.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PipelineError } from '../core/errors.js';

export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the holder took the lock. */
  started: string;
  command: string;
  /** Linux: the holder's boot id and process start time (clock ticks since boot), to tell a reused pid. */
  bootId?: string;
  procStart?: string;
}

export interface Lock {
  readonly file: string;
  readonly holder: LockHolder;
  /** Removes the lock if it is still ours; safe to call twice. */
  release(): void;
}

function readProc(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

const BOOT_ID = readProc('/proc/sys/kernel/random/boot_id')?.trim();

/** Fields 3 (state) and 22 (start time) of /proc/PID/stat; the command name in field 2 may hold spaces. */
function procStat(pid: number): { state: string; start: string } | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: f[0], start: f[19] };
}

function procStart(pid: number): string | undefined {
  return procStat(pid)?.start;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
  // A killed process stays a zombie until its parent reaps it (a parent killed with it
  // leaves that to init): kill(pid, 0) still succeeds, yet it will never write again.
  const state = procStat(pid)?.state;
  return state !== 'Z' && state !== 'X';
}

/** Why the holder is known to be gone, or null when it may still run. */
export function staleReason(h: LockHolder): string | null {
  if (h.host !== os.hostname()) return null;
  if (h.bootId && BOOT_ID && h.bootId !== BOOT_ID) return 'the machine was restarted since';
  if (!pidAlive(h.pid)) return `process ${h.pid} no longer runs`;
  if (h.procStart && h.bootId === BOOT_ID) {
    const now = procStart(h.pid);
    if (now !== undefined && now !== h.procStart) return `process ${h.pid} is another program now (pid reused)`;
  }
  return null;
}

function describe(h: LockHolder): string {
  return `pid ${h.pid} on host ${h.host}, started ${h.started} (${h.command})`;
}

function readHolder(file: string): LockHolder | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    if (Number.isInteger(h.pid) && typeof h.host === 'string') return h;
  } catch {
    // fall through
  }
  // Empty or torn: acquireLock links a complete file in place, so this is one left by a
  // holder killed between create and write (an older version, or a filesystem without
  // hard links). Its pid is unknown, so treat it as a dead holder of this host (its
  // content was never a valid claim).
  return { pid: -1, host: os.hostname(), started: 'unknown', command: 'unknown (empty lock file)' };
}

/** Process-wide: locks to drop on exit (a normal exit, or a signal handler calling releaseAllLocks). */
const held = new Set<Lock>();
let exitHook = false;

/** Releases every lock this process holds (for signal handlers and exit). */
export function releaseAllLocks(): void {
  for (const l of [...held]) l.release();
}

/**
 * Takes the lock file `file` for `command`, or throws ERR_LOCKED naming the holder.
 * `what` names the output in messages (the directory or file the lock guards).
 */
export function acquireLock(file: string, command: string, what = path.dirname(file)): Lock {
  const me: LockHolder = {
    pid: process.pid,
    host: os.hostname(),
    started: new Date().toISOString(),
    command,
    ...(BOOT_ID ? { bootId: BOOT_ID, procStart: procStart(process.pid) } : {}),
  };
  const text = JSON.stringify(me) + '\n';
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      createWithContent(file, text);
      removeDeadStaging(file);
      return register(file, me, text);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new PipelineError('ERR_OUTPUT', `cannot create the lock file ${file}: ${code ?? (err as Error).message}`, { file: what });
    }
    const holder = readHolder(file);
    if (!holder) continue; // released meanwhile: try again
    const why = holder.pid === -1 ? 'it is empty' : staleReason(holder);
    if (why === null) {
      const other = holder.host !== me.host ? `; if that run is over, remove ${file}` : '';
      throw new PipelineError('ERR_LOCKED', `is in use by another run: ${describe(holder)}${other}`, { file: what, holder, lock: file });
    }
    takeOver(file, holder);
  }
  throw new PipelineError('ERR_LOCKED', 'could not take the lock: other runs keep taking it', { file: what, lock: file });
}

/** Where `pid` stages its lock file before linking it in place. */
function stagingFile(file: string, pid: number): string {
  return `${file}.${pid}.new`;
}

/**
 * Creates `file` holding `text`, or fails with EEXIST: written and synced under a
 * staging name first, then hard-linked to `file` (link, like O_EXCL, never replaces).
 * So the lock file never exists empty or half written: a contender that read it in
 * that state would judge a live holder gone and take its lock over (an O_EXCL create
 * followed by a write left that window open).
 */
function createWithContent(file: string, text: string): void {
  const staging = stagingFile(file, process.pid);
  const fd = fs.openSync(staging, 'w');
  try {
    try {
      fs.writeSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.linkSync(staging, file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
      // A filesystem without hard links: O_EXCL create, then write (the window above reopens).
      const fd2 = fs.openSync(file, 'wx');
      try {
        fs.writeSync(fd2, text);
        fs.fsyncSync(fd2);
      } finally {
        fs.closeSync(fd2);
      }
    }
  } finally {
    fs.rmSync(staging, { force: true });
  }
}

/** Moves a judged-stale lock out of the way, putting back anything else found there. */
function takeOver(file: string, stale: LockHolder): void {
  const aside = `${file}.stale.${process.pid}.${Date.now()}`;
  try {
    fs.renameSync(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // another contender moved it
    throw err;
  }
  const moved = readHolder(aside);
  const same = moved && moved.pid === stale.pid && moved.started === stale.started && moved.host === stale.host;
  if (!same) {
    // We moved a fresh lock created after we judged: put it back (link fails if yet another exists).
    try {
      fs.linkSync(aside, file);
    } catch {
      // A newer lock is in place; the one we moved loses its claim, and its holder finds out on release.
    }
  }
  fs.rmSync(aside, { force: true });
}

/** Removes staging files (stagingFile) that a run killed while taking `file` left behind. */
function removeDeadStaging(file: string): void {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(prefix) || !n.endsWith('.new')) continue;
    const pid = Number(n.slice(prefix.length, -'.new'.length));
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !pidAlive(pid)) fs.rmSync(path.join(dir, n), { force: true });
  }
}

function register(file: string, holder: LockHolder, text: string): Lock {
  let released = false;
  const lock: Lock = {
    file,
    holder,
    release() {
      if (released) return;
      released = true;
      held.delete(lock);
      // Only remove it if it is still ours (a takeover by a run that judged us dead must not be undone).
      try {
        if (fs.readFileSync(file, 'utf8') === text) fs.rmSync(file, { force: true });
      } catch {
        // already gone
      }
    },
  };
  held.add(lock);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', releaseAllLocks);
  }
  return lock;
}

/** The lock file guarding output directory `dir`. */
export function dirLockFile(dir: string): string {
  return path.join(dir, LOCK_NAME);
}

/** The lock file guarding output file `file` (beside it, hidden). */
export function fileLockFile(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.lock`);
}

export const LOCK_NAME = '.pipeline.lock';
