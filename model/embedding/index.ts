/** Picks the embedding implementation for a backend (see layer.ts for the interface). */
import { invalidOption } from '../../core/errors.js';
import { CompositeEmbedding } from './composite.js';
import { CpuSparseEmbedding } from './cpu-sparse.js';
import { WebGpuEmbedding } from './webgpu.js';
import { EMBEDDING_IMPLS, GPU_EMBEDDING_IMPLS, type EmbeddingImpl, type EmbeddingLayer, type EmbeddingOptions } from './layer.js';

export * from './layer.js';
export { Locator } from './locations.js';
export { CompositeEmbedding } from './composite.js';
export { CpuSparseEmbedding } from './cpu-sparse.js';
export { WebGpuEmbedding } from './webgpu.js';

/**
 * 'auto': the in-place sparse update where tensors live in JS memory (cpu, wasm),
 * where it is far faster than a dense update of all M floats per step (see
 * bench/gpu-step.ts --backend cpu); WGSL kernels on webgpu (bench/gpu-step.ts,
 * bench/webgpu-check.ts); the composite of tfjs ops elsewhere.
 */
export function defaultEmbeddingImpl(backend: string): EmbeddingImpl {
  if (backend === 'cpu' || backend === 'wasm') return 'cpu-sparse';
  return backend === 'webgpu' ? 'webgpu' : 'composite';
}

export function createEmbedding(impl: string, backend: string, o: EmbeddingOptions): EmbeddingLayer {
  const chosen = impl === 'auto' ? defaultEmbeddingImpl(backend) : impl;
  switch (chosen) {
    case 'composite':
      return new CompositeEmbedding(o);
    case 'cpu-sparse':
      return new CpuSparseEmbedding(o);
    case 'webgpu':
      return new WebGpuEmbedding(o);
    default:
      throw invalidOption('embedding-impl', `must be one of auto, ${[...EMBEDDING_IMPLS, ...GPU_EMBEDDING_IMPLS].join(', ')}`, impl);
  }
}
