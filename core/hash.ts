/**
 * 32-bit integer hashing shared by featurize (per-feature ids), HashNet and SCMA
 * (locations and MinHash). Math.imul keeps everything in int32 arithmetic: no
 * allocation, no BigInt, which matters on the per-row hot paths.
 */

/** murmur3's finalizer: a bijection on uint32 with full avalanche. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of two uint32 words under a seed (murmur3-style mixing of each word). */
export function hash2(a: number, b: number, seed: number): number {
  let h = seed >>> 0;
  let k = Math.imul(a, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  k = Math.imul(b, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  return fmix32(h ^ 8);
}

/** Hash of three uint32 words under a seed. */
export function hash3(a: number, b: number, c: number, seed: number): number {
  return hash2(hash2(a, b, seed), c, seed ^ 0x9e3779b9);
}

/** A small seeded PRNG (mulberry32) for deterministic sampling, shuffling and init. */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
