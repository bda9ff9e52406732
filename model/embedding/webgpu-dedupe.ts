/**
 * The CPU half of the WebGPU embedding layer: per batch, the distinct
 * (feature, value) pairs U, the map from each of the rows x 26 lookups to its
 * pair's index u, and the lookups listed pair by pair (occ; u's lookups start at
 * offsets[u]), which the GPU scatter walks in chunks to sum each pair's gradient.
 * Open-addressing tables with
 * generation stamps are reused across batches: no allocation and no clearing per
 * batch once the arrays have grown to the batch size.
 */
import { NUM_FEATURES } from './layer.js';

export class BatchDedupe {
  /** Distinct pairs in the last batch. */
  unique = 0;
  /** Lookups in the last batch (rows x features). */
  lookups = 0;
  /** Feature and value of pair u, for u < unique. */
  uf = new Uint32Array(0);
  uv = new Uint32Array(0);
  /** Pair index of lookup k = row * features + feature. */
  idx = new Uint32Array(0);
  /** Lookups of pair u are occ[offsets[u] .. offsets[u+1]), in increasing k. */
  offsets = new Uint32Array(1);
  occ = new Uint32Array(0);
  private readonly features: number;
  /**
   * One open-addressing table per feature, 3 words per slot (generation stamp,
   * value, pair index) side by side: a probe touches one cache line, and a feature's
   * table (2 x rows slots) stays small enough to sit in cache while its column is
   * scanned. Features are deduped one column at a time, so pairs are numbered
   * feature by feature (nothing depends on that order).
   */
  private slots = new Uint32Array(0);
  private bits = 0;
  private gen = 0;
  private cursor = new Uint32Array(0);

  constructor(features = NUM_FEATURES) {
    this.features = features;
  }

  private grow(n: number, rows: number): void {
    if (this.idx.length < n) {
      this.uf = new Uint32Array(n);
      this.uv = new Uint32Array(n);
      this.idx = new Uint32Array(n);
      this.offsets = new Uint32Array(n + 1);
      this.occ = new Uint32Array(n);
      this.cursor = new Uint32Array(n);
    }
    let bits = 4;
    while (1 << bits < 2 * rows) bits++;
    if (bits > this.bits) {
      this.slots = new Uint32Array(this.features * (1 << bits) * 3);
      this.bits = bits;
      this.gen = 0;
    }
  }

  /** Dedupes cats[0 .. rows*features) (row-major); returns the number of distinct pairs. */
  build(cats: Uint32Array, rows: number): number {
    const F = this.features;
    const n = rows * F;
    this.grow(n, rows);
    if (this.gen === 0xffffffff) {
      this.slots.fill(0);
      this.gen = 0;
    }
    const gen = ++this.gen;
    const { slots, uf, uv, idx, offsets, occ, cursor } = this;
    const shift = 32 - this.bits;
    const mask = (1 << this.bits) - 1;
    let nu = 0;
    for (let f = 0; f < F; f++) {
      const base = f * (mask + 1);
      for (let k = f; k < n; k += F) {
        const v = cats[k];
        let p = Math.imul(v ^ (v >>> 15), 0x9e3779b1) >>> shift;
        let u: number;
        for (;;) {
          const s = (base + p) * 3;
          if (slots[s] !== gen) {
            slots[s] = gen;
            slots[s + 1] = v;
            slots[s + 2] = u = nu;
            uf[nu] = f;
            uv[nu] = v;
            offsets[++nu] = 0;
            break;
          }
          if (slots[s + 1] === v) {
            u = slots[s + 2];
            break;
          }
          p = (p + 1) & mask;
        }
        idx[k] = u;
        offsets[u + 1]++;
      }
    }
    offsets[0] = 0;
    for (let u = 0; u < nu; u++) {
      offsets[u + 1] += offsets[u];
      cursor[u] = offsets[u];
    }
    for (let k = 0; k < n; k++) occ[cursor[idx[k]]++] = k;
    this.unique = nu;
    this.lookups = n;
    return nu;
  }
}
