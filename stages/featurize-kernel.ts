/**
 * The featurize kernel: option resolution and the per-value arithmetic shared by
 * the featurize stage and the parser's direct (fused) mode. See featurize.ts for
 * the definitions.
 */
import { hash2 } from '../core/hash.js';
import { invalidOption } from '../core/errors.js';
import { NUM_CAT } from '../core/schema.js';

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

/**
 * log1p of the small integers that make up nearly all Criteo counts, already
 * rounded to float32: the same numbers Math.log1p gives, at a table lookup's cost.
 */
export const LOG1P_TABLE_SIZE = 1 << 16;
const LOG1P_TABLE = new Float32Array(LOG1P_TABLE_SIZE);
for (let x = 0; x < LOG1P_TABLE_SIZE; x++) LOG1P_TABLE[x] = Math.log1p(x);

/**
 * The table, for a caller's loop to hold in a local and pass to denseFeature: a
 * module-level binding read per value costs V8 a context load and a TDZ check
 * each time; a local costs neither.
 */
export function log1pTable(): Float32Array {
  return LOG1P_TABLE;
}

/**
 * THE dense transform, DLRM's log(1 + max(x, 0)): NaN (an empty field), negatives
 * and -0 give 0. The one place it is written: featurizeInto, featurizeBatch and the
 * parser's direct mode all call it, so the paths cannot drift apart.
 */
export function denseFeature(x: number, table: Float32Array): number {
  return x > 0 ? (x < LOG1P_TABLE_SIZE && (x | 0) === x ? table[x] : Math.log1p(x)) : 0;
}

/**
 * THE category id of present value `value` (uint32) of categorical feature `feature`
 * (0-based) with `buckets` ids: 1 + hash2(value, feature, seed) % (buckets - 1). An
 * empty field is id 0 and never reaches this function. Unbucketed (2^32 ids) skips
 * the float modulo: h % (2^32 - 1) is h itself except for h = 2^32 - 1, which wraps
 * to 0 (id 1). Called per value by featurizeInto and the parser's direct mode.
 */
export function catId(value: number, feature: number, seed = 0, buckets = UNBUCKETED): number {
  const h = hash2(value, feature, seed);
  if (buckets === UNBUCKETED) return h === 0xffffffff ? 1 : h + 1;
  return 1 + (h % (buckets - 1));
}

/** Columns that featurizeInto fills: at least `at + raw.rows` long each. */
export interface FeatureColumns {
  label: Uint8Array | null;
  dense: Float32Array[];
  cats: Uint32Array[];
}

