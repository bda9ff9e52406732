/**
 * featurize: RawBatch -> FeatureBatch.
 *
 * Dense (DLRM's transform): x -> log(1 + max(x, 0)) computed in float64
 * (Math.log1p) and stored as float32; an empty field -> 0.
 *
 * Categorical: the hex value v (uint32) of feature f (0-based, c1 is 0) gets
 *
 *     h  = hash2(v, f, seed)                  (core/hash.ts, murmur3 mixing)  
 *     id = 1 + h % (N - 1)                    for a present value
 *     id = 0                                  for an empty field
 *
 * so ids lie in [0, N) and 0 means "empty" and nothing else. N is `buckets` for
 * that feature (DLRM's --max-ind-range, applied after hashing so the modulo sees
 * well-spread values) and 2^32 when unbucketed. For fixed (f, seed) hash2 is a
 * bijection on uint32, so unbucketed ids collide only for the one pair of h
 * values 0 and 2^32 - 1; per-feature salting keeps equal hex strings of
 * different features apart. Deterministic: same (v, f, seed, N) -> same id, on
 * every machine.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { NUM_CAT, NUM_DENSE, type SourcedFeatureBatch } from '../core/schema.js';
import type { RawBatch } from './parse.js';
import { catId, denseFeature, log1pTable, resolveFeaturizeOptions, type FeatureColumns, type FeaturizeOptions, type ResolvedFeaturizeOptions } from './featurize-kernel.js';
export { catId, resolveFeaturizeOptions, UNBUCKETED, type FeatureColumns, type FeaturizeOptions, type ResolvedFeaturizeOptions } from './featurize-kernel.js';

export type { RowSource, SourcedFeatureBatch } from '../core/schema.js';

/**
 * Pure: writes raw's rows featurized into `out` from row `at` on (every cell is
 * written, so `out` may be a reused buffer). The label is copied when `out` has one.
 * The arithmetic is the kernel's (featurize-kernel.ts); this is only the column walk.
 */
export function featurizeInto(raw: RawBatch, out: FeatureColumns, at: number, opts: FeaturizeOptions | ResolvedFeaturizeOptions = {}): void {
  const { buckets, seed } = resolveFeaturizeOptions(opts);
  const n = raw.rows;
  const table = log1pTable();
  if (out.label && raw.label) out.label.set(raw.label.subarray(0, n), at);
  for (let i = 0; i < NUM_DENSE; i++) {
    const src = raw.ints[i];
    const dst = out.dense[i];
    for (let r = 0; r < n; r++) dst[at + r] = denseFeature(src[r], table);
  }
  for (let f = 0; f < NUM_CAT; f++) {
    const vals = raw.cats[f];
    const present = raw.catPresent[f];
    const dst = out.cats[f];
    const nf = buckets[f];
    for (let r = 0; r < n; r++) dst[at + r] = present[r] !== 0 ? catId(vals[r], f, seed, nf) : 0;
  }
}

/** Pure: a new FeatureBatch (the label array is shared with `raw`, not copied). */
export function featurizeBatch(raw: RawBatch, opts: FeaturizeOptions | ResolvedFeaturizeOptions = {}): SourcedFeatureBatch {
  // Its own column walk rather than featurizeInto on fresh columns: fresh arrays are
  // zero-filled, so it writes only the non-zero cells (empty and non-positive fields
  // stay 0, as the kernel would make them).
  const { buckets, seed } = resolveFeaturizeOptions(opts);
  const n = raw.rows;
  const table = log1pTable();
  const dense: Float32Array[] = new Array(NUM_DENSE);
  for (let i = 0; i < NUM_DENSE; i++) {
    const src = raw.ints[i];
    const dst = new Float32Array(n);
    for (let r = 0; r < n; r++) {
      const x = src[r];
      if (x > 0) dst[r] = denseFeature(x, table);
    }
    dense[i] = dst;
  }
  const cats: Uint32Array[] = new Array(NUM_CAT);
  for (let f = 0; f < NUM_CAT; f++) {
    const vals = raw.cats[f];
    const present = raw.catPresent[f];
    const dst = new Uint32Array(n);
    const nf = buckets[f];
    for (let r = 0; r < n; r++) if (present[r] !== 0) dst[r] = catId(vals[r], f, seed, nf);
    cats[f] = dst;
  }
  return {
    rows: n,
    label: raw.label,
    dense,
    cats,
    source: { file: raw.file, fileIndex: raw.fileIndex, firstRow: raw.firstRow, firstLine: raw.firstLine, lines: raw.lines },
  };
}

/** A Transform of RawBatch -> FeatureBatch (with `source`); options validated here. */
export function featurize(opts: FeaturizeOptions = {}): Transform {
  const options = resolveFeaturizeOptions(opts);
  return new Transform({
    objectMode: true,
    highWaterMark: 2,
    transform(raw: RawBatch, _enc: BufferEncoding, callback: TransformCallback) {
      let out: SourcedFeatureBatch;
      try {
        out = featurizeBatch(raw, options);
      } catch (err) {
        callback(err as Error);
        return;
      }
      callback(null, out);
    },
  });
}
