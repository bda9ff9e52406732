/**
 * Initial embedding memory, identical for every implementation.
 * Full tables: each feature's rows U(±sqrt(1/n_f)) (facebookresearch/dlrm).
 * Shared memory (HashNet/SCMA): U(±sqrt(1/n)) over all M floats with n the largest
 * feature's value count, as yanzhoupan/dlrm_ssm initialises its one hashed_weight
 * (max(ln)); spec.initRows carries n, defaulting to M/d (the rows of a table of M floats).
 */
import { fillUniform, paramRng } from '../init.js';
import type { EmbeddingSpec } from '../types.js';
import type { Locator } from './locations.js';
import { NUM_FEATURES } from './layer.js';

export const EMBEDDING_PARAM_ID = 1000;

export function initialMemory(spec: EmbeddingSpec, locator: Locator, dim: number, seed: number): Float32Array {
  const mem = new Float32Array(locator.memoryFloats);
  const rng = paramRng(seed, EMBEDDING_PARAM_ID);
  if (spec.kind === 'full') {
    for (let f = 0; f < NUM_FEATURES; f++) {
      const n = locator.rowOffsets[f + 1] - locator.rowOffsets[f];
      fillUniform(mem, Math.sqrt(1 / n), rng, locator.rowOffsets[f] * dim, locator.rowOffsets[f + 1] * dim);
    }
  } else {
    const n = spec.initRows ?? Math.max(1, Math.floor(spec.memoryFloats / dim));
    fillUniform(mem, Math.sqrt(1 / n), rng);
  }
  return mem;
}
