/**
 * Vocabularies for full embedding tables: a count reduce over the training rows
 * (as DLRM and NVTabular build them), giving each kept value of each feature a
 * contiguous row; values rarer than minCount, and values never seen in training,
 * share one out-of-vocabulary row (row 0). With bucketed ids (preprocess --buckets
 * N) the ids already are rows: the identity vocabulary of size N.
 *
 * Counts and vocabularies live in typed-array hash tables (core/u32-table.ts), not JS
 * Maps: a Map stops at 2^24 entries and Criteo Terabyte has features with ~40M
 * distinct ids. Memory: 8 bytes per table slot, 10.7 to 21.3 bytes per distinct value
 * (per feature, while counting; and again for the vocabulary's lookup table).
 */
import { NUM_CAT, type FeatureBatch } from '../core/schema.js';
import { invalidOption } from '../core/errors.js';
import { U32Table } from '../core/u32-table.js';
import { DistinctCounter } from '../core/distinct-counter.js';

/** Per-feature vocabulary for full embedding tables: id -> row in 0..size(f)-1. */
export interface Vocabulary {
  /** Rows of feature f's table, including the row for values not in the vocabulary. */
  size(feature: number): number;
  index(feature: number, value: number): number;
}

export const OOV_ROW = 0;

/** Streaming per-feature value counts; partial counters merge by addition. */
export class ValueCounter {
  readonly counts: U32Table[] = Array.from({ length: NUM_CAT }, () => new U32Table());
  rows = 0;

  add(b: FeatureBatch): void {
    for (let f = 0; f < NUM_CAT; f++) {
      const col = b.cats[f];
      const m = this.counts[f];
      for (let i = 0; i < b.rows; i++) m.add(col[i]);
    }
    this.rows += b.rows;
  }

  merge(other: ValueCounter): void {
    for (let f = 0; f < NUM_CAT; f++) this.counts[f].addAll(other.counts[f]);
    this.rows += other.rows;
  }

  /** Distinct values per feature: DLRM's per-feature counts that size full tables and M. */
  distinct(): number[] {
    return this.counts.map((m) => m.size);
  }

  vocabulary({ minCount = 1 }: { minCount?: number } = {}): FeatureVocabulary {
    if (!Number.isInteger(minCount) || minCount < 1) throw invalidOption('min-count', 'must be a positive integer', minCount);
    // Sorted values make the row assignment independent of input order details.
    return new FeatureVocabulary(this.counts.map((m) => m.keysAtLeast(minCount)));
  }
}

/**
 * Distinct values per feature without their counts, for sizing shared memory (M =
 * compression x distinct x d), where an estimate serves: exact up to `exactLimit`
 * distinct values in a feature (the same numbers as ValueCounter.distinct()), then a
 * HyperLogLog estimate (about 0.8% standard error) in 16 KiB. So a Terabyte-sized
 * feature (40M values) costs kilobytes here, not the gigabytes an exact count takes.
 */
export async function countDistinct(source: AsyncIterable<FeatureBatch> | Iterable<FeatureBatch>, exactLimit = 1_000_000): Promise<{ rows: number; distinct: number[]; exact: boolean }> {
  const counters = Array.from({ length: NUM_CAT }, () => new DistinctCounter(exactLimit));
  let rows = 0;
  for await (const b of source) {
    for (let f = 0; f < NUM_CAT; f++) {
      const col = b.cats[f];
      const c = counters[f];
      for (let i = 0; i < b.rows; i++) c.add(col[i]);
    }
    rows += b.rows;
  }
  return { rows, distinct: counters.map((c) => c.count), exact: counters.every((c) => c.exact) };
}

export async function countValues(source: AsyncIterable<FeatureBatch>): Promise<ValueCounter> {
  const counter = new ValueCounter();
  for await (const b of source) counter.add(b);
  return counter;
}

export class FeatureVocabulary implements Vocabulary {
  readonly kind = 'table';
  private readonly maps: U32Table[];
  /** Per feature, the kept values in row order (row = position + 1). */
  constructor(readonly keys: Uint32Array[]) {
    if (keys.length !== NUM_CAT) throw invalidOption('vocabulary', `must have ${NUM_CAT} features`, keys.length);
    this.maps = keys.map((k) => {
      const m = new U32Table(k.length);
      for (let i = 0; i < k.length; i++) m.set(k[i], i + 1);
      return m;
    });
  }
  size(feature: number): number {
    return this.keys[feature].length + 1;
  }
  index(feature: number, value: number): number {
    return this.maps[feature].get(value); // 0 when absent: OOV_ROW
  }
  totalRows(): number {
    return this.keys.reduce((s, k) => s + k.length + 1, 0);
  }
}

export class IdentityVocabulary implements Vocabulary {
  readonly kind = 'identity';
  private readonly sizes: number[];
  /** One N for every feature, or preprocess's per-feature list of 26. */
  constructor(readonly buckets: number | readonly number[]) {
    const list = typeof buckets === 'number' ? new Array(NUM_CAT).fill(buckets) : [...buckets];
    if (list.length !== NUM_CAT || !list.every((n) => Number.isInteger(n) && n >= 1)) throw invalidOption('buckets', `must be a positive integer or a list of ${NUM_CAT}`, buckets);
    this.sizes = list;
  }
  size(feature: number): number {
    return this.sizes[feature];
  }
  index(feature: number, value: number): number {
    // Bucketed ids are already < N; the modulo only guards against a mismatched input.
    return value % this.sizes[feature];
  }
  totalRows(): number {
    return this.sizes.reduce((a, b) => a + b, 0);
  }
}

/** Binary form for checkpoints and saved models: per feature [count, ...values] as uint32. */
export function encodeVocabulary(v: FeatureVocabulary): Uint32Array {
  const out = new Uint32Array(NUM_CAT + v.keys.reduce((s, k) => s + k.length, 0));
  let o = 0;
  for (const k of v.keys) {
    out[o++] = k.length;
    out.set(k, o);
    o += k.length;
  }
  return out;
}

export function decodeVocabulary(data: Uint32Array): FeatureVocabulary {
  const keys: Uint32Array[] = [];
  let o = 0;
  for (let f = 0; f < NUM_CAT; f++) {
    if (o >= data.length) throw invalidOption('vocabulary', 'must hold 26 features', `${f} features`);
    const n = data[o++];
    keys.push(data.slice(o, o + n));
    o += n;
  }
  return new FeatureVocabulary(keys);
}
