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
import { hash2 } from '../pipeline/hash.js';
import { invalidOption } from '../pipeline/errors.js';
import { NUM_CAT, NUM_DENSE, type FeatureBatch } from '../pipeline/schema.js';
import type { RawBatch } from './parse.js';

/** Where a batch's rows came from (carried along so sinks can record provenance and resume). */
export interface RowSource {
  file: string;
  fileIndex: number;
  firstRow: number;
  firstLine: number;
  lines: Float64Array;
}

export type SourcedFeatureBatch = FeatureBatch & { source?: RowSource };

export interface FeaturizeOptions {
  /** Ids per categorical feature: one integer N >= 2 for all, or a list of 26; ids are then in [0, N). Default: unbucketed (2^32). */
  buckets?: number | readonly number[];
  /** Salt of the per-feature hash. Default 0. */
  seed?: number;
}

export interface ResolvedFeaturizeOptions {
  /** Per feature N (2^32 when unbucketed). */
  buckets: Float64Array;
  seed: number;
}

export const UNBUCKETED = 2 ** 32;

function checkBuckets(n: unknown, name: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 2 || n > UNBUCKETED) {
    throw invalidOption(name, `must be an integer from 2 to ${UNBUCKETED}`, n);
  }
  return n;
}

/** Options that went through resolveFeaturizeOptions, so a per-batch call need not check them again. */
const resolved = new WeakSet<object>();

export function resolveFeaturizeOptions(opts: FeaturizeOptions | ResolvedFeaturizeOptions = {}): ResolvedFeaturizeOptions {
  if (opts === null || typeof opts !== 'object') throw invalidOption('options', 'must be an object', opts);
  if (resolved.has(opts)) return opts as ResolvedFeaturizeOptions;
  const { buckets, seed = 0 } = opts as FeaturizeOptions;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw invalidOption('seed', 'must be an integer from 0 to 4294967295', seed);
  }
  const per = new Float64Array(NUM_CAT).fill(UNBUCKETED);
  if (Array.isArray(buckets)) {
    if (buckets.length !== NUM_CAT) throw invalidOption('buckets', `must be one integer or a list of ${NUM_CAT}`, buckets);
    buckets.forEach((n, f) => (per[f] = checkBuckets(n, `buckets[${f}]`)));
  } else if (buckets !== undefined) {
    per.fill(checkBuckets(buckets, 'buckets'));
  }
  const out = { buckets: per, seed };
  resolved.add(out);
  return out;
}

/** The id of present value `value` (uint32) of categorical feature `feature` (0-based). */
export function catId(value: number, feature: number, seed = 0, buckets = UNBUCKETED): number {
  return 1 + (hash2(value, feature, seed) % (buckets - 1));
}

/**
 * log1p of the small integers that make up nearly all Criteo counts, already
 * rounded to float32: the same numbers Math.log1p gives, at a table lookup's cost.
 */
export const LOG1P_TABLE_SIZE = 1 << 16;
let log1pTable: Float32Array | null = null;
export function getLog1pTable(): Float32Array {
  if (!log1pTable) {
    log1pTable = new Float32Array(LOG1P_TABLE_SIZE);
    for (let x = 0; x < LOG1P_TABLE_SIZE; x++) log1pTable[x] = Math.log1p(x);
  }
  return log1pTable;
}

/** Columns that featurizeInto fills: at least `at + raw.rows` long each. */
export interface FeatureColumns {
  label: Uint8Array | null;
  dense: Float32Array[];
  cats: Uint32Array[];
}

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
