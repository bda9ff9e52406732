/**
 * The CPU embeddings' sparse update (cpu-sparse's layer and the CPU step): the
 * gradients of a batch's n lookups are summed per memory location first, then each
 * touched location takes one step: Adagrad must see the summed gradient, as DLRM's
 * sparse Adagrad does; SGD takes lr times the sum.
 */
import { ADAGRAD_EPS } from './layer.js';

export interface SparseUpdate {
  memory: Float32Array;
  /** Adagrad's per-element sums; absent for SGD. */
  accum: Float32Array | undefined;
  lr: number;
  /** Memory location of each lookup element, and its gradient. */
  locs: Int32Array;
  grads: Float32Array;
  n: number;
  /** Scratch, memory-sized (gradSum, seen) and n-sized (touched); left zeroed. */
  gradSum: Float32Array;
  seen: Uint8Array;
  touched: Int32Array;
}

export function applySparseUpdate(u: SparseUpdate): void {
  const { memory: mem, accum: acc, lr, locs, grads: g, n, gradSum: sum, seen, touched } = u;
  let t = 0;
  for (let i = 0; i < n; i++) {
    const l = locs[i];
    if (!seen[l]) {
      seen[l] = 1;
      touched[t++] = l;
    }
    sum[l] += g[i];
  }
  if (acc) {
    for (let i = 0; i < t; i++) {
      const l = touched[i];
      const gl = sum[l];
      acc[l] += gl * gl;
      mem[l] -= (lr * gl) / (Math.sqrt(acc[l]) + ADAGRAD_EPS);
      sum[l] = 0;
      seen[l] = 0;
    }
  } else {
    for (let i = 0; i < t; i++) {
      const l = touched[i];
      mem[l] -= lr * sum[l];
      sum[l] = 0;
      seen[l] = 0;
    }
  }
}
