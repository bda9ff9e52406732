/**
 * Crash-safe file writes, shared by shards' manifests, checkpoints and saved models:
 * a reader (or a resumed run) sees either the old file or the whole new one.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';

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
 * The temp name writeFileAtomic uses for `file`: hidden, same directory, unique per
 * process and moment. Cleaners of a killed run's leftovers match this shape.
 */
export function tempNameFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
}

/** Temp file in the same directory, fsync, rename over `file`, fsync the directory. */
export async function writeFileAtomic(file: string, data: string | Uint8Array | readonly Uint8Array[]): Promise<void> {
  const dir = path.dirname(file);
  const tmp = tempNameFor(file);
  const fh = await fsp.open(tmp, 'w');
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) await fh.writeFile(data);
    else for (const chunk of data) await fh.write(chunk);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await fsp.rename(tmp, file);
  await syncDir(dir);
}
