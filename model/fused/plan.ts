/**
 * The fused DLRM step as data: a fixed list of kernel invocations ("ops") over named
 * buffers, for one batch size. The WebGPU runner (step.ts) turns each op into one
 * compute dispatch; the JS interpreter (reference.ts) runs the same list on typed
 * arrays, so the CPU tests check this program (shapes, transposes, masks, split-K,
 * the interaction's index arithmetic) against the tfjs model without a GPU.
 *
 * Buffers hold row-major float32 matrices. Layer i of an MLP has W [in, out] and
 * b [out], as tfjs's fused matMul uses them: Y = act(X W + b).
 *
 * Backward pass, per dense layer from the last (G = dLoss/d(pre-activation output)):
 *   dX = G W^T, masked by X > 0 where X is itself a ReLU output (ReLU's gradient)
 *   dW = X^T G (split over rows into partial sums), db = column sums of G (likewise)
 *   W -= lr * sum(partials), b -= lr * sum(partials)     (after dX: dX needs the old W)
 * or with dense Adagrad (DLRM's --optimizer adagrad, as torch.optim.Adagrad and the
 * tfjs model): G += g^2, W -= lr g / (sqrt(G) + eps), G from 0.
 *
 * The rate is not part of the program: the update ops read it from the per-step
 * buffer 'lr' (one float), so a learning-rate schedule writes it per step and the
 * recorded dispatches stay as they are.
 */
import { PipelineError } from '../../core/errors.js';
import type { TrainBatch } from '../types.js';
import { NUM_FEATURES } from '../embedding/layer.js';
import { fillNormal, paramRng } from '../init.js';

export const NUM_DENSE_INPUTS = 13;
/** Rows x (feature pairs) of the dot interaction: (27 * 26) / 2 = 351. */
export const NUM_PAIRS = ((NUM_FEATURES + 1) * NUM_FEATURES) / 2;
/** Output tile of the matmul kernel (square), and the row blocks colsum reduces. */
export const MATMUL_TILE = 64;
/** Workgroups that keep an H100/H200 (132 SMs) busy: two per multiprocessor. */
export const TARGET_WORKGROUPS = 264;
/** Fewest rows one split of a row reduction should cover (else partials cost more than they save). */
export const MIN_ROWS_PER_SPLIT = 256;

export interface FusedShape {
  d: number;
  /** Bottom MLP sizes, 13 ... d. */
  bottom: number[];
  /** Top MLP sizes after the interaction, ... 1 (without the interaction width). */
  top: number[];
}

export type Epilogue = 'bias' | 'bias-relu' | 'mask' | 'none';

export type Op =
  | { op: 'locate' }
  | { op: 'gather'; out: string }
  | {
      op: 'matmul';
      /** C[M, N] = op(A)[M, K] op(B)[K, N]; transA: A is stored [K, M]; transB: B is stored [N, K]. */
      a: string;
      b: string;
      c: string;
      M: number;
      N: number;
      K: number;
      transA: boolean;
      transB: boolean;
      epilogue: Epilogue;
      /** bias [N] for 'bias*'; mask [M, N] for 'mask' (C = 0 where mask <= 0). */
      extra?: string;
      /** Split-K: C holds `splits` partial products, one [M, N] block each. */
      splits: number;
    }
  | { op: 'interact'; x: string; e: string; z: string; rows: number }
  | { op: 'interact-backward'; x: string; e: string; dz: string; dx: string; de: string; rows: number }
  | { op: 'loss'; logits: string; label: string; dlogit: string; rowLoss: string; rows: number }
  | { op: 'loss-sum'; rowLoss: string; acc: string; rows: number }
  | { op: 'sigmoid'; logits: string; out: string; rows: number }
  | { op: 'colsum'; g: string; part: string; rows: number; width: number; splits: number }
  | { op: 'sgd'; param: string; part: string; lr: string; size: number; splits: number }
  | { op: 'adagrad'; param: string; accum: string; part: string; lr: string; size: number; splits: number }
  | { op: 'scatter'; grad: string }
  | { op: 'apply' };

export interface DenseParam {
  /** Name in saved state, e.g. "bottom.0.weight" (the tfjs model's names). */
  name: string;
  shape: number[];
}

/** Dense parameters in the tfjs model's order (bottom then top, weight then bias). */
export function denseParams(shape: FusedShape): DenseParam[] {
  const out: DenseParam[] = [];
  const add = (sizes: number[], prefix: string) => {
    for (let i = 0; i + 1 < sizes.length; i++) {
      out.push({ name: `${prefix}.${i}.weight`, shape: [sizes[i], sizes[i + 1]] }, { name: `${prefix}.${i}.bias`, shape: [sizes[i + 1]] });
    }
  };
  add(shape.bottom, 'bottom');
  add([interactionWidth(shape.d), ...shape.top], 'top');
  return out;
}

/**
 * Initial dense parameters, as the tfjs model draws them (model/dlrm.ts): parameter
 * id = position in denseParams order; W ~ N(0, sqrt(2/(in+out))), b ~ N(0, sqrt(1/out)).
 */
export function initialDense(shape: FusedShape, seed: number): [DenseParam, Float32Array][] {
  return denseParams(shape).map((p, id) => {
    const size = p.shape.reduce((a, b) => a * b, 1);
    const std = p.shape.length === 2 ? Math.sqrt(2 / (p.shape[0] + p.shape[1])) : Math.sqrt(1 / p.shape[0]);
    return [p, fillNormal(new Float32Array(size), std, paramRng(seed, id))];
  });
}

export function interactionWidth(d: number): number {
  return d + NUM_PAIRS;
}

/** Index of the pair (i, j), i != j, of {x, e_1..e_26} in DLRM's order: rows i = 1..26, j < i. */
export function pairIndex(i: number, j: number): number {
  const [hi, lo] = i > j ? [i, j] : [j, i];
  return (hi * (hi - 1)) / 2 + lo;
}

/** (i, j) of each pair, packed i << 8 | j, in DLRM's order: what the forward kernel reads. */
export function pairTable(): Uint32Array {
  const t = new Uint32Array(NUM_PAIRS);
  for (let i = 1; i <= NUM_FEATURES; i++) for (let j = 0; j < i; j++) t[pairIndex(i, j)] = (i << 8) | j;
  return t;
}

/**
 * Row splits for a reduction over `rows` whose output has `blocks` workgroups'
 * worth of tiles: enough splits to fill the GPU, each at least MIN_ROWS_PER_SPLIT rows.
 * Never decreases as rows grow (buffers sized for the largest batch fit every smaller one).
 */
export function rowSplits(rows: number, blocks: number): number {
  const wanted = Math.ceil(TARGET_WORKGROUPS / Math.max(1, blocks));
  return Math.max(1, Math.min(wanted, Math.floor(rows / MIN_ROWS_PER_SPLIT)));
}

const tiles = (n: number) => Math.ceil(n / MATMUL_TILE);

export interface FusedProgram {
  rows: number;
  ops: Op[];
  /** Floats each buffer needs at this batch size (parameters and batch inputs included). */
  sizes: Map<string, number>;
}

/** Buffer names of dense parameter i (denseParams order). */
export const paramBuffer = (p: DenseParam) => `param:${p.name}`;
/** Buffer of a dense parameter's Adagrad sum of squared gradients. */
export const accumBuffer = (p: DenseParam) => `accum:${p.name}`;
/** Name in saved state (optimizer list) of that sum, as the tfjs model names it. */
export const accumStateName = (p: DenseParam) => `dense.adagrad.${p.name}`;

export type DenseOptimizer = 'sgd' | 'adagrad';

/**
 * The op list of one training step (train) or one forward pass (predict) at `rows` rows.
 * Buffers: dense [rows,13], label [rows], E / dE [rows,26,d], bottom.i / top.i layer
 * outputs, Z [rows, d+351], dZ, gA / gB (gradient ping-pong), partW / partB (split-K
 * partial sums), dlogit, rowLoss, prob, loss (2 floats: sum of batch means, steps),
 * lr (the step's rate), accum:* (dense Adagrad's sums, when denseOptimizer is adagrad).
 */
export function buildProgram(shape: FusedShape, rows: number, mode: 'train' | 'predict', denseOptimizer: DenseOptimizer = 'sgd'): FusedProgram {
  const { d } = shape;
  const sizes = new Map<string, number>();
  const need = (name: string, floats: number) => sizes.set(name, Math.max(sizes.get(name) ?? 0, floats));
  const ops: Op[] = [];
  const params = denseParams(shape);
  for (const p of params) need(paramBuffer(p), p.shape.reduce((a, b) => a * b, 1));
  const zWidth = interactionWidth(d);
  const layers = (sizes_: number[], prefix: string, first: number) =>
    sizes_.slice(0, -1).map((n, i) => ({ in: n, out: sizes_[i + 1], w: paramBuffer(params[first + 2 * i]), b: paramBuffer(params[first + 2 * i + 1]), y: `${prefix}.${i}` }));
  const bottom = layers(shape.bottom, 'bottom', 0);
  const top = layers([zWidth, ...shape.top], 'top', 2 * bottom.length);

  need('dense', rows * NUM_DENSE_INPUTS);
  need('E', rows * NUM_FEATURES * d);
  ops.push({ op: 'locate' }, { op: 'gather', out: 'E' });
  const forward = (ls: typeof bottom, input: string) => {
    let x = input;
    ls.forEach((l, i) => {
      const last = ls === top && i === ls.length - 1;
      need(l.y, rows * l.out);
      ops.push({ op: 'matmul', a: x, b: l.w, c: l.y, M: rows, N: l.out, K: l.in, transA: false, transB: false, epilogue: last ? 'bias' : 'bias-relu', extra: l.b, splits: 1 });
      x = l.y;
    });
    return x;
  };
  const x = forward(bottom, 'dense');
  need('Z', rows * zWidth);
  ops.push({ op: 'interact', x, e: 'E', z: 'Z', rows });
  const logits = forward(top, 'Z');
  if (mode === 'predict') {
    need('prob', rows);
    ops.push({ op: 'sigmoid', logits, out: 'prob', rows });
    return { rows, ops, sizes };
  }

  need('label', rows);
  need('dlogit', rows);
  need('rowLoss', rows);
  need('loss', 2);
  need('lr', 1);
  if (denseOptimizer === 'adagrad') for (const p of params) need(accumBuffer(p), p.shape.reduce((a, b) => a * b, 1));
  const update = (param: string, part: string, size: number, splits: number): Op =>
    denseOptimizer === 'adagrad' ? { op: 'adagrad', param, accum: param.replace(/^param:/, 'accum:'), part, lr: 'lr', size, splits } : { op: 'sgd', param, part, lr: 'lr', size, splits };
  ops.push({ op: 'loss', logits, label: 'label', dlogit: 'dlogit', rowLoss: 'rowLoss', rows }, { op: 'loss-sum', rowLoss: 'rowLoss', acc: 'loss', rows });
  const other = (g: string) => (g === 'gA' ? 'gB' : 'gA');
  /** Backward through layers ls (last first) from G; returns dL/d(input) where wanted. */
  const backward = (ls: typeof bottom, input: string, g0: string, inputGrad: string | undefined, inputIsRelu: boolean) => {
    let g = g0;
    for (let i = ls.length - 1; i >= 0; i--) {
      const l = ls[i];
      const xIn = i === 0 ? input : ls[i - 1].y;
      let dst: string | undefined;
      if (i > 0 || inputGrad) {
        dst = i === 0 ? inputGrad! : other(g);
        const relu = i > 0 || inputIsRelu;
        need(dst, rows * l.in);
        ops.push({ op: 'matmul', a: g, b: l.w, c: dst, M: rows, N: l.in, K: l.out, transA: false, transB: true, epilogue: relu ? 'mask' : 'none', extra: relu ? xIn : undefined, splits: 1 });
      }
      const sw = rowSplits(rows, tiles(l.in) * tiles(l.out));
      need('partW', sw * l.in * l.out);
      ops.push({ op: 'matmul', a: xIn, b: g, c: 'partW', M: l.in, N: l.out, K: rows, transA: true, transB: false, epilogue: 'none', splits: sw });
      const sb = rowSplits(rows, tiles(l.out));
      need('partB', sb * l.out);
      ops.push({ op: 'colsum', g, part: 'partB', rows, width: l.out, splits: sb });
      ops.push(update(l.w, 'partW', l.in * l.out, sw), update(l.b, 'partB', l.out, sb));
      if (dst) g = dst;
    }
    return g;
  };
  need('dZ', rows * zWidth);
  backward(top, 'Z', 'dlogit', 'dZ', false);
  need('gA', rows * d);
  need('dE', rows * NUM_FEATURES * d);
  ops.push({ op: 'interact-backward', x, e: 'E', dz: 'dZ', dx: 'gA', de: 'dE', rows });
  backward(bottom, 'dense', 'gA', undefined, false);
  ops.push({ op: 'scatter', grad: 'dE' }, { op: 'apply' });
  return { rows, ops, sizes };
}

/** A batch's row count, after checking its arrays hold what the fused op list reads (the fused and CPU steps). */
export function checkBatch(batch: TrainBatch, needLabel: boolean): number {
  const rows = batch?.rows;
  if (!Number.isSafeInteger(rows) || rows < 1) throw new PipelineError('ERR_BATCH', `batch rows must be a positive integer, got ${rows}`);
  if (!(batch.dense instanceof Float32Array) || batch.dense.length < rows * NUM_DENSE_INPUTS) throw new PipelineError('ERR_BATCH', `batch dense must be a Float32Array of ${rows} x ${NUM_DENSE_INPUTS}`);
  if (!(batch.cats instanceof Uint32Array) || batch.cats.length < rows * NUM_FEATURES) throw new PipelineError('ERR_BATCH', `batch cats must be a Uint32Array of ${rows} x ${NUM_FEATURES}`);
  if (needLabel && (!(batch.label instanceof Float32Array) || batch.label.length < rows)) throw new PipelineError('ERR_BATCH', `training needs a label per row (${rows})`);
  return rows;
}
