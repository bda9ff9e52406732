/**
 * A cheap identity of an input file for resume: size, mtime and the CRC-32 of its
 * first and last MiB. Reading the whole input again would cost as much as the run;
 * these catch an appended, truncated, replaced or rewritten file, including one
 * rewritten to the same size (the case sizes alone missed).
 */
import { promises as fsp } from 'node:fs';
import { checksumHex, crc32 } from '../core/checksum.js';

export interface FileFingerprint {
  size: number;
  mtimeMs: number;
  /** CRC-32 of the first MiB and of the last MiB (they overlap for small files). */
  head: string;
  tail: string;
}

const SPAN = 1 << 20;

export async function fingerprintFile(file: string): Promise<FileFingerprint> {
  const fh = await fsp.open(file, 'r');
  try {
    const st = await fh.stat();
    const size = st.size;
    const buf = Buffer.alloc(Math.min(SPAN, size));
    const { bytesRead: h } = await fh.read(buf, 0, buf.length, 0);
    const head = checksumHex(crc32(buf.subarray(0, h)));
    const { bytesRead: t } = await fh.read(buf, 0, buf.length, Math.max(0, size - SPAN));
    const tail = checksumHex(crc32(buf.subarray(0, t)));
    return { size, mtimeMs: st.mtimeMs, head, tail };
  } finally {
    await fh.close();
  }
}

/** What differs between two fingerprints, in words; null when they match. */
export function fingerprintChange(was: FileFingerprint, now: FileFingerprint): string | null {
  if (was.size !== now.size) return `size ${was.size} -> ${now.size} bytes`;
  if (was.head !== now.head || was.tail !== now.tail) return 'content changed (same size)';
  if (was.mtimeMs !== now.mtimeMs) return `modified since (mtime ${new Date(was.mtimeMs).toISOString()} -> ${new Date(now.mtimeMs).toISOString()})`;
  return null;
}
