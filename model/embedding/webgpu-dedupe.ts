/**
 * The CPU half of the WebGPU embedding layer: per batch, the distinct
 * (feature, value) pairs U, the map from each of the rows x 26 lookups to its
 * pair's index u, and the lookups of each u as CSR (offsets into occ), so the GPU
 * can sum a pair's gradient without atomics. One open-addressing table with
 * generation stamps is reused across batches: no allocation and no clearing per
 * batch once the arrays have grown to the batch size.
 */
import { fmix32 } from '../../core/hash.js';
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
  private slotF = new Uint32Array(0);
  private slotV = new Uint32Array(0);
  private slotU = new Uint32Array(0);
  private stamp = new Uint32Array(0);
  private gen = 0;
  private mask = 0;
  private cursor = new Uint32Array(0);

  constructor(features = NUM_FEATURES) {
    this.features = features;
  }

  private grow(n: number): void {
    if (this.idx.length >= n) return;
    this.uf = new Uint32Array(n);
    this.uv = new Uint32Array(n);
    this.idx = new Uint32Array(n);
    this.offsets = new Uint32Array(n + 1);
    this.occ = new Uint32Array(n);
    this.cursor = new Uint32Array(n);
    let cap = 16;
    while (cap < 2 * n) cap *= 2;
    this.slotF = new Uint32Array(cap);
    this.slotV = new Uint32Array(cap);
    this.slotU = new Uint32Array(cap);
    this.stamp = new Uint32Array(cap);
    this.mask = cap - 1;
    this.gen = 0;
  }

  /** Dedupes cats[0 .. rows*features) (row-major); returns the number of distinct pairs. */
  build(cats: Uint32Array, rows: number): number {
    const F = this.features;
    const n = rows * F;
    this.grow(n);
    if (this.gen === 0xffffffff) {
      this.stamp.fill(0);
      this.gen = 0;
    }
    const gen = ++this.gen;
    const { slotF, slotV, slotU, stamp, uf, uv, idx, offsets, occ, cursor } = this;
    const mask = this.mask;
    let nu = 0;
    let f = 0;
    for (let k = 0; k < n; k++) {
      const v = cats[k];
      let p = fmix32(v ^ Math.imul(f + 1, 0x9e3779b1)) & mask;
      let u: number;
      for (;;) {
        if (stamp[p] !== gen) {
          stamp[p] = gen;
          slotF[p] = f;
          slotV[p] = v;
          slotU[p] = u = nu;
          uf[nu] = f;
          uv[nu] = v;
          offsets[++nu] = 0;
          break;
        }
        if (slotV[p] === v && slotF[p] === f) {
          u = slotU[p];
          break;
        }
        p = (p + 1) & mask;
      }
      idx[k] = u;
      offsets[u + 1]++;
      if (++f === F) f = 0;
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
