/**
 * The embedding layer: one interface, one implementation per backend family
 * (DESIGN §4). The training step differentiates the loss with respect to the
 * tensors begin() returns, whatever they are:
 *  - composite (any backend): the memory variable itself; embed() gathers from it
 *    with standard tfjs ops and autodiff produces a dense gradient over all of M;
 *  - cpu-sparse: the already-gathered [rows, 26, d] output; update() scatter-adds
 *    its gradient into the typed array, touching only the locations the batch used;
 *  - webgpu: like cpu-sparse, with memory in GPUBuffers: begin() uploads the batch's
 *    distinct values, computes locations and gathers on the GPU; update() sums the
 *    gradient per value and steps the touched locations in WGSL kernels.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { PipelineError } from '../../core/errors.js';
import type { EmbeddingSpec, ModelState } from '../types.js';

export const NUM_FEATURES = 26;

export type EmbeddingImpl = 'composite' | 'cpu-sparse' | 'webgpu';
/** Implementations that run on every backend (the CPU tests cover these). */
export const EMBEDDING_IMPLS: readonly EmbeddingImpl[] = ['composite', 'cpu-sparse'];
/** Implementations that need a GPU backend (bench/webgpu-check.ts checks these on the GPU). */
export const GPU_EMBEDDING_IMPLS: readonly EmbeddingImpl[] = ['webgpu'];

export interface NamedArray {
  name: string;
  shape: number[];
  values: Float32Array;
}

export interface EmbeddingOptions {
  spec: EmbeddingSpec;
  dim: number;
  learningRate: number;
  optimizer: 'sgd' | 'adagrad';
  seed: number;
}

export interface EmbeddingLayer {
  readonly kind: EmbeddingSpec['kind'];
  readonly impl: EmbeddingImpl;
  readonly dim: number;
  /** Floats of embedding memory (M, or total rows x d for full tables). */
  readonly memoryFloats: number;
  /**
   * Computes this batch's locations (on the CPU) and returns the tensors the loss
   * is differentiated with respect to. They stay owned by the layer.
   */
  begin(cats: Uint32Array, rows: number): tf.Tensor[];
  /** [rows, 26, d] from begin()'s tensors; runs inside the gradient tape. */
  embed(inputs: tf.Tensor[]): tf.Tensor3D;
  /** Applies d(loss)/d(begin()'s tensors), disposes those gradients and ends the batch. */
  update(grads: tf.Tensor[]): Promise<void>;
  /** Ends a batch without updating (prediction). */
  end(): void;
  /** The rate of the next updates (a schedule changes it per step). */
  setLearningRate(lr: number): void;
  exportState(): Promise<EmbeddingState>;
  importState(state: EmbeddingState): void;
  dispose(): void;
}

/** Adagrad as PyTorch defines it: initial accumulator 0, eps added after the sqrt. */
export const ADAGRAD_EPS = 1e-10;

export interface EmbeddingState {
  embedding: NamedArray[];
  optimizer: NamedArray[];
}

/** Every implementation saves the same arrays, so a state moves between them (and backends). */
export function toEmbeddingState(shape: number[], memory: Float32Array, accum: Float32Array | undefined): EmbeddingState {
  return {
    embedding: [{ name: 'embedding.memory', shape: shape.slice(), values: memory }],
    optimizer: accum ? [{ name: 'embedding.adagrad', shape: shape.slice(), values: accum }] : [],
  };
}

/** The memory (and, when this layer uses Adagrad, its accumulator) from a saved state, checked against `shape`. */
export function fromEmbeddingState(state: EmbeddingState, shape: number[], withAccum: boolean): { memory: Float32Array; accum: Float32Array | undefined } {
  return {
    memory: pick(state.embedding, 'embedding.memory', shape),
    accum: withAccum ? pick(state.optimizer, 'embedding.adagrad', shape) : undefined,
  };
}

/** The named array from a saved state, checked against the shape this model needs. */
export function pick(list: NamedArray[], name: string, shape: number[]): Float32Array {
  const a = list.find((x) => x.name === name);
  if (!a) throw new PipelineError('ERR_STATE_MISMATCH', `saved state has no ${name}`, { field: name });
  const size = shape.reduce((p, n) => p * n, 1);
  if (a.shape.length !== shape.length || a.shape.some((n, i) => n !== shape[i]) || a.values.length !== size) {
    throw new PipelineError('ERR_STATE_MISMATCH', `saved ${name} has shape [${a.shape}], this model needs [${shape}]`, { field: name });
  }
  return a.values;
}

/**
 * A saved state's dense arrays in the order of `params`, every one checked (name,
 * shape, count) before the caller changes anything, so a mismatch leaves the model as
 * it was. Shared by the tfjs model, the fused WebGPU step and the CPU step.
 */
export function checkedDenseState(state: ModelState, params: readonly { name: string; shape: readonly number[] }[]): Float32Array[] {
  if (!state || !Array.isArray(state.dense) || !Array.isArray(state.embedding) || !Array.isArray(state.optimizer)) {
    throw new PipelineError('ERR_STATE_MISMATCH', 'saved state must have dense, embedding and optimizer arrays');
  }
  const values = params.map((p) => pick(state.dense, p.name, [...p.shape]));
  if (state.dense.length !== params.length) throw new PipelineError('ERR_STATE_MISMATCH', `saved state has ${state.dense.length} dense arrays, this model has ${params.length}`);
  return values;
}
