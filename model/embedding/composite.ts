/**
 * The embedding layer from standard tfjs ops only, so it runs on every backend:
 * one 1-D variable (M floats, or the concatenated full tables flattened) and one
 * gather of single floats at locations computed on the CPU. (A [rows, d] table with
 * a row gather failed on WebGPU for Kaggle-sized tables: its gradient's dispatch
 * exceeded the Y/Z workgroup limit.) The gradient comes
 * from autodiff (a dense unsortedSegmentSum over all of memory) and the update is
 * a dense op over all of memory: correct everywhere, slow where M is large.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ADAGRAD_EPS, NUM_FEATURES, fromEmbeddingState, toEmbeddingState, type EmbeddingLayer, type EmbeddingOptions, type EmbeddingState } from './layer.js';
import { Locator } from './locations.js';
import { initialMemory } from './memory-init.js';

export class CompositeEmbedding implements EmbeddingLayer {
  readonly kind;
  readonly impl = 'composite' as const;
  readonly dim: number;
  readonly memoryFloats: number;
  private readonly locator: Locator;
  private readonly memory: tf.Variable;
  private readonly accum: tf.Variable | undefined;
  private lr: tf.Scalar;
  private locs = new Int32Array(0);
  private batchLocs: tf.Tensor1D | undefined;
  private rows = 0;

  constructor(o: EmbeddingOptions) {
    this.kind = o.spec.kind;
    this.dim = o.dim;
    this.locator = new Locator(o.spec, o.dim);
    this.memoryFloats = this.locator.memoryFloats;
    const init = initialMemory(o.spec, this.locator, o.dim, o.seed);
    this.memory = tf.tidy(() => tf.variable(tf.tensor1d(init, 'float32'), true, undefined, 'float32'));
    this.accum = o.optimizer === 'adagrad' ? tf.tidy(() => tf.variable(tf.zeros([this.memoryFloats], 'float32'), false)) : undefined;
    this.lr = tf.keep(tf.scalar(o.learningRate, 'float32'));
  }

  begin(cats: Uint32Array, rows: number): tf.Tensor[] {
    this.end();
    const n = rows * NUM_FEATURES * this.dim;
    if (this.locs.length < n) this.locs = new Int32Array(n);
    const view = this.locs.subarray(0, n);
    this.locator.flatInto(cats, rows, view);
    this.batchLocs = tf.tensor1d(view, 'int32');
    this.rows = rows;
    return [this.memory];
  }

  embed(inputs: tf.Tensor[]): tf.Tensor3D {
    if (!this.batchLocs) throw new Error('embed() before begin()');
    return tf.reshape(tf.gather(inputs[0], this.batchLocs, 0), [this.rows, NUM_FEATURES, this.dim]);
  }

  async update(grads: tf.Tensor[]): Promise<void> {
    const g = grads[0];
    tf.tidy(() => {
      if (this.accum) {
        this.accum.assign(tf.add(this.accum, tf.square(g)));
        this.memory.assign(tf.sub(this.memory, tf.div(tf.mul(g, this.lr), tf.add(tf.sqrt(this.accum), ADAGRAD_EPS))));
      } else {
        this.memory.assign(tf.sub(this.memory, tf.mul(g, this.lr)));
      }
    });
    for (const t of grads) t.dispose();
    this.end();
  }

  setLearningRate(lr: number): void {
    this.lr.dispose();
    this.lr = tf.keep(tf.scalar(lr, 'float32'));
  }

  end(): void {
    this.batchLocs?.dispose();
    this.batchLocs = undefined;
  }

  async exportState(): Promise<EmbeddingState> {
    const accum = this.accum ? ((await this.accum.data()) as Float32Array) : undefined;
    return toEmbeddingState(this.locator.stateShape, (await this.memory.data()) as Float32Array, accum);
  }

  importState(state: EmbeddingState): void {
    const { memory, accum } = fromEmbeddingState(state, this.locator.stateShape, this.accum !== undefined);
    tf.tidy(() => {
      this.memory.assign(tf.tensor1d(memory, 'float32'));
      if (this.accum && accum) this.accum.assign(tf.tensor1d(accum, 'float32'));
    });
  }

  dispose(): void {
    this.end();
    this.memory.dispose();
    this.accum?.dispose();
    this.lr.dispose();
  }
}
