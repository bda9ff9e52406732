/**
 * The CPU DLRM step (issue 8, "the CPU path"): the fused step's op list
 * (model/fused/plan.ts, run in plain JS by model/fused/reference.ts) with fast
 * kernels instead of tfjs autodiff. Matmuls go through tfjs (XNNPACK on wasm) in
 * their plain form only (matmul.ts says why); the interaction, ReLU masks, BCE,
 * bias sums, SGD, the gather and the sparse embedding update are loops over typed
 * arrays allocated once per batch size. No tape, no per-op tensors but the matmul's.
 *
 * Why (bench/gpu-step.ts --profile, docs/cpu-step.md): the
 * tfjs model's step on wasm spends most of its time in the backward pass's
 * transposed matmuls (tfjs-wasm runs transposeA/transposeB off XNNPACK), then in
 * ~400 small kernels per step (Identity, Reshape, Slice, PadV2 of the interaction).
 *
 * Same initialisation (plan.ts initialDense, embedding/memory-init.ts), same state
 * names and the same sparse update as the tfjs model with the cpu-sparse layer
 * (Adagrad: gradients summed per location, then one step per touched location;
 * SGD: the same up to rounding), so checkpoints move between the two. The MLP trains with SGD;
 * createDlrm falls back to the tfjs model for --optimizer adagrad.
 *
 * Threads (--threads): tfjs-wasm runs on one thread in Node, so a step splits its
 * rows across the main thread and worker threads (pass.ts, pass-worker.ts), each a
 * CpuPass with its own wasm instance over shared parameters and memory. The main
 * thread then sums the passes' dense gradients and applies both updates. Locating
 * the rows, the sum and the updates are serial. Results differ from one thread's
 * only in float rounding (the order of the gradient sums), and are the same from run
 * to run for the same thread count.
 */
import { availableParallelism } from 'node:os';
import { invalidOption, PipelineError } from '../../core/errors.js';
import type { Dlrm, DlrmConfig, ModelState, TrainBatch } from '../types.js';
import { checkedDenseState, NUM_FEATURES, fromEmbeddingState, toEmbeddingState } from '../embedding/layer.js';
import { Locator } from '../embedding/locations.js';
import { applySparseUpdate } from '../embedding/sparse-update.js';
import { initialMemory } from '../embedding/memory-init.js';
import { checkBatch, denseParams, initialDense, NUM_DENSE_INPUTS, type DenseParam } from '../fused/plan.js';
import { sigmoidInto } from './kernels.js';
import { CpuPass, layerSlots, sgdRange, type PassProfile, type PassShape } from './pass.js';
import { PassThreads, passThreadsAvailable, type BatchBuffers } from './pass-threads.js';

/** Milliseconds per part of the last steps (bench/gpu-step.ts --impl cpu-step --profile); the main thread's share. */
export type CpuStepProfile = PassProfile & Record<'locate' | 'wait' | 'update', number>;

/**
 * Rows per thread below which a batch is not split: a worker's round trip and the
 * gradient sum cost about a millisecond, a few rows' pass much less.
 */
export const MIN_ROWS_PER_THREAD = 32;

/** The default thread count: the cores Node may use, at most 4 (the gradient sum is serial). */
export function defaultCpuThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

export interface CpuStepOptions {
  /** Threads for a step (main included); each extra one is a worker with its own wasm. Default 1. */
  threads?: number;
}

/** A Float32Array on shared memory (the workers see the same floats). */
function sharedFloats(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(4 * Math.max(1, n)));
}

export class CpuDlrm implements Dlrm {
  readonly config: DlrmConfig;
  readonly backend: string;
  readonly embedding: { readonly kind: DlrmConfig['embedding']['kind']; readonly impl: 'cpu-step'; readonly dim: number; readonly memoryFloats: number; readonly mode?: string };
  /** Threads a step may use (main included); fewer for batches under MIN_ROWS_PER_THREAD per thread. */
  readonly threads: number;
  private readonly shape: PassShape;
  private readonly d: number;
  private readonly params: DenseParam[];
  /** The dense parameters, flat in denseParams order (pass.ts layerSlots), and where each one starts. */
  private readonly flat: Float32Array<ArrayBufferLike>;
  private readonly offsets: number[];
  private readonly locator: Locator;
  private readonly memory: Float32Array<ArrayBufferLike>;
  private readonly accum: Float32Array | undefined;
  /** Summed gradient per location and which locations hold one (reset after each update). */
  private readonly gradSum: Float32Array;
  private readonly seen: Uint8Array;
  /** The main thread's pass and each thread's gradient array (index 0: main). */
  private readonly pass: CpuPass;
  private readonly grads: Float32Array<ArrayBufferLike>[];
  private pool: Promise<PassThreads> | undefined;
  private closed = false;
  private lr: number;
  private step = 0;
  private cap = 0;
  private locs: Int32Array<ArrayBufferLike> = new Int32Array(0);
  private touched = new Int32Array(0);
  private de: Float32Array<ArrayBufferLike> = new Float32Array(0);
  /** Batch inputs and logits, copied to shared memory when workers take part. */
  private denseIn: Float32Array<ArrayBufferLike> = new Float32Array(0);
  private labelIn: Float32Array<ArrayBufferLike> = new Float32Array(0);
  private logitsOut: Float32Array<ArrayBufferLike> = new Float32Array(0);
  /** Accumulated per-part time when profiling is on (bench). */
  profile: CpuStepProfile | undefined;

  constructor(config: DlrmConfig, backend: string, opts: CpuStepOptions = {}) {
    const threads = opts.threads ?? 1;
    if (!(Number.isInteger(threads) && threads >= 1 && threads <= 64)) throw invalidOption('threads', 'must be an integer from 1 to 64', threads);
    this.config = config;
    this.backend = backend;
    this.d = config.embeddingDim;
    this.lr = config.learningRate;
    this.threads = threads > 1 && passThreadsAvailable() ? threads : 1;
    const shared = this.threads > 1;
    this.shape = { d: this.d, bottom: config.bottomMlp, top: config.topMlp };
    this.params = denseParams(this.shape);
    const { size } = layerSlots(this.shape);
    this.flat = shared ? sharedFloats(size) : new Float32Array(size);
    this.offsets = [];
    let at = 0;
    for (const [, v] of initialDense(this.shape, config.seed)) {
      this.offsets.push(at);
      this.flat.set(v, at);
      at += v.length;
    }
    if (at !== size) throw new Error(`the CPU step's parameter layout (${size} floats) disagrees with denseParams (${at})`);
    this.locator = new Locator(config.embedding, this.d);
    const memory = initialMemory(config.embedding, this.locator, this.d, config.seed);
    this.memory = shared ? sharedFloats(memory.length) : memory;
    if (shared) this.memory.set(memory);
    this.accum = config.embeddingOptimizer === 'adagrad' ? new Float32Array(this.locator.memoryFloats) : undefined;
    // Adagrad's per-location sums (SGD needs none).
    this.gradSum = new Float32Array(this.accum ? this.locator.memoryFloats : 0);
    this.seen = new Uint8Array(this.accum ? this.locator.memoryFloats : 0);
    this.embedding = { kind: config.embedding.kind, impl: 'cpu-step', dim: this.d, memoryFloats: this.locator.memoryFloats };
    this.grads = Array.from({ length: this.threads }, () => (shared ? sharedFloats(size) : new Float32Array(size)));
    this.pass = new CpuPass(this.shape, this.flat, this.memory, this.grads[0]);
  }

  /** The engine of the step's products: openblas (the native addon) or tfjs (XNNPACK on wasm). */
  get matmul(): 'openblas' | 'tfjs' {
    return this.pass.matmul;
  }

  /** Multiply-adds the main thread's matmuls have done so far (bench/gpu-step.ts reports GFLOP/s). */
  get matmulMacs(): number {
    return this.pass.macs;
  }

  get steps(): number {
    return this.step;
  }

  setLearningRate(lr: number): void {
    if (!(Number.isFinite(lr) && lr > 0)) throw invalidOption('learning-rate', 'must be a positive number', lr);
    this.lr = lr;
  }

  /** The workers, started on first use. */
  private workers(): Promise<PassThreads> {
    if (this.closed) return Promise.reject(new Error('the CPU step was disposed'));
    this.pool ??= PassThreads.start(this.threads - 1, (i) => ({
      shape: this.shape,
      backend: this.backend,
      params: this.flat.buffer as SharedArrayBuffer,
      memory: this.memory.buffer as SharedArrayBuffer,
      grads: this.grads[i + 1].buffer as SharedArrayBuffer,
      allGrads: this.grads.map((g) => g.buffer as SharedArrayBuffer),
    }));
    return this.pool;
  }

  /** Threads for a batch of `rows`: each gets at least MIN_ROWS_PER_THREAD rows. */
  private threadsFor(rows: number): number {
    return Math.max(1, Math.min(this.threads, Math.floor(rows / MIN_ROWS_PER_THREAD)));
  }

  /** Thread k's rows [lo, hi) of `rows`: contiguous, sizes differing by at most one. */
  private static range(k: number, n: number, rows: number): [number, number] {
    return [Math.floor((k * rows) / n), Math.floor(((k + 1) * rows) / n)];
  }

  /** Batch-sized buffers for `rows`: grown (never shrunk); the workers get the new ones. */
  private async reserve(rows: number): Promise<void> {
    if (rows <= this.cap) return;
    const n = rows * NUM_FEATURES * this.d;
    const shared = this.threads > 1;
    const i32 = (k: number) => (shared ? new Int32Array(new SharedArrayBuffer(4 * k)) : new Int32Array(k));
    const f32 = (k: number) => (shared ? sharedFloats(k) : new Float32Array(k));
    this.locs = i32(n);
    this.touched = new Int32Array(n);
    this.de = f32(n);
    this.denseIn = f32(rows * NUM_DENSE_INPUTS);
    this.labelIn = f32(rows);
    this.logitsOut = f32(rows);
    this.cap = rows;
    if (shared) {
      const buf = (a: { buffer: ArrayBufferLike }) => a.buffer as SharedArrayBuffer;
      const buffers: BatchBuffers = { locs: buf(this.locs), de: buf(this.de), dense: buf(this.denseIn), label: buf(this.labelIn), logits: buf(this.logitsOut) };
      (await this.workers()).setBuffers(buffers);
    }
  }

  private time(part: keyof CpuStepProfile, t0: number): number {
    const t = performance.now();
    if (this.profile) this.profile[part] += t - t0;
    return t;
  }

  /** Locations of the batch's embedding elements into this.locs. */
  private locate(batch: TrainBatch, rows: number): Int32Array {
    const t = performance.now();
    const locs = this.locator.flatInto(batch.cats, rows, this.locs.subarray(0, rows * NUM_FEATURES * this.d));
    this.time('locate', t);
    return locs;
  }

  async trainStep(batch: TrainBatch): Promise<number> {
    const rows = checkBatch(batch, true);
    await this.reserve(rows);
    this.pass.profile = this.profile;
    const locs = this.locate(batch, rows);
    const per = NUM_FEATURES * this.d;
    const n = this.threadsFor(rows);
    let lossSum: number;
    if (n === 1) {
      lossSum = this.pass.gradients(batch.dense, batch.label!, locs, rows, rows, this.de);
    } else {
      this.denseIn.set(batch.dense.subarray(0, rows * NUM_DENSE_INPUTS));
      this.labelIn.set(batch.label!.subarray(0, rows));
      const pool = await this.workers();
      const ranges = Array.from({ length: n }, (_, k) => CpuDlrm.range(k, n, rows));
      const others = pool.run(ranges.slice(1).map(([lo, hi]) => ({ type: 'gradients', lo, hi, total: rows })));
      const [lo, hi] = ranges[0];
      const mine = this.pass.gradients(this.denseIn.subarray(lo * NUM_DENSE_INPUTS, hi * NUM_DENSE_INPUTS), this.labelIn.subarray(lo, hi), locs.subarray(lo * per, hi * per), hi - lo, rows, this.de.subarray(lo * per, hi * per));
      const t = performance.now();
      lossSum = mine + (await others).reduce((a, b) => a + b, 0);
      this.time('wait', t);
    }
    const loss = lossSum / rows;
    this.step++;
    if (!Number.isFinite(loss)) {
      throw new PipelineError('ERR_NAN_LOSS', `training loss became ${loss} at step ${this.step}; lower the learning rate or check the input (the model state is no longer usable)`, { step: this.step });
    }
    const t = performance.now();
    await this.update(n, rows * per);
    this.time('update', t);
    return loss;
  }

  /**
   * Applies the step: SGD on the dense parameters with the n threads' summed
   * gradients, each thread updating a share of them while the main thread also does
   * the embedding's update.
   */
  private async update(n: number, elements: number): Promise<void> {
    const size = this.flat.length;
    if (n === 1) {
      sgdRange(this.flat, this.grads, 1, this.lr, 0, size);
      this.updateEmbedding(elements);
      return;
    }
    const pool = await this.workers();
    const shares = pool.run(
      Array.from({ length: n - 1 }, (_, k) => {
        const [lo, hi] = CpuDlrm.range(k + 1, n, size);
        return { type: 'sgd' as const, lo, hi, n, lr: this.lr };
      }),
    );
    const [lo, hi] = CpuDlrm.range(0, n, size);
    sgdRange(this.flat, this.grads, n, this.lr, lo, hi);
    this.updateEmbedding(elements);
    await shares;
  }

  /**
   * Adagrad: sums dE per location, then one step per touched location (as cpu-sparse
   * does: Adagrad must see the summed gradient). SGD: each element's gradient goes
   * straight into the memory; the same update up to float rounding (m - a - b
   * against m - (a + b)), with one random access per element instead of three.
   */
  private updateEmbedding(n: number): void {
    const { locs, de: g, memory: mem, accum: acc } = this;
    const lr = this.lr;
    if (!acc) {
      for (let i = 0; i < n; i++) mem[locs[i]] -= lr * g[i];
      return;
    }
    applySparseUpdate({ memory: mem, accum: acc, lr, locs, grads: g, n, gradSum: this.gradSum, seen: this.seen, touched: this.touched });
  }

  async predict(batch: TrainBatch): Promise<Float32Array> {
    const rows = checkBatch(batch, false);
    await this.reserve(rows);
    this.pass.profile = undefined;
    const locs = this.locate(batch, rows);
    const n = this.threadsFor(rows);
    const out = new Float32Array(rows);
    if (n === 1) {
      this.pass.predict(batch.dense, locs, rows, out);
      sigmoidInto(out, rows, out);
      return out;
    }
    const per = NUM_FEATURES * this.d;
    this.denseIn.set(batch.dense.subarray(0, rows * NUM_DENSE_INPUTS));
    const pool = await this.workers();
    const ranges = Array.from({ length: n }, (_, k) => CpuDlrm.range(k, n, rows));
    const others = pool.run(ranges.slice(1).map(([lo, hi]) => ({ type: 'predict', lo, hi })));
    const [lo, hi] = ranges[0];
    this.pass.predict(this.denseIn.subarray(lo * NUM_DENSE_INPUTS, hi * NUM_DENSE_INPUTS), locs.subarray(lo * per, hi * per), hi - lo, this.logitsOut.subarray(lo, hi));
    await others;
    sigmoidInto(this.logitsOut, rows, out);
    return out;
  }

  private paramValues(i: number): Float32Array {
    const size = this.params[i].shape.reduce((a, b) => a * b, 1);
    return this.flat.subarray(this.offsets[i], this.offsets[i] + size);
  }

  async exportState(): Promise<ModelState> {
    const dense = this.params.map((p, i) => ({ name: p.name, shape: p.shape.slice(), values: this.paramValues(i).slice() }));
    const { embedding, optimizer } = toEmbeddingState(this.locator.stateShape, this.memory.slice(), this.accum?.slice());
    return { dense, embedding, optimizer, step: this.step };
  }

  importState(state: ModelState): void {
    // Check everything before changing anything: a mismatch leaves the model as it was.
    const values = checkedDenseState(state, this.params);
    // A saved model has no optimizer state: Adagrad sums then restart at 0.
    const hasAccum = this.accum !== undefined && state.optimizer.some((a) => a.name === 'embedding.adagrad');
    const { memory, accum } = fromEmbeddingState(state, this.locator.stateShape, hasAccum);
    values.forEach((v, i) => this.paramValues(i).set(v));
    this.memory.set(memory);
    if (this.accum) {
      if (accum) this.accum.set(accum);
      else this.accum.fill(0);
    }
    this.step = Number.isInteger(state.step) ? state.step : 0;
  }

  dispose(): void {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    void pool?.then((p) => p.close()).catch(() => {});
  }
}
