/**
 * The fused step's op list (plan.ts) run in plain JS on Float32Arrays: what each
 * WGSL kernel computes, written the simple way. The CPU tests run it against the
 * tfjs model (same init, same batches) to check the program itself; the GPU check
 * (bench/fused-check.ts) compares the kernels' results with the tfjs model.
 *
 * Embedding memory here is a flat array, updated like the webgpu layer does:
 * gradients summed per location, then one SGD or Adagrad step per touched location.
 * Locations come from the locate kernel's JS port where the GPU hashes (HashNet,
 * ROBE: embedding/webgpu.ts), else from Locator.flatInto (the CPU layers' own).
 *
 * precision 64 runs the same program in float64 (every buffer a Float64Array): the
 * yardstick bench/fused-check uses to tell an implementation's float32 rounding from
 * a fault, where Adagrad amplifies rounding (docs/gpu-step.md, Correctness).
 */
import type { DlrmConfig, TrainBatch } from '../types.js';
import { ADAGRAD_EPS, NUM_FEATURES } from '../embedding/layer.js';
import { Locator } from '../embedding/locations.js';
import { initialMemory } from '../embedding/memory-init.js';
import { hashParams, locateMode, robeLocation, robeParams } from '../embedding/webgpu.js';
import { fmix32, hash2 } from '../../core/hash.js';
import { accumBuffer, accumStateName, buildProgram, initialDense, NUM_PAIRS, pairIndex, paramBuffer, type DenseOptimizer, type DenseParam, type FusedProgram, type FusedShape, type Op } from './plan.js';

/** A buffer of the reference: float32 as the GPU keeps it, or float64 (precision 64). */
export type Vec = Float32Array | Float64Array;

export interface ReferenceEmbedding {
  locator: Locator;
  memory: Vec;
  /** Adagrad accumulator (undefined for SGD). */
  accum: Vec | undefined;
  learningRate: number;
}

/**
 * Flat locations of every element of a batch, as the fused step's locate kernel
 * computes them: HashNet and ROBE by the JS port of their WGSL hash, the rest
 * (full-table rows, SCMA, CPU codes) by Locator.flatInto.
 */
export function locateLikeGpu(locator: Locator, cats: Uint32Array, rows: number): Int32Array {
  const spec = locator.spec;
  const d = locator.dim;
  const out = new Int32Array(rows * NUM_FEATURES * d);
  const mode = locateMode(spec);
  if (spec.kind !== 'full' && (mode === 'hash' || mode === 'robe')) {
    const m = spec.memoryFloats;
    const hp = mode === 'hash' ? hashParams(spec.codes)! : undefined;
    const rp = mode === 'robe' ? robeParams(spec.codes)! : undefined;
    for (let k = 0; k < rows * NUM_FEATURES; k++) {
      const f = k % NUM_FEATURES;
      for (let j = 0; j < d; j++) out[k * d + j] = rp ? robeLocation(rp, f, cats[k], j, m) : (fmix32(hash2(f, cats[k], hp!.seedWord) ^ hp!.salts[j]) >>> 0) % m;
    }
    return out;
  }
  return locator.flatInto(cats, rows, out);
}

export interface ReferenceBatch {
  rows: number;
  cats: Uint32Array;
}

/** Runs `program` over `bufs` (created with zeros as needed, parameters given by the caller). */
export function runReference(program: FusedProgram, bufs: Map<string, Vec>, emb: ReferenceEmbedding, batch: ReferenceBatch, d: number, precision: 32 | 64 = 32): void {
  const alloc = (n: number): Vec => (precision === 64 ? new Float64Array(n) : new Float32Array(n));
  for (const [name, n] of program.sizes) if (!bufs.has(name) || bufs.get(name)!.length < n) bufs.set(name, alloc(n));
  const get = (name: string) => bufs.get(name)!;
  let locs: Int32Array = new Int32Array(0);
  let pendingSums = new Map<number, number>();
  for (const op of program.ops) runOp(op);

  function runOp(op: Op): void {
    switch (op.op) {
      case 'locate':
        locs = locateLikeGpu(emb.locator, batch.cats, batch.rows);
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
        const t = alloc((NUM_FEATURES + 1) * d);
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
        const t = alloc((NUM_FEATURES + 1) * d);
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
        const [p, part, lr] = [get(op.param), get(op.part), get(op.lr)[0]];
        for (let i = 0; i < op.size; i++) {
          let g = 0;
          for (let s = 0; s < op.splits; s++) g += part[s * op.size + i];
          p[i] = p[i] - g * lr;
        }
        return;
      }
      case 'adagrad': {
        // torch.optim.Adagrad and the tfjs model: G += g^2; w -= lr g / (sqrt(G) + eps).
        const [p, acc, part, lr] = [get(op.param), get(op.accum), get(op.part), get(op.lr)[0]];
        for (let i = 0; i < op.size; i++) {
          let g = 0;
          for (let s = 0; s < op.splits; s++) g += part[s * op.size + i];
          acc[i] = acc[i] + g * g;
          p[i] = p[i] - (g * lr) / (Math.sqrt(acc[i]) + ADAGRAD_EPS);
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

function matmul(op: Extract<Op, { op: 'matmul' }>, a: Vec, b: Vec, c: Vec, extra: Vec | undefined): void {
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

/** Elements of `a` off `exact` by more than tol x max |exact|. */
export function offCount(a: ArrayLike<number>, exact: ArrayLike<number>, tol: number): number {
  let scale = 0;
  for (let i = 0; i < exact.length; i++) scale = Math.max(scale, Math.abs(exact[i]));
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i] - exact[i]) <= tol * scale)) n++;
  return n;
}

export interface Agreement {
  ok: boolean;
  /** relativeDiff(ours, oracle): the plain criterion (<= tol). */
  direct: number;
  /** Against the float64 run: largest relative difference and elements off by more than tol, ours and the oracle's. */
  ours?: { max: number; off: number };
  oracle?: { max: number; off: number };
}

/**
 * Does `ours` agree with the float32 `oracle` (the tfjs model)? Either within `tol`
 * relative, or, given the same program run in float64 (`exact`), no further from it
 * than the oracle is: at most twice the oracle's count of elements off it by more
 * than tol, plus 5, and no element further than twice the oracle's worst (or 100 tol,
 * a guard against gross errors: one ill-conditioned element may land anywhere up to
 * about lr, so the count carries the check).
 *
 * Why: Adagrad divides by sqrt(G), so a gradient that cancels to near zero, or to
 * the order of eps, turns its float32 rounding (which depends on summation order)
 * into a step of order lr. Two correct float32 implementations then differ on such
 * elements by far more than 1e-5, and the float64 run lies between them
 * (docs/gpu-step.md, Correctness). Which elements are hit is a matter of rounding,
 * so the bound compares amounts, with slack for that draw; a real fault (wrong eps
 * placement, a stale accumulator, a wrong rate) moves ours away from the float64
 * run on many elements at once, and fails.
 */
export function agreesOrNoFurther(ours: ArrayLike<number>, oracle: ArrayLike<number>, exact: ArrayLike<number> | undefined, tol: number): Agreement {
  const direct = relativeDiff(ours, oracle);
  if (!exact) return { ok: direct <= tol, direct };
  const o = { max: relativeDiff(ours, exact), off: offCount(ours, exact, tol) };
  const r = { max: relativeDiff(oracle, exact), off: offCount(oracle, exact, tol) };
  const ok = direct <= tol || (o.off <= 2 * r.off + 5 && o.max <= Math.max(100 * tol, 2 * r.max));
  return { ok, direct, ours: o, oracle: r };
}

/** The fused program as a model on the CPU: same init as the tfjs model and the GPU step. */
export class FusedReference {
  readonly shape: FusedShape;
  readonly dense: [DenseParam, Vec][];
  readonly emb: ReferenceEmbedding;
  readonly precision: 32 | 64;
  private readonly denseOptimizer: DenseOptimizer;
  private readonly bufs = new Map<string, Vec>();

  constructor(config: DlrmConfig, opts: { precision?: 32 | 64 } = {}) {
    this.precision = opts.precision ?? 32;
    const wide = (v: Float32Array): Vec => (this.precision === 64 ? Float64Array.from(v) : v);
    const alloc = (n: number): Vec => (this.precision === 64 ? new Float64Array(n) : new Float32Array(n));
    this.shape = { d: config.embeddingDim, bottom: config.bottomMlp, top: config.topMlp };
    this.denseOptimizer = config.denseOptimizer ?? 'sgd';
    this.dense = initialDense(this.shape, config.seed).map(([p, v]) => [p, wide(v)]);
    for (const [p, v] of this.dense) {
      this.bufs.set(paramBuffer(p), v);
      if (this.denseOptimizer === 'adagrad') this.bufs.set(accumBuffer(p), alloc(v.length)); // G starts at 0
    }
    const locator = new Locator(config.embedding, config.embeddingDim);
    this.emb = {
      locator,
      memory: wide(initialMemory(config.embedding, locator, config.embeddingDim, config.seed)),
      accum: config.embeddingOptimizer === 'adagrad' ? alloc(locator.memoryFloats) : undefined,
      learningRate: config.learningRate,
    };
    this.setLearningRate(config.learningRate);
  }

  /** The rate of the next steps, dense and embedding alike (what a schedule sets per step). */
  setLearningRate(lr: number): void {
    // float32 as the GPU's uniform holds it (float64 keeps it exact).
    this.bufs.set('lr', this.precision === 64 ? Float64Array.of(lr) : Float32Array.of(lr));
    this.emb.learningRate = this.bufs.get('lr')![0];
  }

  /** Dense Adagrad's sums, as the tfjs model exports them (empty for SGD). */
  denseAccumulators(): { name: string; values: Vec }[] {
    if (this.denseOptimizer !== 'adagrad') return [];
    return this.dense.map(([p]) => ({ name: accumStateName(p), values: this.bufs.get(accumBuffer(p))! }));
  }

  private run(batch: TrainBatch, mode: 'train' | 'predict'): void {
    const program = buildProgram(this.shape, batch.rows, mode, this.denseOptimizer);
    const input = (a: Float32Array): Vec => (this.precision === 64 ? Float64Array.from(a) : a);
    this.bufs.set('dense', input(batch.dense.subarray(0, batch.rows * 13)));
    if (batch.label) this.bufs.set('label', input(batch.label.subarray(0, batch.rows)));
    runReference(program, this.bufs, this.emb, batch, this.shape.d, this.precision);
  }

  /** One step; returns its mean loss. */
  trainStep(batch: TrainBatch): number {
    this.bufs.get('loss')?.fill(0);
    this.run(batch, 'train');
    return this.bufs.get('loss')![0];
  }

  predict(batch: TrainBatch): Vec {
    this.run(batch, 'predict');
    return this.bufs.get('prob')!.slice(0, batch.rows);
  }
}
