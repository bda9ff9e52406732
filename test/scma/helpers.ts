/** Small FeatureBatch builders for the MinHash tests. */
import { emptyFeatureBatch, NUM_CAT, type FeatureBatch } from '../../core/schema.js';
import { mulberry32 } from '../../core/hash.js';

/** Rows whose every categorical value is unique to the row (ids >= 1e9 + row), except where `set` says. */
export function uniqueRows(rows: number): FeatureBatch {
  const b = emptyFeatureBatch(rows);
  for (let c = 0; c < NUM_CAT; c++) for (let i = 0; i < rows; i++) b.cats[c][i] = 1_000_000_000 + c * 1_000_000 + i;
  return b;
}

/** Zipf-ish random rows: value = floor(u^3 * card) + 1 per feature. */
export function randomBatches(rows: number, batchRows: number, seed: number): FeatureBatch[] {
  const rnd = mulberry32(seed);
  const out: FeatureBatch[] = [];
  for (let s = 0; s < rows; s += batchRows) {
    const n = Math.min(batchRows, rows - s);
    const b = emptyFeatureBatch(n);
    for (let c = 0; c < NUM_CAT; c++) {
      const card = [20, 500, 100_000][c % 3];
      for (let i = 0; i < n; i++) b.cats[c][i] = Math.floor(rnd() ** 3 * card) + 1;
    }
    out.push(b);
  }
  return out;
}

/** Splits batches into batches of `size` rows (to show results don't depend on batching). */
export function rebatch(batches: FeatureBatch[], size: number): FeatureBatch[] {
  const total = batches.reduce((s, b) => s + b.rows, 0);
  const out: FeatureBatch[] = [];
  let src = 0;
  let off = 0;
  for (let s = 0; s < total; s += size) {
    const n = Math.min(size, total - s);
    const b = emptyFeatureBatch(n);
    for (let i = 0; i < n; i++) {
      while (off >= batches[src].rows) {
        src++;
        off = 0;
      }
      for (let c = 0; c < NUM_CAT; c++) b.cats[c][i] = batches[src].cats[c][off];
      off++;
    }
    out.push(b);
  }
  return out;
}

/** Number of pairs (a in xs, b in ys; a != b by index when same array) with equal code mod m. */
export function crossCollisions(xs: Uint32Array, ys: Uint32Array, m: number): number {
  const counts = new Map<number, number>();
  for (const y of ys) counts.set(y % m, (counts.get(y % m) ?? 0) + 1);
  let hits = 0;
  for (const x of xs) hits += counts.get(x % m) ?? 0;
  return hits;
}

/** Binomial tolerance: `z` standard deviations of a proportion p over n trials. */
export function tolerance(p: number, n: number, z = 4.5): number {
  return z * Math.sqrt((p * (1 - p)) / n);
}
