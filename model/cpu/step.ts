/**
 * The CPU DLRM step (issue 8, "the CPU path"): the fused step's op list
 * (model/fused/plan.ts, run in plain JS by model/fused/reference.ts) with fast
 * kernels instead of tfjs autodiff. Matmuls go through tfjs (XNNPACK on wasm) in
 * their plain form only (matmul.ts says why); the interaction, ReLU masks, BCE,
 * bias sums, SGD, the gather and the sparse embedding update are loops over typed
 * arrays allocated once per batch size. No tape, no per-op tensors but the matmul's.
 *
 * Why (bench/cpu-step.ts --profile, results in bench/results/cpu-step-dev.md): the
 * tfjs model's step on wasm spends most of its time in the backward pass's
 * transposed matmuls (tfjs-wasm runs transposeA/transposeB off XNNPACK), then in
 * ~400 small kernels per step (Identity, Reshape, Slice, PadV2 of the interaction).
 *
 * Same initialisation (plan.ts initialDense, embedding/memory-init.ts), same state
 * names and the same sparse update as the tfjs model with the cpu-sparse layer
 * (Adagrad: gradients summed per location, then one step per touched location;
 * SGD: the same up to rounding), so checkpoints move between the two. The MLP trains with SGD;
 * createDlrm falls back to the tfjs model for --optimizer adagrad.
 */
import { invalidOption, PipelineError } from '../../core/errors.js';
import type { Dlrm, DlrmConfig, ModelState, TrainBatch } from '../types.js';
import { checkedDenseState, NUM_FEATURES, fromEmbeddingState, toEmbeddingState } from '../embedding/layer.js';
import { Locator } from '../embedding/locations.js';
import { applySparseUpdate } from '../embedding/sparse-update.js';
import { initialMemory } from '../embedding/memory-init.js';
import { checkBatch, denseParams, initialDense, interactionWidth, NUM_DENSE_INPUTS, type DenseParam } from '../fused/plan.js';
import { bceLoss, biasAct, colsum, interact, interactBackward, maskInto, sigmoidInto, transpose } from './kernels.js';
import { TfMatMul } from './matmul.js';

interface Layer {
  in: number;
  out: number;
  w: Float32Array;
  b: Float32Array;
  /** W^T [out, in], refreshed each step before the backward pass uses it. */
  wt: Float32Array;
  relu: boolean;
  /** Output activations [rows, out] (capacity rows). */
  y: Float32Array;
}

/** Milliseconds per part of the last steps (bench/cpu-step.ts --profile). */
export type CpuStepProfile = Record<'locate' | 'gather' | 'forward' | 'interact' | 'loss' | 'backward' | 'interact_backward' | 'update', number>;

export class CpuDlrm implements Dlrm {
  readonly config: DlrmConfig;
  readonly backend: string;
  readonly embedding: { readonly kind: DlrmConfig['embedding']['kind']; readonly impl: 'cpu-step'; readonly dim: number; readonly memoryFloats: number; readonly mode?: string };
  private readonly d: number;
  private readonly params: DenseParam[];
  private readonly bottom: Layer[] = [];
  private readonly top: Layer[] = [];
  private readonly locator: Locator;
  private readonly memory: Float32Array;
  private readonly accum: Float32Array | undefined;
  /** Summed gradient per location and which locations hold one (reset after each update). */
  private readonly gradSum: Float32Array;
  private readonly seen: Uint8Array;
  private lr: number;
  private step = 0;
  private cap = 0;
  private locs = new Int32Array(0);
  private touched = new Int32Array(0);
  private e = new Float32Array(0);
  private de = new Float32Array(0);
  private z = new Float32Array(0);
  private dz = new Float32Array(0);
  /** Gradient ping-pong and transposes, sized for the widest layer. */
  private gA = new Float32Array(0);
  private gB = new Float32Array(0);
  private tr = new Float32Array(0);
  private dlogit = new Float32Array(0);
  private readonly t: Float32Array;
  private readonly dt: Float32Array;
  private readonly mm = new TfMatMul();
  /** Accumulated per-part time when profiling is on (bench). */
  profile: CpuStepProfile | undefined;

  constructor(config: DlrmConfig, backend: string) {
    this.config = config;
    this.backend = backend;
    this.d = config.embeddingDim;
    this.lr = config.learningRate;
    const shape = { d: this.d, bottom: config.bottomMlp, top: config.topMlp };
    this.params = denseParams(shape);
    const init = initialDense(shape, config.seed);
    const layers = (sizes: number[], into: Layer[], first: number) => {
      for (let i = 0; i + 1 < sizes.length; i++) {
        const [w, b] = [init[first + 2 * i][1], init[first + 2 * i + 1][1]];
        into.push({ in: sizes[i], out: sizes[i + 1], w, b, wt: new Float32Array(w.length), relu: into === this.bottom || i + 2 < sizes.length, y: new Float32Array(0) });
      }
    };
    layers(config.bottomMlp, this.bottom, 0);
    layers([interactionWidth(this.d), ...config.topMlp], this.top, 2 * this.bottom.length);
    this.locator = new Locator(config.embedding, this.d);
    this.memory = initialMemory(config.embedding, this.locator, this.d, config.seed);
    this.accum = config.embeddingOptimizer === 'adagrad' ? new Float32Array(this.locator.memoryFloats) : undefined;
    // Adagrad's per-location sums (SGD needs none).
    this.gradSum = new Float32Array(this.accum ? this.locator.memoryFloats : 0);
    this.seen = new Uint8Array(this.accum ? this.locator.memoryFloats : 0);
    this.embedding = { kind: config.embedding.kind, impl: 'cpu-step', dim: this.d, memoryFloats: this.locator.memoryFloats };
    this.t = new Float32Array((NUM_FEATURES + 1) * this.d);
    this.dt = new Float32Array((NUM_FEATURES + 1) * this.d);
  }

  /** Multiply-adds the matmuls have done so far (bench/gpu-step.ts reports GFLOP/s). */
  get matmulMacs(): number {
    return this.mm.macs;
  }

  get steps(): number {
    return this.step;
  }

  setLearningRate(lr: number): void {
    if (!(Number.isFinite(lr) && lr > 0)) throw invalidOption('learning-rate', 'must be a positive number', lr);
    this.lr = lr;
  }

  /** Buffers for `rows`: grown (never shrunk) to the largest batch seen. */
  private reserve(rows: number): void {
    if (rows <= this.cap) return;
    const d = this.d;
    const n = rows * NUM_FEATURES * d;
    this.locs = new Int32Array(n);
    this.touched = new Int32Array(n);
    this.e = new Float32Array(n);
    this.de = new Float32Array(n);
    const zw = interactionWidth(d);
    this.z = new Float32Array(rows * zw);
    this.dz = new Float32Array(rows * zw);
    let widest = zw;
    for (const l of [...this.bottom, ...this.top]) {
      l.y = new Float32Array(rows * l.out);
      widest = Math.max(widest, l.in, l.out);
    }
    this.gA = new Float32Array(rows * widest);
    this.gB = new Float32Array(rows * widest);
    this.tr = new Float32Array(rows * widest);
    this.dlogit = new Float32Array(rows);
    this.cap = rows;
  }

  private time(part: keyof CpuStepProfile, t0: number): number {
    const t = performance.now();
    if (this.profile) this.profile[part] += t - t0;
    return t;
  }

  /** Forward pass: gathers E, runs both MLPs and the interaction; returns the logits [rows]. */
  private forward(batch: TrainBatch, rows: number): Float32Array {
    let t = performance.now();
    const n = rows * NUM_FEATURES * this.d;
    const locs = this.locator.flatInto(batch.cats, rows, this.locs.subarray(0, n));
    t = this.time('locate', t);
    const mem = this.memory;
    const e = this.e;
    for (let i = 0; i < n; i++) e[i] = mem[locs[i]];
    t = this.time('gather', t);
    let x = batch.dense;
    for (const l of this.bottom) x = this.layerForward(l, x, rows);
    t = this.time('forward', t);
    interact(x, e, rows, this.d, this.z, this.t);
    t = this.time('interact', t);
    x = this.z;
    for (const l of this.top) x = this.layerForward(l, x, rows);
    this.time('forward', t);
    return x;
  }

  private layerForward(l: Layer, x: Float32Array, rows: number): Float32Array {
    this.mm.run(x, l.w, rows, l.out, l.in, (c) => biasAct(c, l.b, rows, l.out, l.relu, l.y));
    return l.y;
  }

  /**
   * Backward through `layers` (last first) from g, updating each layer's W and b by
   * SGD after its input gradient is taken (that needs the old W). Returns the input
   * gradient of the first layer into `inputGrad` (undefined: not computed).
   * inputIsRelu: the first layer's input is a ReLU output, so its gradient is masked.
   */
  private backward(layers: Layer[], input: Float32Array, g: Float32Array, rows: number, inputGrad: Float32Array | undefined, inputIsRelu: boolean): void {
    const lr = this.lr;
    for (let i = layers.length - 1; i >= 0; i--) {
      const l = layers[i];
      const xIn = i === 0 ? input : layers[i - 1].y;
      let next: Float32Array | undefined;
      if (i > 0 || inputGrad) {
        next = i === 0 ? inputGrad! : g === this.gA ? this.gB : this.gA;
        const masked = i > 0 || inputIsRelu;
        transpose(l.w, l.in, l.out, l.wt);
        const dst = next;
        // dX = G W^T (masked by X > 0 where X is a ReLU output).
        this.mm.run(g, l.wt, rows, l.in, l.out, (c) => (masked ? maskInto(c, xIn, rows * l.in, dst) : dst.set(c.subarray(0, rows * l.in))));
      }
      // dW = X^T G: transpose the smaller of X and G. X^T [in, rows] G gives dW;
      // G^T [out, rows] X gives dW^T, applied with transposed indexing.
      const w = l.w;
      if (l.in <= l.out) {
        transpose(xIn, rows, l.in, this.tr);
        this.mm.run(this.tr, g, l.in, l.out, rows, (c) => {
          for (let k = 0; k < l.in * l.out; k++) w[k] -= lr * c[k];
        });
      } else {
        transpose(g, rows, l.out, this.tr);
        this.mm.run(this.tr, xIn, l.out, l.in, rows, (c) => {
          for (let o = 0; o < l.out; o++) for (let k = 0; k < l.in; k++) w[k * l.out + o] -= lr * c[o * l.in + k];
        });
      }
      // db = column sums of G (into the transpose scratch, free again).
      const db = this.tr;
      colsum(g, rows, l.out, db);
      for (let k = 0; k < l.out; k++) l.b[k] -= lr * db[k];
      if (next) g = next;
    }
  }

  async trainStep(batch: TrainBatch): Promise<number> {
    const rows = checkBatch(batch, true);
    this.reserve(rows);
    const logits = this.forward(batch, rows);
    let t = performance.now();
    const loss = bceLoss(logits, batch.label!, rows, this.dlogit);
    t = this.time('loss', t);
    this.step++;
    if (!Number.isFinite(loss)) {
      throw new PipelineError('ERR_NAN_LOSS', `training loss became ${loss} at step ${this.step}; lower the learning rate or check the input (the model state is no longer usable)`, { step: this.step });
    }
    this.backward(this.top, this.z, this.dlogit, rows, this.dz, false);
    t = this.time('backward', t);
    const x = this.bottom[this.bottom.length - 1].y;
    // The top backward may have left its last gradient in gA or gB; the interaction writes gA.
    interactBackward(x, this.e, this.dz, rows, this.d, this.gA, this.de, this.t, this.dt);
    t = this.time('interact_backward', t);
    this.backward(this.bottom, batch.dense, this.gA, rows, undefined, false);
    t = this.time('backward', t);
    this.updateEmbedding(rows * NUM_FEATURES * this.d);
    this.time('update', t);
    return loss;
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
    this.reserve(rows);
    const logits = this.forward(batch, rows);
    const out = new Float32Array(rows);
    sigmoidInto(logits, rows, out);
    return out;
  }

  private layersInOrder(): Layer[] {
    return [...this.bottom, ...this.top];
  }

  async exportState(): Promise<ModelState> {
    const layers = this.layersInOrder();
    const dense = this.params.map((p, i) => ({ name: p.name, shape: p.shape.slice(), values: (i % 2 === 0 ? layers[i >> 1].w : layers[i >> 1].b).slice() }));
    const { embedding, optimizer } = toEmbeddingState(this.locator.stateShape, this.memory.slice(), this.accum?.slice());
    return { dense, embedding, optimizer, step: this.step };
  }

  importState(state: ModelState): void {
    // Check everything before changing anything: a mismatch leaves the model as it was.
    const values = checkedDenseState(state, this.params);
    // A saved model has no optimizer state: Adagrad sums then restart at 0.
    const hasAccum = this.accum !== undefined && state.optimizer.some((a) => a.name === 'embedding.adagrad');
    const { memory, accum } = fromEmbeddingState(state, this.locator.stateShape, hasAccum);
    const layers = this.layersInOrder();
    values.forEach((v, i) => (i % 2 === 0 ? layers[i >> 1].w : layers[i >> 1].b).set(v));
    this.memory.set(memory);
    if (this.accum) {
      if (accum) this.accum.set(accum);
      else this.accum.fill(0);
    }
    this.step = Number.isInteger(state.step) ? state.step : 0;
  }

  dispose(): void {}
}
