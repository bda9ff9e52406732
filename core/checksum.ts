/**
 * The checksum of shards and mappings: CRC-32 (the zlib/gzip polynomial) from
 * node:zlib, built into Node >= 20.15 and ~1 GB/s on the development machine, so
 * no dependency. It guards against damage (flipped bits, torn copies), not against
 * tampering. bench/checksum.ts measures its cost against reading the shards.
 */
import zlib from 'node:zlib';

export const CHECKSUM_NAME = 'crc32';

/** CRC-32 of `data`, continuing from `prev` (0 to start); an unsigned 32-bit number. */
export function crc32(data: Uint8Array, prev = 0): number {
  return zlib.crc32(data, prev) >>> 0;
}

/** CRC-32 of several pieces in order (equal to the CRC of their concatenation). */
export function crc32Pieces(pieces: readonly Uint8Array[]): number {
  let c = 0;
  for (const p of pieces) c = crc32(p, c);
  return c;
}

/** A typed array's bytes, for checksumming its contents. */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The checksum as written in manifests and metadata: 8 lower-case hex digits. */
export function checksumHex(c: number): string {
  return (c >>> 0).toString(16).padStart(8, '0');
}
