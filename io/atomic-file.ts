/**
 * Crash-safe file writes, the one way the project replaces a file: shards and their
 * manifest, checkpoints, saved models, mapping files. A reader (or a resumed run)
 * sees either the old file or the whole new one, never a torn one.
 *
 * The recipe: write a temp file in the same directory, fsync it, rename it over the
 * target, fsync the directory. writeFileAtomic does all of it; stageFile splits it in
 * two for writers whose bytes are written elsewhere (a shard encoded and fsynced on a
 * worker) and committed later, in order.
 */
import { promises as fsp, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { onInterrupt } from '../core/interrupt.js';

/** fsync of a directory makes a rename in it durable (no-op where the OS refuses it). */
export async function syncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    // Some platforms (Windows) cannot open or fsync directories; the rename is still atomic.
  } finally {
    await fh?.close();
  }
}

/**
 * The temp name used for `file`: hidden, same directory (a rename across file
 * systems would not be atomic), unique per process and moment. Cleaners of a killed
 * run's leftovers (io/shard-output.ts) match this shape.
 */
export function tempNameFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
}

/** Removes this process's temp files of `file` (tempNameFor's shape); synchronous, for signal handlers. */
export function removeTempFilesOfSync(file: string): void {
  const dir = path.dirname(file);
  const prefix = `.${path.basename(file)}.${process.pid}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith(prefix) && n.endsWith('.tmp')) rmSync(path.join(dir, n), { force: true });
}

/** A file being written under its temp name: write `tmp` (and fsync it), then commit or discard. */
export interface StagedFile {
  readonly file: string;
  readonly tmp: string;
  /** Renames tmp over file and fsyncs the directory. tmp must be complete and fsynced. */
  commit(): Promise<void>;
  /** Removes tmp (if it exists); the target is untouched. */
  discard(): Promise<void>;
}

export function stageFile(file: string): StagedFile {
  const tmp = tempNameFor(file);
  return {
    file,
    tmp,
    async commit() {
      await fsp.rename(tmp, file);
      await syncDir(path.dirname(file));
    },
    async discard() {
      await fsp.rm(tmp, { force: true });
    },
  };
}

export type FileContent = string | Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * Temp file in the same directory, fsync, rename over `file`, fsync the directory.
 * `data` may be chunks (an Arrow writer, say): they are written as they come.
 * Resolves to the bytes written.
 */
/**
 * Atomic writes in flight, for an interrupt: SIGINT/SIGTERM stops them before the
 * cleanups run (core/interrupt.ts), so no temp file appears after a cleanup has looked.
 * A write begun before the signal finishes (its rename leaves a whole file); one asked
 * for after it never starts and never settles, since the process is about to exit
 * (an error there would print a second line after the interrupted one).
 */
const inFlight = new Set<Promise<unknown>>();
let stopping = false;
let unregister: (() => void) | undefined;

function stopWrites(): Promise<void> {
  stopping = true;
  return Promise.allSettled([...inFlight]).then(() => undefined);
}

export async function writeFileAtomic(file: string, data: FileContent): Promise<number> {
  if (stopping) return new Promise<number>(() => {});
  unregister ??= onInterrupt({ status: () => undefined, cleanup: () => {}, stop: stopWrites });
  const write = writeNow(file, data);
  inFlight.add(write);
  try {
    return await write;
  } finally {
    inFlight.delete(write);
  }
}

async function writeNow(file: string, data: FileContent): Promise<number> {
  const staged = stageFile(file);
  const fh = await fsp.open(staged.tmp, 'w');
  let bytes = 0;
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      await fh.writeFile(buf);
      bytes = buf.byteLength;
    } else {
      for await (const chunk of data) {
        await fh.write(chunk);
        bytes += chunk.byteLength;
      }
    }
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await staged.discard();
    throw err;
  }
  await fh.close();
  await staged.commit();
  return bytes;
}
