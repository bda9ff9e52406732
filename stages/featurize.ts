/**
 * featurize: RawBatch -> FeatureBatch.
 *
 * Dense (DLRM's transform): x -> log(1 + max(x, 0)) computed in float64
 * (Math.log1p) and stored as float32; an empty field -> 0.
 *
 * Categorical: the hex value v (uint32) of feature f (0-based, c1 is 0) gets
 *
 *     h  = hash2(v, f, seed)                  (pipeline/hash.ts, murmur3 mixing)
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
import { hash2 } from '../core/hash.js';
import { NUM_CAT, NUM_DENSE, type FeatureBatch } from '../core/schema.js';
import type { RawBatch } from './parse.js';
import { getLog1pTable, LOG1P_TABLE_SIZE, resolveFeaturizeOptions, UNBUCKETED, type FeatureColumns, type FeaturizeOptions, type ResolvedFeaturizeOptions } from './featurize-kernel.js';
export { catId, resolveFeaturizeOptions, UNBUCKETED, type FeatureColumns, type FeaturizeOptions, type ResolvedFeaturizeOptions } from './featurize-kernel.js';

/** Where a batch's rows came from (carried along so sinks can record provenance and resume). */
export interface RowSource {
  file: string;
  fileIndex: number;
  firstRow: number;
  firstLine: number;
  lines: Float64Array;
}

export type SourcedFeatureBatch = FeatureBatch & { source?: RowSource };

/**
 * Pure: writes raw's rows featurized into `out` from row `at` on (every cell is
 * written, so `out` may be a reused buffer). The label is copied when `out` has one.
 */
export function featurizeInto(raw: RawBatch, out: FeatureColumns, at: number, opts: FeaturizeOptions | ResolvedFeaturizeOptions = {}): void {
  const { buckets, seed } = resolveFeaturizeOptions(opts);
  const n = raw.rows;
  const table = getLog1pTable();
  if (out.label && raw.label) out.label.set(raw.label.subarray(0, n), at);
  for (let i = 0; i < NUM_DENSE; i++) {
    const src = raw.ints[i];
    const dst = out.dense[i];
    for (let r = 0; r < n; r++) {
      const x = src[r];
      // NaN (empty) and negatives -> 0.
      dst[at + r] = x > 0 ? (x < LOG1P_TABLE_SIZE && (x | 0) === x ? table[x] : Math.log1p(x)) : 0;
    }
  }
  for (let f = 0; f < NUM_CAT; f++) {
    const vals = raw.cats[f];
    const present = raw.catPresent[f];
    const dst = out.cats[f];
    if (buckets[f] === UNBUCKETED) {
      // 1 + h % (2^32 - 1), without a float modulo: only h = 2^32 - 1 wraps (to 1).
      for (let r = 0; r < n; r++) {
        if (present[r] !== 0) {
          const h = hash2(vals[r], f, seed);
          dst[at + r] = h === 0xffffffff ? 1 : h + 1;
        } else dst[at + r] = 0;
      }
    } else {
      const m = buckets[f] - 1;
      for (let r = 0; r < n; r++) dst[at + r] = present[r] !== 0 ? 1 + (hash2(vals[r], f, seed) % m) : 0;
    }
  }
}

/** Pure: a new FeatureBatch (the label array is shared with `raw`, not copied). */
export function featurizeBatch(raw: RawBatch, opts: FeaturizeOptions | ResolvedFeaturizeOptions = {}): SourcedFeatureBatch {
  // Kept apart from featurizeInto: fresh arrays are zero-filled, so this loop writes only non-zero cells.
  const { buckets, seed } = resolveFeaturizeOptions(opts);
  const n = raw.rows;
  const table = getLog1pTable();
  const dense: Float32Array[] = new Array(NUM_DENSE);
  for (let i = 0; i < NUM_DENSE; i++) {
    const src = raw.ints[i];
    const dst = new Float32Array(n);
    for (let r = 0; r < n; r++) {
      const x = src[r];
      // NaN (empty) and negatives -> 0, which the zero-filled array already holds.
      if (x > 0) dst[r] = x < LOG1P_TABLE_SIZE && (x | 0) === x ? table[x] : Math.log1p(x);
    }
    dense[i] = dst;
  }
  const cats: Uint32Array[] = new Array(NUM_CAT);
  for (let f = 0; f < NUM_CAT; f++) {
    const vals = raw.cats[f];
    const present = raw.catPresent[f];
    const dst = new Uint32Array(n);
    if (buckets[f] === UNBUCKETED) {
      // 1 + h % (2^32 - 1), without a float modulo: only h = 2^32 - 1 wraps (to 1).
      for (let r = 0; r < n; r++) {
        if (present[r] !== 0) {
          const h = hash2(vals[r], f, seed);
          dst[r] = h === 0xffffffff ? 1 : h + 1;
        }
      }
    } else {
      const m = buckets[f] - 1;
      for (let r = 0; r < n; r++) if (present[r] !== 0) dst[r] = 1 + (hash2(vals[r], f, seed) % m);
    }
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
