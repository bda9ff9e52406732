/**
 * How much a mapping's sharing follows co-occurrence: over every pair of distinct
 * (feature, value)s with an element on the same float, the mean
 * Jaccard similarity of the sets of training rows they occur in (elements compared
 * whatever their j). SCMA is meant to
 * collide values that occur in the same rows (high Jaccard); random sharing (HashNet,
 * ROBE) collides unrelated values (Jaccard near 0).
 *
 * Pairs are the neighbours in a sort by location, so a float holding n elements
 * contributes n - 1 pairs: linear work, and crowded floats do not drown the rest.
 */
import { NUM_CAT, type FeatureBatch } from '../core/schema.js';
import type { LocationCodes } from '../scma/codes.js';

export interface SharingStats {
  /** Values with at least minCount training rows that were considered. */
  values: number;
  /** Sharing pairs found (over all elements j). */
  pairs: number;
  meanJaccard: number;
  /** Share of those pairs whose values never occur in the same row. */
  disjointShare: number;
  /**
   * Pairs whose 32-bit codes are equal: sharing by design (SCMA's equal MinHash tuples),
   * as opposed to codes that differ and meet only modulo M (random collisions).
   */
  sameCodePairs: number;
  /** Mean Jaccard of the same-code pairs. */
  sameCodeJaccard: number;
}

/** Row lists of every (feature, value) in `b`, as CSR: key order, offsets, rows. */
export class RowSets {
  readonly features: Uint8Array;
  readonly values: Uint32Array;
  readonly offsets: Uint32Array;
  readonly rows: Uint32Array;

  constructor(b: FeatureBatch) {
    const index = new Map<number, number>();
    const counts: number[] = [];
    const keyOf: number[] = [];
    const ids = new Uint32Array(b.rows * NUM_CAT);
    for (let f = 0; f < NUM_CAT; f++) {
      const col = b.cats[f];
      for (let r = 0; r < b.rows; r++) {
        const key = f * 4294967296 + col[r];
        let id = index.get(key);
        if (id === undefined) {
          id = counts.length;
          index.set(key, id);
          counts.push(0);
          keyOf.push(key);
        }
        counts[id]++;
        ids[f * b.rows + r] = id;
      }
    }
    const n = counts.length;
    this.features = Uint8Array.from(keyOf, (k) => Math.floor(k / 4294967296));
    this.values = Uint32Array.from(keyOf, (k) => k % 4294967296);
    this.offsets = new Uint32Array(n + 1);
    for (let i = 0; i < n; i++) this.offsets[i + 1] = this.offsets[i] + counts[i];
    this.rows = new Uint32Array(this.offsets[n]);
    const fill = this.offsets.slice(0, n);
    // Feature-major, rows ascending within a feature: each list comes out sorted.
    for (let f = 0; f < NUM_CAT; f++) for (let r = 0; r < b.rows; r++) this.rows[fill[ids[f * b.rows + r]]++] = r;
  }

  get size(): number {
    return this.features.length;
  }

  count(i: number): number {
    return this.offsets[i + 1] - this.offsets[i];
  }

  /** |A ∩ B| / |A ∪ B| of two sorted row lists. */
  jaccard(a: number, b: number): number {
    let i = this.offsets[a];
    const ie = this.offsets[a + 1];
    let j = this.offsets[b];
    const je = this.offsets[b + 1];
    const rows = this.rows;
    let inter = 0;
    while (i < ie && j < je) {
      if (rows[i] === rows[j]) {
        inter++;
        i++;
        j++;
      } else if (rows[i] < rows[j]) i++;
      else j++;
    }
    return inter / (ie - this.offsets[a] + je - this.offsets[b] - inter);
  }
}

export function sharingStats(sets: RowSets, codes: LocationCodes, memoryFloats: number, minCount = 1): SharingStats {
  const d = codes.dim;
  const chosen: number[] = [];
  // Value 0 is "empty" (featurize reserves it): not an embedding anyone learns.
  for (let i = 0; i < sets.size; i++) if (sets.values[i] !== 0 && sets.count(i) >= minCount) chosen.push(i);
  const n = chosen.length;
  // Every element of every value, whatever its j: element j of one value and element
  // k of another share a float just as well (ROBE's blocks overlap at shifted j).
  const loc = new Float64Array(n * d);
  const code = new Uint32Array(n * d);
  for (let k = 0; k < n; k++) {
    const i = chosen[k];
    codes.codesInto(sets.features[i], sets.values[i], code, k * d);
    for (let j = 0; j < d; j++) loc[k * d + j] = code[k * d + j] % memoryFloats;
  }
  let pairs = 0;
  let sum = 0;
  let disjoint = 0;
  let same = 0;
  let sameSum = 0;
  const order = Uint32Array.from({ length: n * d }, (_, e) => e);
  // Equal codes sort next to each other within a location, so their pairs are found.
  order.sort((a, b) => loc[a] - loc[b] || code[a] - code[b] || a - b);
  for (let e = 1; e < order.length; e++) {
    const a = order[e - 1];
    const b = order[e];
    if (loc[a] !== loc[b]) continue;
    const va = Math.floor(a / d);
    const vb = Math.floor(b / d);
    if (va === vb) continue; // one value's own elements on one float: not sharing between values
    const jac = sets.jaccard(chosen[va], chosen[vb]);
    sum += jac;
    if (jac === 0) disjoint++;
    if (code[a] === code[b]) {
      same++;
      sameSum += jac;
    }
    pairs++;
  }
  return { values: n, pairs, meanJaccard: pairs ? sum / pairs : NaN, disjointShare: pairs ? disjoint / pairs : NaN, sameCodePairs: same, sameCodeJaccard: same ? sameSum / same : NaN };
}
