/**
 * The embedding layer for CPU backends: memory is a plain Float32Array. The forward
 * gather runs in JS and enters the graph as a tensor; tfjs differentiates the loss
 * with respect to that tensor, and update() scatters the gradient into the memory,
 * touching only the locations the batch used (coalesced first, so a location used
 * many times gets one update with the summed gradient, as the composite layer and
 * PyTorch's sparse optimizers do).
 */
import * as tf from '@tensorflow/tfjs-core';
import { NUM_FEATURES, fromEmbeddingState, toEmbeddingState, type EmbeddingLayer, type EmbeddingOptions, type EmbeddingState } from './layer.js';
import { Locator } from './locations.js';
import { applySparseUpdate } from './sparse-update.js';
import { initialMemory } from './memory-init.js';

export class CpuSparseEmbedding implements EmbeddingLayer {
  readonly kind;
  readonly impl = 'cpu-sparse' as const;
  readonly dim: number;
  readonly memoryFloats: number;
  private readonly locator: Locator;
  private lr: number;
  readonly memory: Float32Array;
  private readonly accum: Float32Array | undefined;
  /** Summed gradient per location, and which locations it holds (reset after each update). */
  private readonly gradSum: Float32Array;
  private readonly seen: Uint8Array;
  private touched = new Int32Array(0);
  private locs = new Int32Array(0);
  private batchOut: tf.Tensor3D | undefined;
  private count = 0;

  constructor(o: EmbeddingOptions) {
    this.kind = o.spec.kind;
    this.dim = o.dim;
    this.locator = new Locator(o.spec, o.dim);
    this.memoryFloats = this.locator.memoryFloats;
    this.memory = initialMemory(o.spec, this.locator, o.dim, o.seed);
    this.accum = o.optimizer === 'adagrad' ? new Float32Array(this.memoryFloats) : undefined;
    this.gradSum = new Float32Array(this.memoryFloats);
    this.seen = new Uint8Array(this.memoryFloats);
    this.lr = o.learningRate;
  }

  begin(cats: Uint32Array, rows: number): tf.Tensor[] {
    this.end();
    const n = rows * NUM_FEATURES * this.dim;
    if (this.locs.length < n) {
      this.locs = new Int32Array(n);
      this.touched = new Int32Array(n);
    }
    const locs = this.locs.subarray(0, n);
    this.locator.flatInto(cats, rows, locs);
    // tfjs keeps (not copies) the array on the cpu backend, so each batch needs its own.
    const out = new Float32Array(n);
    const mem = this.memory;
    for (let i = 0; i < n; i++) out[i] = mem[locs[i]];
    this.count = n;
    this.batchOut = tf.tensor3d(out, [rows, NUM_FEATURES, this.dim], 'float32');
    return [this.batchOut];
  }

  embed(inputs: tf.Tensor[]): tf.Tensor3D {
    return inputs[0] as tf.Tensor3D;
  }

  async update(grads: tf.Tensor[]): Promise<void> {
    const g = (await grads[0].data()) as Float32Array;
    for (const t of grads) t.dispose();
    applySparseUpdate({ memory: this.memory, accum: this.accum, lr: this.lr, locs: this.locs, grads: g, n: this.count, gradSum: this.gradSum, seen: this.seen, touched: this.touched });
    this.end();
  }

  setLearningRate(lr: number): void {
    this.lr = lr;
  }

  end(): void {
    this.batchOut?.dispose();
    this.batchOut = undefined;
  }

  async exportState(): Promise<EmbeddingState> {
    return toEmbeddingState(this.locator.stateShape, this.memory.slice(), this.accum?.slice());
  }

  importState(state: EmbeddingState): void {
    const { memory, accum } = fromEmbeddingState(state, this.locator.stateShape, this.accum !== undefined);
    this.memory.set(memory);
    if (this.accum && accum) this.accum.set(accum);
  }

  dispose(): void {
    this.end();
  }
}
