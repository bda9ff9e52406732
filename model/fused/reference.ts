/**
 * The fused step's op list (plan.ts) run in plain JS on Float32Arrays: what each
 * WGSL kernel computes, written the simple way. The CPU tests run it against the
 * tfjs model (same init, same batches) to check the program itself; the GPU check
 * (bench/fused-check.ts) compares the kernels' results with the tfjs model.
 *
 * Embedding memory here is a flat array addressed by Locator.flatInto's locations,
 * updated like the webgpu layer does: gradients summed per location, then one
 * SGD or Adagrad step per touched location.
 */
import type { DlrmConfig, TrainBatch } from '../types.js';
import { ADAGRAD_EPS, NUM_FEATURES } from '../embedding/layer.js';
import { Locator } from '../embedding/locations.js';
import { initialMemory } from '../embedding/memory-init.js';
import { buildProgram, initialDense, NUM_PAIRS, pairIndex, paramBuffer, type DenseParam, type FusedProgram, type FusedShape, type Op } from './plan.js';

export interface ReferenceEmbedding {
  locator: Locator;
  memory: Float32Array;
  /** Adagrad accumulator (undefined for SGD). */
  accum: Float32Array | undefined;
  learningRate: number;
}

export interface ReferenceBatch {
  rows: number;
  cats: Uint32Array;
}

/** Runs `program` over `bufs` (created with zeros as needed, parameters given by the caller). */
export function runReference(program: FusedProgram, bufs: Map<string, Float32Array>, emb: ReferenceEmbedding, batch: ReferenceBatch, d: number, lr: number): void {
  for (const [name, n] of program.sizes) if (!bufs.has(name) || bufs.get(name)!.length < n) bufs.set(name, new Float32Array(n));
  const get = (name: string) => bufs.get(name)!;
  let locs: Int32Array = new Int32Array(0);
  let pendingSums = new Map<number, number>();
  for (const op of program.ops) runOp(op);

  function runOp(op: Op): void {
    switch (op.op) {
      case 'locate':
        locs = emb.locator.flatInto(batch.cats, batch.rows, new Int32Array(batch.rows * NUM_FEATURES * d));
        return;
      case 'gather': {
        const e = get(op.out);
        for (let i = 0; i < locs.length; i++) e[i] = emb.memory[locs[i]];
        return;
      }
      case 'matmul':
        return matmul(op, get(op.a), get(op.b), get(op.c), op.extra ? get(op.extra) : undefined);
      case 'interact': {
        const [x, e, z] = [get(op.x), get(op.e), get(op.z)];
        const w = d + NUM_PAIRS;
        const t = new Float32Array((NUM_FEATURES + 1) * d);
        for (let r = 0; r < op.rows; r++) {
          t.set(x.subarray(r * d, r * d + d), 0);
          t.set(e.subarray(r * NUM_FEATURES * d, (r + 1) * NUM_FEATURES * d), d);
          z.set(x.subarray(r * d, r * d + d), r * w);
          for (let i = 1; i <= NUM_FEATURES; i++) {
            for (let j = 0; j < i; j++) {
              let s = 0;
              for (let k = 0; k < d; k++) s += t[i * d + k] * t[j * d + k];
              z[r * w + d + pairIndex(i, j)] = s;
            }
          }
        }
        return;
      }
      case 'interact-backward': {
        const [x, e, dz, dx, de] = [get(op.x), get(op.e), get(op.dz), get(op.dx), get(op.de)];
        const w = d + NUM_PAIRS;
        const t = new Float32Array((NUM_FEATURES + 1) * d);
        for (let r = 0; r < op.rows; r++) {
          t.set(x.subarray(r * d, r * d + d), 0);
          t.set(e.subarray(r * NUM_FEATURES * d, (r + 1) * NUM_FEATURES * d), d);
          for (let i = 0; i <= NUM_FEATURES; i++) {
            for (let k = 0; k < d; k++) {
              let s = 0;
              for (let j = 0; j <= NUM_FEATURES; j++) if (j !== i) s += dz[r * w + d + pairIndex(i, j)] * t[j * d + k];
              if (i === 0) dx[r * d + k] = t[k] > 0 ? dz[r * w + k] + s : 0; // x is a ReLU output
              else de[(r * NUM_FEATURES + i - 1) * d + k] = s;
            }
          }
        }
        return;
      }
      case 'loss': {
        const [z, y, g, l] = [get(op.logits), get(op.label), get(op.dlogit), get(op.rowLoss)];
        for (let r = 0; r < op.rows; r++) {
          const e = Math.exp(-Math.abs(z[r]));
          g[r] = ((z[r] >= 0 ? 1 / (1 + e) : e / (1 + e)) - y[r]) / op.rows;
          l[r] = Math.max(z[r], 0) - z[r] * y[r] + Math.log1p(e);
        }
        return;
      }
      case 'loss-sum': {
        const l = get(op.rowLoss);
        let s = 0;
        for (let r = 0; r < op.rows; r++) s += l[r];
        const acc = get(op.acc);
        acc[0] += s / op.rows;
        acc[1] += 1;
        return;
      }
      case 'sigmoid': {
        const [z, p] = [get(op.logits), get(op.out)];
        for (let r = 0; r < op.rows; r++) p[r] = 1 / (1 + Math.exp(-z[r]));
        return;
      }
      case 'colsum': {
        const [g, part] = [get(op.g), get(op.part)];
        const chunk = Math.ceil(op.rows / op.splits);
        for (let s = 0; s < op.splits; s++) {
          for (let n = 0; n < op.width; n++) {
            let acc = 0;
            for (let r = s * chunk; r < Math.min(op.rows, (s + 1) * chunk); r++) acc += g[r * op.width + n];
            part[s * op.width + n] = acc;
          }
        }
        return;
      }
      case 'sgd': {
        const [p, part] = [get(op.param), get(op.part)];
        for (let i = 0; i < op.size; i++) {
          let g = 0;
          for (let s = 0; s < op.splits; s++) g += part[s * op.size + i];
          p[i] = p[i] - g * lr;
        }
        return;
      }
      case 'scatter': {
        // Summed per location first, as the GPU does: Adagrad sees one gradient per location.
        const g = get(op.grad);
        const sum = new Map<number, number>();
        for (let i = 0; i < locs.length; i++) sum.set(locs[i], (sum.get(locs[i]) ?? 0) + g[i]);
        pendingSums = sum;
        return;
      }
      case 'apply': {
        for (const [l, g] of pendingSums) {
          if (emb.accum) {
            emb.accum[l] += g * g;
            emb.memory[l] -= (g * emb.learningRate) / (Math.sqrt(emb.accum[l]) + ADAGRAD_EPS);
          } else emb.memory[l] -= g * emb.learningRate;
        }
        pendingSums = new Map();
        return;
      }
    }
  }
}

function matmul(op: Extract<Op, { op: 'matmul' }>, a: Float32Array, b: Float32Array, c: Float32Array, extra: Float32Array | undefined): void {
  const { M, N, K, transA, transB, splits } = op;
  const chunk = Math.ceil(K / splits);
  for (let s = 0; s < splits; s++) {
    const k0 = s * chunk;
    const k1 = Math.min(K, k0 + chunk);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let acc = 0;
        for (let k = k0; k < k1; k++) acc += (transA ? a[k * M + m] : a[m * K + k]) * (transB ? b[n * K + k] : b[k * N + n]);
        if (op.epilogue === 'bias' || op.epilogue === 'bias-relu') acc += extra![n];
        if (op.epilogue === 'bias-relu') acc = Math.max(acc, 0);
        if (op.epilogue === 'mask' && !(extra![m * N + n] > 0)) acc = 0;
        c[s * M * N + m * N + n] = acc;
      }
    }
  }
}

/**
 * How far `a` is from the reference `b`, relative to b's scale: max |a - b| / max |b|
 * (NaN anywhere gives Infinity). The fused checks use it with a bound of 1e-5.
 */
export function relativeDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (Number.isNaN(e)) return Infinity;
    diff = Math.max(diff, e);
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

/** The fused program as a model on the CPU: same init as the tfjs model and the GPU step. */
export class FusedReference {
  readonly shape: FusedShape;
  readonly dense: [DenseParam, Float32Array][];
  readonly emb: ReferenceEmbedding;
  private readonly bufs = new Map<string, Float32Array>();
  private readonly lr: number;

  constructor(config: DlrmConfig) {
    this.shape = { d: config.embeddingDim, bottom: config.bottomMlp, top: config.topMlp };
    this.lr = config.learningRate;
    this.dense = initialDense(this.shape, config.seed);
    for (const [p, v] of this.dense) this.bufs.set(paramBuffer(p), v);
    const locator = new Locator(config.embedding, config.embeddingDim);
    this.emb = {
      locator,
      memory: initialMemory(config.embedding, locator, config.embeddingDim, config.seed),
      accum: config.embeddingOptimizer === 'adagrad' ? new Float32Array(locator.memoryFloats) : undefined,
      learningRate: config.learningRate,
    };
  }

  private run(batch: TrainBatch, mode: 'train' | 'predict'): void {
    const program = buildProgram(this.shape, batch.rows, mode);
    this.bufs.set('dense', batch.dense.subarray(0, batch.rows * 13));
    if (batch.label) this.bufs.set('label', batch.label.subarray(0, batch.rows));
    runReference(program, this.bufs, this.emb, batch, this.shape.d, this.lr);
  }

  /** One step; returns its mean loss. */
  trainStep(batch: TrainBatch): number {
    this.bufs.get('loss')?.fill(0);
    this.run(batch, 'train');
    return this.bufs.get('loss')![0];
  }

  predict(batch: TrainBatch): Float32Array {
    this.run(batch, 'predict');
    return this.bufs.get('prob')!.slice(0, batch.rows);
  }
}
