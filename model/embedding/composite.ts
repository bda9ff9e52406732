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
import { PipelineError } from '../../pipeline/errors.js';
import { ADAGRAD_EPS, NUM_FEATURES, type EmbeddingLayer, type EmbeddingOptions, type NamedArray } from './layer.js';
import { Locator } from './locations.js';
import { initialMemory } from './memory-init.js';

export class CompositeEmbedding implements EmbeddingLayer {
  readonly kind;
  readonly impl = 'composite' as const;
  readonly dim: number;
  readonly memoryFloats: number;
  private readonly locator: Locator;
  /** Shape in saved state (as the other implementations save it); the variable is 1-D. */
  private readonly memShape: number[];
  private readonly memory: tf.Variable;
  private readonly accum: tf.Variable | undefined;
  private readonly lr: tf.Scalar;
  private locs = new Int32Array(0);
  private batchLocs: tf.Tensor1D | undefined;
  private rows = 0;

  constructor(o: EmbeddingOptions) {
    this.kind = o.spec.kind;
    this.dim = o.dim;
    this.locator = new Locator(o.spec, o.dim);
    this.memoryFloats = this.locator.memoryFloats;
    this.memShape = o.spec.kind === 'full' ? [this.locator.totalRows, o.dim] : [this.memoryFloats];
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

  end(): void {
    this.batchLocs?.dispose();
    this.batchLocs = undefined;
  }

  async exportState(): Promise<{ embedding: NamedArray[]; optimizer: NamedArray[] }> {
    const embedding = [{ name: 'embedding.memory', shape: this.memShape.slice(), values: (await this.memory.data()) as Float32Array }];
    const optimizer = this.accum ? [{ name: 'embedding.adagrad', shape: this.memShape.slice(), values: (await this.accum.data()) as Float32Array }] : [];
    return { embedding, optimizer };
  }

  importState(state: { embedding: NamedArray[]; optimizer: NamedArray[] }): void {
    const memory = pick(state.embedding, 'embedding.memory', this.memShape);
    const accum = this.accum ? pick(state.optimizer, 'embedding.adagrad', this.memShape) : undefined;
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
