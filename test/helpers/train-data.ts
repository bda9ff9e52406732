/** Small FeatureBatches whose rows are identifiable (dense[0] = global row index) for train-stage tests. */
import { emptyFeatureBatch, NUM_CAT, NUM_DENSE, type FeatureBatch } from '../../core/schema.js';

export function numberedBatches(total: number, chunk: number, labeled = true): FeatureBatch[] {
  const out: FeatureBatch[] = [];
  for (let start = 0; start < total; start += chunk) {
    const n = Math.min(chunk, total - start);
    const b = emptyFeatureBatch(n, labeled);
    for (let i = 0; i < n; i++) {
      const r = start + i;
      for (let k = 0; k < NUM_DENSE; k++) b.dense[k][i] = r + k / 100;
      for (let k = 0; k < NUM_CAT; k++) b.cats[k][i] = (r * 31 + k) >>> 0;
      if (b.label) b.label[i] = r % 3 === 0 ? 1 : 0;
    }
    out.push(b);
  }
  return out;
}

/** The row ids (dense[0]) of a list of batches, in order. */
export function rowIds(batches: FeatureBatch[]): number[] {
  return batches.flatMap((b) => Array.from(b.dense[0].subarray(0, b.rows)));
}
