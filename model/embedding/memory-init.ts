/**
 * Initial embedding memory, identical for every implementation.
 * Full tables: each feature's rows U(±sqrt(1/n_f)) (facebookresearch/dlrm).
 * Shared memory (HashNet/SCMA/ROBE): U(±sqrt(1/n)) over all M floats. yanzhoupan/dlrm_ssm
 * initialises its SCMA array (`hashed_weight` in create_emb, --lsh-emb-flag) with
 * n = max(ln), the largest feature's value count; its HashNet baseline
 * (tricks/hashedEmbeddingBag) keeps one array per feature with n = that feature's count.
 * We share one array for HashNet too, so both use the SCMA rule: `train` passes
 * n = max(ln) as spec.initRows whenever it has counted the values (--compression).
 * Without counts (--memory-floats on a stream) n defaults to M/d, the rows of a table
 * of M floats.
 */
import { PipelineError } from '../../core/errors.js';
import { fillUniform, paramRng } from '../init.js';
import type { EmbeddingSpec } from '../types.js';
import type { Locator } from './locations.js';
import { NUM_FEATURES } from './layer.js';

export const EMBEDDING_PARAM_ID = 1000;

/**
 * The least shared memory we train: d floats per feature. Below it every feature's
 * elements pile onto the same few floats, each float gets the summed gradient of
 * dozens of elements per row, and SGD diverges (`--memory-floats 1` went to NaN).
 */
export function memoryFloor(dim: number, features = NUM_FEATURES): number {
  return features * dim;
}

export function checkMemoryFloor(memoryFloats: number, dim: number): void {
  const floor = memoryFloor(dim);
  if (memoryFloats < floor) {
    throw new PipelineError(
      'ERR_MEMORY_TOO_SMALL',
      `shared embedding memory of ${memoryFloats} floats is below the floor of ${floor} (d = ${dim} floats for each of the ${NUM_FEATURES} features): raise --memory-floats or --compression`,
      { field: 'memory-floats' },
    );
  }
}

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
