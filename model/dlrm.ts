/**
 * DLRM (facebookresearch/dlrm, dot interaction) on TensorFlow.js:
 *   x = bottomMLP(dense)                      ReLU after every layer, x in R^d
 *   e_f = embedding(f, c_f), f = 1..26         full, HashNet or SCMA (embedding/)
 *   z = [x, <u, v> for u != v in {x, e_1..e_26}, lower triangle]   d + 351
 *   p = sigmoid(topMLP(z))                     ReLU except the last layer
 *   loss = mean binary cross-entropy
 * Dense weights take SGD or Adagrad (--optimizer); the embedding memory SGD or Adagrad.
 */
import * as tf from '@tensorflow/tfjs-core';
import { invalidOption, PipelineError } from '../core/errors.js';
import { NUM_DENSE } from '../core/schema.js';
import { selectBackend } from './backend.js';
import { ADAGRAD_EPS, createEmbedding, EMBEDDING_IMPLS, GPU_EMBEDDING_IMPLS, NUM_FEATURES, type EmbeddingLayer, type NamedArray } from './embedding/index.js';
import { FusedDlrm } from './fused/step.js';
import { CpuDlrm, defaultCpuThreads } from './cpu/step.js';
import { openBlasMissing } from './cpu/openblas.js';
import { fillNormal, paramRng } from './init.js';
import { checkMemoryFloor } from './embedding/memory-init.js';
import { checkedDenseState } from './embedding/layer.js';
import type { Dlrm, DlrmConfig, ModelState, TrainBatch } from './types.js';

export interface CreateDlrmOptions {
  /** auto | tensorflow | webgpu | wasm | cpu (see selectBackend). */
  backend?: string;
  log?: (line: string) => void;
  /**
   * auto | fused | cpu-step | composite | cpu-sparse | webgpu: 'fused' is the whole
   * step in WGSL (model/fused/, the default on webgpu); 'cpu-step' the whole step in
   * JS loops and plain matmuls (model/cpu/, the default on wasm and cpu); the others
   * are embedding layers of the tfjs model.
   */
  embeddingImpl?: string;
  /** Threads for the CPU step (main included; model/cpu/step.ts). Default: defaultCpuThreads(). Other impls ignore it. */
  threads?: number;
}

/** What callers may ask of a model's embedding, whichever implementation it is. */
export type EmbeddingInfo = Pick<EmbeddingLayer, 'kind' | 'dim' | 'memoryFloats'> & { readonly impl: EmbeddingLayer['impl'] | 'fused' | 'cpu-step'; readonly mode?: string };

/** The GPU part of 'auto': the fused step on webgpu, the tfjs model elsewhere (autoModelImpl adds the CPU step). */
export function defaultModelImpl(backend: string): 'fused' | 'auto' {
  return backend === 'webgpu' ? 'fused' : 'auto';
}

/**
 * What 'auto' picks for a backend and config: the fused WebGPU step on webgpu (it
 * runs every config the tfjs model runs: a learning-rate schedule, dense Adagrad,
 * every embedding kind), the CPU step on wasm and cpu when the MLP trains with SGD
 * (the only optimizer it has for the MLP), else the tfjs model.
 */
export function autoModelImpl(backend: string, config: Pick<DlrmConfig, 'denseOptimizer'>): 'fused' | 'cpu-step' | 'auto' {
  if (backend === 'webgpu') return 'fused';
  if (config.denseOptimizer === 'adagrad') return 'auto';
  if (backend === 'wasm' || backend === 'cpu') return 'cpu-step';
  return 'auto';
}

/**
 * The implementation createDlrm builds for --embedding-impl `requested` on `backend`:
 * 'fused' (the WGSL step), 'cpu-step', or an embedding layer of the tfjs model ('auto'
 * there lets the tfjs model choose its layer). Refuses, with a clear error, 'fused'
 * off webgpu and 'cpu-step' with dense Adagrad.
 */
export function chooseModelImpl(requested: string, backend: string, config: Pick<DlrmConfig, 'denseOptimizer'> = {}): string {
  const known = ['auto', 'fused', ...EMBEDDING_IMPLS, ...GPU_EMBEDDING_IMPLS, 'cpu-step'];
  if (!known.includes(requested)) throw invalidOption('embedding-impl', `must be one of ${known.join(', ')}`, requested);
  const impl = requested === 'auto' ? autoModelImpl(backend, config) : requested;
  if (impl === 'fused' && backend !== 'webgpu') throw new PipelineError('ERR_BACKEND', `--embedding-impl fused needs the webgpu backend, the current one is ${backend}; use auto, composite or cpu-sparse`);
  if (impl === 'cpu-step' && config.denseOptimizer === 'adagrad') throw invalidOption('embedding-impl', 'cpu-step trains the MLP with SGD, so it cannot run Adagrad for the MLP (--optimizer adagrad); use auto or cpu-sparse', impl);
  return impl;
}

/** Size of the interaction output for n embedded features of size d: d + (n+1)n/2. */
export function interactionSize(d: number, features = NUM_FEATURES): number {
  return d + ((features + 1) * features) / 2;
}

function isPosInt(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;
}

/** Throws a clear error for the first thing wrong with a config. */
export function validateDlrmConfig(c: DlrmConfig): void {
  if (!c || typeof c !== 'object') throw invalidOption('config', 'must be an object', c);
  const d = c.embeddingDim;
  if (!isPosInt(d)) throw invalidOption('arch-sparse-feature-size', 'must be a positive integer', d);
  if (!Array.isArray(c.bottomMlp) || c.bottomMlp.length < 2 || !c.bottomMlp.every(isPosInt)) {
    throw invalidOption('arch-mlp-bot', 'must be at least two positive layer sizes, e.g. 13-512-256-16', c.bottomMlp?.join?.('-') ?? c.bottomMlp);
  }
  if (c.bottomMlp[0] !== NUM_DENSE) throw invalidOption('arch-mlp-bot', `must start with ${NUM_DENSE} (the dense features)`, c.bottomMlp.join('-'));
  if (c.bottomMlp[c.bottomMlp.length - 1] !== d) {
    throw invalidOption('arch-mlp-bot', `must end with the embedding size d = ${d} (arch-sparse-feature-size)`, c.bottomMlp.join('-'));
  }
  if (!Array.isArray(c.topMlp) || c.topMlp.length < 1 || !c.topMlp.every(isPosInt)) {
    throw invalidOption('arch-mlp-top', 'must be positive layer sizes ending in 1, e.g. 512-256-1', c.topMlp?.join?.('-') ?? c.topMlp);
  }
  if (c.topMlp[c.topMlp.length - 1] !== 1) throw invalidOption('arch-mlp-top', 'must end with 1 (the click probability)', c.topMlp.join('-'));
  if (!(typeof c.learningRate === 'number' && Number.isFinite(c.learningRate) && c.learningRate > 0)) {
    throw invalidOption('learning-rate', 'must be a positive number', c.learningRate);
  }
  if (c.embeddingOptimizer !== 'sgd' && c.embeddingOptimizer !== 'adagrad') throw invalidOption('embedding-optimizer', 'must be sgd or adagrad', c.embeddingOptimizer);
  if (c.denseOptimizer !== undefined && c.denseOptimizer !== 'sgd' && c.denseOptimizer !== 'adagrad') throw invalidOption('optimizer', 'must be sgd or adagrad', c.denseOptimizer);
  if (!(typeof c.seed === 'number' && Number.isInteger(c.seed) && c.seed >= 0 && c.seed <= 0xffffffff)) throw invalidOption('seed', 'must be an integer in 0..4294967295', c.seed);
  const e = c.embedding;
  if (!e || typeof e !== 'object') throw invalidOption('embedding', 'must be full, hashnet or scma', e);
  if (e.kind === 'full') {
    if (!e.vocab || typeof e.vocab.size !== 'function' || typeof e.vocab.index !== 'function') throw invalidOption('embedding', 'full tables need a vocabulary', 'full');
    for (let f = 0; f < NUM_FEATURES; f++) {
      const n = e.vocab.size(f);
      if (!isPosInt(n)) throw invalidOption(`vocabulary size of c${f + 1}`, 'must be a positive integer', n);
    }
  } else if (e.kind === 'hashnet' || e.kind === 'scma' || e.kind === 'robe') {
    if (!isPosInt(e.memoryFloats) || e.memoryFloats > 2 ** 31 - 1) throw invalidOption('memory-floats', 'must be an integer in 1..2147483647', e.memoryFloats);
    if (!e.codes || typeof e.codes.codesInto !== 'function') throw invalidOption('embedding', `${e.kind} needs location codes`, e.kind);
    if (e.codes.dim !== d) {
      throw new PipelineError('ERR_MAPPING_DIM', `the ${e.kind === 'scma' ? 'mapping' : 'location codes'} have d = ${e.codes.dim}, the model has d = ${d} (arch-sparse-feature-size)`, { field: 'dim' });
    }
    checkMemoryFloor(e.memoryFloats, d);
    if (e.initRows !== undefined && !isPosInt(e.initRows)) throw invalidOption('initRows', 'must be a positive integer', e.initRows);
  } else {
    throw invalidOption('embedding', 'must be full, hashnet, scma or robe', (e as { kind?: unknown }).kind);
  }
}

interface Layer {
  w: tf.Variable;
  b: tf.Variable;
}

class DlrmModel implements Dlrm {
  readonly config: DlrmConfig;
  readonly backend: string;
  /** Flat indices of the Gram matrix below the diagonal, DLRM's order (webgpu only). */
  private readonly tri: tf.Tensor1D | undefined;
  readonly embedding: EmbeddingLayer;
  private readonly bottom: Layer[] = [];
  private readonly top: Layer[] = [];
  private readonly denseVars: tf.Variable[] = [];
  private readonly denseNames: string[] = [];
  private lr: tf.Scalar;
  /** Adagrad's sums of squared gradients, one per dense variable (denseOptimizer 'adagrad'). */
  private readonly denseAccum: tf.Variable[] = [];
  private step = 0;

  constructor(config: DlrmConfig, backend: string, embeddingImpl: string) {
    this.config = config;
    this.backend = backend;
    this.tri = backend === 'webgpu' ? tf.keep(tf.tensor1d(lowerTriangleIndices(NUM_FEATURES + 1), 'int32')) : undefined;
    const d = config.embeddingDim;
    this.embedding = createEmbedding(embeddingImpl, backend, {
      spec: config.embedding,
      dim: d,
      learningRate: config.learningRate,
      optimizer: config.embeddingOptimizer,
      seed: config.seed,
    });
    const topSizes = [interactionSize(d), ...config.topMlp];
    let paramId = 0;
    const mlp = (sizes: number[], into: Layer[], prefix: string) => {
      for (let i = 0; i + 1 < sizes.length; i++) {
        const n = sizes[i];
        const m = sizes[i + 1];
        const w = fillNormal(new Float32Array(n * m), Math.sqrt(2 / (m + n)), paramRng(config.seed, paramId++));
        const b = fillNormal(new Float32Array(m), Math.sqrt(1 / m), paramRng(config.seed, paramId++));
        const layer = { w: variableFrom(w, [n, m], `${prefix}.${i}.weight`), b: variableFrom(b, [m], `${prefix}.${i}.bias`) };
        into.push(layer);
        this.denseVars.push(layer.w, layer.b);
        this.denseNames.push(`${prefix}.${i}.weight`, `${prefix}.${i}.bias`);
      }
    };
    // Variable names must be unique per tfjs engine; several models may coexist.
    const id = `dlrm${nextModelId++}`;
    mlp(config.bottomMlp, this.bottom, `${id}.bottom`);
    mlp(topSizes, this.top, `${id}.top`);
    this.denseNames = this.denseNames.map((n) => n.slice(id.length + 1));
    this.lr = tf.keep(tf.scalar(config.learningRate));
    if (config.denseOptimizer === 'adagrad') {
      for (const v of this.denseVars) this.denseAccum.push(tf.variable(tf.zeros(v.shape), false));
    }
  }

  setLearningRate(lr: number): void {
    if (!(Number.isFinite(lr) && lr > 0)) throw invalidOption('learning-rate', 'must be a positive number', lr);
    this.lr.dispose();
    this.lr = tf.keep(tf.scalar(lr));
    this.embedding.setLearningRate(lr);
  }

  /** Logits [rows] from dense params (in denseVars order), dense input and embeddings. */
  private logits(params: tf.Tensor[], dense: tf.Tensor2D, emb: tf.Tensor3D): tf.Tensor1D {
    const rows = dense.shape[0];
    const d = this.config.embeddingDim;
    let p = 0;
    let x: tf.Tensor2D = dense;
    // Fused matMul + bias + ReLU: one kernel per layer instead of three (matters on the GPU).
    for (let i = 0; i < this.bottom.length; i++) {
      x = tf.fused.matMul({ a: x, b: params[p++] as tf.Tensor2D, bias: params[p++], activation: 'relu' }) as tf.Tensor2D;
    }
    const t = tf.concat([tf.reshape(x, [rows, 1, d]), emb], 1); // [rows, 27, d]
    const gram = tf.matMul(t, t, false, true); // [rows, 27, 27]
    // Row i of the Gram matrix below the diagonal, for i = 1..26: DLRM's (li, lj) order.
    // Slices, not a gather: tfjs's gather gradient (unsortedSegmentSum) costs
    // O(segments x elements) on the cpu backend.
    // On the GPU one gather (its gradient's scatter has no contention: every index is
    // distinct) costs 2 dispatches where 26 slices cost 52.
    let z: tf.Tensor2D;
    if (this.tri) {
      z = tf.concat([x, tf.gather(tf.reshape(gram, [rows, (NUM_FEATURES + 1) ** 2]), this.tri, 1) as tf.Tensor2D], 1);
    } else {
      const parts: tf.Tensor2D[] = [x];
      for (let i = 1; i <= NUM_FEATURES; i++) parts.push(tf.reshape(tf.slice(gram, [0, i, 0], [rows, 1, i]), [rows, i]));
      z = tf.concat(parts, 1);
    }
    for (let i = 0; i < this.top.length; i++) {
      const last = i + 1 === this.top.length;
      z = tf.fused.matMul({ a: z, b: params[p++] as tf.Tensor2D, bias: params[p++], activation: last ? 'linear' : 'relu' }) as tf.Tensor2D;
    }
    return tf.reshape(z, [rows]);
  }

  private checkBatch(batch: TrainBatch, needLabel: boolean): number {
    const rows = batch?.rows;
    if (!isPosInt(rows)) throw new PipelineError('ERR_BATCH', `batch rows must be a positive integer, got ${rows}`);
    if (!(batch.dense instanceof Float32Array) || batch.dense.length < rows * NUM_DENSE) throw new PipelineError('ERR_BATCH', `batch dense must be a Float32Array of ${rows} x ${NUM_DENSE}`);
    if (!(batch.cats instanceof Uint32Array) || batch.cats.length < rows * NUM_FEATURES) throw new PipelineError('ERR_BATCH', `batch cats must be a Uint32Array of ${rows} x ${NUM_FEATURES}`);
    if (needLabel && (!(batch.label instanceof Float32Array) || batch.label.length < rows)) throw new PipelineError('ERR_BATCH', `training needs a label per row (${rows})`);
    return rows;
  }

  async trainStep(batch: TrainBatch): Promise<number> {
    const rows = this.checkBatch(batch, true);
    const embInputs = this.embedding.begin(batch.cats, rows);
    const nDense = this.denseVars.length;
    let lossT: tf.Scalar | undefined;
    let embGrads: tf.Tensor[] = [];
    try {
      tf.tidy(() => {
        const dense = tf.tensor2d(batch.dense.subarray(0, rows * NUM_DENSE), [rows, NUM_DENSE]);
        const y = tf.tensor1d(batch.label!.subarray(0, rows));
        const f = (...args: tf.Tensor[]): tf.Scalar => {
          const z = this.logits(args.slice(0, nDense), dense, this.embedding.embed(args.slice(nDense)));
          // BCE(sigmoid(z), y) in its stable form: max(z,0) - z*y + log(1 + exp(-|z|)).
          return tf.mean(tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))))) as tf.Scalar;
        };
        const { value, grads } = tf.valueAndGrads(f)([...this.denseVars, ...embInputs]);
        if (this.denseAccum.length) {
          // torch.optim.Adagrad: G += g^2; w -= lr g / (sqrt(G) + eps).
          for (let i = 0; i < nDense; i++) {
            const acc = this.denseAccum[i];
            acc.assign(tf.add(acc, tf.square(grads[i])));
            this.denseVars[i].assign(tf.sub(this.denseVars[i], tf.div(tf.mul(grads[i], this.lr), tf.add(tf.sqrt(acc), ADAGRAD_EPS))));
          }
        } else for (let i = 0; i < nDense; i++) this.denseVars[i].assign(tf.sub(this.denseVars[i], tf.mul(grads[i], this.lr)));
        lossT = tf.keep(value);
        embGrads = grads.slice(nDense).map((g) => tf.keep(g));
      });
      await this.embedding.update(embGrads);
    } catch (err) {
      for (const g of embGrads) g.dispose();
      this.embedding.end();
      lossT?.dispose();
      throw err;
    }
    const loss = (await lossT!.data())[0];
    lossT!.dispose();
    this.step++;
    if (!Number.isFinite(loss)) {
      throw new PipelineError('ERR_NAN_LOSS', `training loss became ${loss} at step ${this.step}; lower the learning rate or check the input (the model state is no longer usable)`, { step: this.step });
    }
    return loss;
  }

  async predict(batch: TrainBatch): Promise<Float32Array> {
    const rows = this.checkBatch(batch, false);
    const embInputs = this.embedding.begin(batch.cats, rows);
    try {
      const p = tf.tidy(() => {
        const dense = tf.tensor2d(batch.dense.subarray(0, rows * NUM_DENSE), [rows, NUM_DENSE]);
        return tf.sigmoid(this.logits(this.denseVars, dense, this.embedding.embed(embInputs)));
      });
      const out = (await p.data()) as Float32Array;
      p.dispose();
      return out;
    } finally {
      this.embedding.end();
    }
  }

  get steps(): number {
    return this.step;
  }

  async exportState(): Promise<ModelState> {
    const dense: NamedArray[] = [];
    for (let i = 0; i < this.denseVars.length; i++) {
      dense.push({ name: this.denseNames[i], shape: this.denseVars[i].shape.slice(), values: (await this.denseVars[i].data()) as Float32Array });
    }
    const { embedding, optimizer } = await this.embedding.exportState();
    for (let i = 0; i < this.denseAccum.length; i++) {
      optimizer.push({ name: `dense.adagrad.${this.denseNames[i]}`, shape: this.denseAccum[i].shape.slice(), values: (await this.denseAccum[i].data()) as Float32Array });
    }
    return { dense, embedding, optimizer, step: this.step };
  }

  importState(state: ModelState): void {
    // Check everything before changing anything: a mismatch leaves the model as it was.
    const values = checkedDenseState(state, this.denseNames.map((name, i) => ({ name, shape: this.denseVars[i].shape })));
    // Dense Adagrad sums (a checkpoint); a saved model has no optimizer state: they restart at 0.
    const accums = this.denseAccum.map((v, i) => {
      const a = state.optimizer.find((x) => x.name === `dense.adagrad.${this.denseNames[i]}`);
      if (a && a.values.length !== v.size) throw new PipelineError('ERR_STATE_MISMATCH', `saved ${a.name} has ${a.values.length} values, this model needs ${v.size}`, { field: a.name });
      return a?.values;
    });
    this.embedding.importState({ ...state, optimizer: state.optimizer.filter((x) => !x.name.startsWith('dense.adagrad.')) });
    for (let i = 0; i < values.length; i++) assignFrom(this.denseVars[i], values[i]);
    for (let i = 0; i < accums.length; i++) if (accums[i]) assignFrom(this.denseAccum[i], accums[i]!);
    this.step = Number.isInteger(state.step) ? state.step : 0;
  }

  dispose(): void {
    for (const v of this.denseVars) v.dispose();
    for (const v of this.denseAccum) v.dispose();
    this.lr.dispose();
    this.tri?.dispose();
    this.embedding.dispose();
  }
}

let nextModelId = 0;

/** A variable holding a copy of values; the staging tensor is released, not left counted. */
export function variableFrom(values: Float32Array, shape: number[], name?: string, trainable = true): tf.Variable {
  return tf.tidy(() => tf.variable(tf.tensor(values, shape, 'float32'), trainable, name, 'float32'));
}

export function assignFrom(v: tf.Variable, values: Float32Array): void {
  tf.tidy(() => v.assign(tf.tensor(values, v.shape, 'float32')));
}

/** Builds a DLRM on the selected backend (see selectBackend), initialised from config.seed. */
export async function createDlrm(config: DlrmConfig, opts: CreateDlrmOptions = {}): Promise<Dlrm & { readonly embedding: EmbeddingInfo; readonly steps: number }> {
  validateDlrmConfig(config);
  const backend = await selectBackend(opts.backend ?? 'auto', opts.log);
  const impl = chooseModelImpl(opts.embeddingImpl ?? 'auto', backend, config);
  if (impl === 'fused') return new FusedDlrm(config);
  if (impl === 'cpu-step') {
    const m = new CpuDlrm(config, backend, { threads: opts.threads ?? defaultCpuThreads() });
    const missing = m.matmul === 'openblas' ? undefined : openBlasMissing();
    opts.log?.(`model: the CPU step on ${m.threads} thread${m.threads === 1 ? '' : 's'}, matmul by ${m.matmul === 'openblas' ? 'OpenBLAS' : `tfjs (${backend}${missing ? `; OpenBLAS ${missing}` : ''})`}`);
    return m;
  }
  return new DlrmModel(config, backend, impl);
}

/** Row-major flat indices (i, j), j < i, of an n x n matrix, rows in order: DLRM's (li, lj). */
function lowerTriangleIndices(n: number): Int32Array {
  const out = new Int32Array((n * (n - 1)) / 2);
  let k = 0;
  for (let i = 1; i < n; i++) for (let j = 0; j < i; j++) out[k++] = i * n + j;
  return out;
}
