/**
 * One thread's share of the CPU step: forward and backward over a range of a batch's
 * rows, into gradient buffers, changing no parameter. The step (step.ts) runs one
 * pass on the main thread and, with --threads > 1, one per worker (step-worker.ts)
 * over shared memory, then sums the passes' gradients and applies them. Splitting
 * the rows is data parallelism: each pass's weight gradient is X_k^T G_k over its
 * rows, and their sum is the batch's X^T G.
 *
 * The dense parameters live in one flat array in denseParams order (bottom then top,
 * weight then bias), and so do the gradients, so the update is one loop over it.
 */
import { NUM_FEATURES } from '../embedding/layer.js';
import { interactionWidth, NUM_DENSE_INPUTS, type FusedShape } from '../fused/plan.js';
import { bceLoss, biasAct, biasActT, colsum, interact, interactBackward, maskInto, maskIntoT, transpose } from './kernels.js';
import { createMatMul, TfMatMul, type MatMul } from './matmul.js';

/** The MLPs' sizes and the embedding dimension: all a pass needs to lay out its buffers. */
export type PassShape = FusedShape;

/** A layer's offsets into the flat parameter (and gradient) array. */
export interface LayerSlot {
  in: number;
  out: number;
  /** W [in, out] at w, bias [out] at b. */
  w: number;
  b: number;
  relu: boolean;
}

/** The layers in order, bottom then top, with their offsets; `size` floats in all. */
export function layerSlots(shape: PassShape): { bottom: LayerSlot[]; top: LayerSlot[]; size: number } {
  let at = 0;
  const slots = (sizes: readonly number[], lastRelu: boolean) => {
    const out: LayerSlot[] = [];
    for (let i = 0; i + 1 < sizes.length; i++) {
      const s = { in: sizes[i], out: sizes[i + 1], w: at, b: at + sizes[i] * sizes[i + 1], relu: lastRelu || i + 2 < sizes.length };
      at = s.b + s.out;
      out.push(s);
    }
    return out;
  };
  const bottom = slots(shape.bottom, true); // the bottom MLP ends in a ReLU too (DLRM)
  const top = slots([interactionWidth(shape.d), ...shape.top], false);
  return { bottom, top, size: at };
}

/**
 * Whether a product with `rows` rows and `cols` output columns runs transposed (see
 * layerForward): when the slice has fewer rows than the layer has columns, packing
 * the slice's side is cheaper than packing the weights.
 */
export function smallSlice(rows: number, cols: number): boolean {
  return rows < cols;
}

/** SGD on w[lo, hi) with the sum of the first n gradient arrays (summed in thread order). */
export function sgdRange(w: Float32Array, g: Float32Array[], n: number, lr: number, lo: number, hi: number): void {
  const g0 = g[0];
  if (n === 1) {
    for (let i = lo; i < hi; i++) w[i] -= lr * g0[i];
    return;
  }
  const g1 = g[1];
  if (n === 2) {
    for (let i = lo; i < hi; i++) w[i] -= lr * (g0[i] + g1[i]);
    return;
  }
  for (let i = lo; i < hi; i++) {
    let s = g0[i];
    for (let k = 1; k < n; k++) s += g[k][i];
    w[i] -= lr * s;
  }
}

/** Rows per product in predict (CpuPass.predict says why). */
export const PREDICT_BLOCK = 64;

/** Milliseconds per part (bench/gpu-step.ts --impl cpu-step --profile); the main thread's pass only. */
export type PassProfile = Record<'gather' | 'forward' | 'interact' | 'loss' | 'backward' | 'interact_backward', number>;

export class CpuPass {
  private readonly d: number;
  private readonly bottom: LayerSlot[];
  private readonly top: LayerSlot[];
  private readonly mm: MatMul = createMatMul();
  /** predict's products: tfjs always (CpuPass.predict says why). */
  private readonly inferMm: MatMul = this.mm.engine === 'tfjs' ? this.mm : new TfMatMul();
  private cap = 0;
  /** Activations per layer (bottom then top), [cap, out]. */
  private ys: Float32Array[] = [];
  private e = new Float32Array(0);
  private z = new Float32Array(0);
  private dz = new Float32Array(0);
  private gA = new Float32Array(0);
  private gB = new Float32Array(0);
  private tr = new Float32Array(0);
  /** W^T per layer (bottom then top), and the pass call that computed it (the weights change between calls). */
  private readonly wts: (Float32Array | undefined)[];
  private readonly wtCall: number[];
  private call = 0;
  /** predict's last block, padded (allocated on first use). */
  private padDense = new Float32Array(0);
  private padLocs = new Int32Array(0);
  /** Scratch for the transposed operand of a small slice's products. */
  private opT = new Float32Array(0);
  private dlogit = new Float32Array(0);
  private readonly t: Float32Array;
  private readonly dt: Float32Array;
  /** The interaction's pair gradients of one row as a 27 x 27 matrix. */
  private readonly sm = new Float32Array((NUM_FEATURES + 1) * (NUM_FEATURES + 1));
  profile: PassProfile | undefined;

  /**
   * params: the flat dense parameters (read only here); memory: the embedding memory
   * (read only here); grads: this pass's gradient array, laid out as params.
   */
  constructor(
    shape: PassShape,
    private readonly params: Float32Array,
    private readonly memory: Float32Array,
    readonly grads: Float32Array,
  ) {
    this.d = shape.d;
    const slots = layerSlots(shape);
    this.bottom = slots.bottom;
    this.top = slots.top;
    // Allocated on first use: with OpenBLAS only predict's tfjs products need them.
    this.wts = [...this.bottom, ...this.top].map(() => undefined);
    this.wtCall = this.wts.map(() => -1);
    this.t = new Float32Array((NUM_FEATURES + 1) * this.d);
    this.dt = new Float32Array((NUM_FEATURES + 1) * this.d);
  }

  /** The engine of this pass's products (openblas or tfjs). */
  get matmul(): MatMul['engine'] {
    return this.mm.engine;
  }

  /** Multiply-adds this pass's matmuls have done. */
  get macs(): number {
    return this.mm.macs;
  }

  /** Buffers for `rows`: grown (never shrunk) to the largest slice seen. */
  private reserve(rows: number): void {
    if (rows <= this.cap) return;
    const d = this.d;
    const zw = interactionWidth(d);
    this.e = new Float32Array(rows * NUM_FEATURES * d);
    this.z = new Float32Array(rows * zw);
    this.dz = new Float32Array(rows * zw);
    let widest = zw;
    this.ys = [...this.bottom, ...this.top].map((l) => {
      widest = Math.max(widest, l.in, l.out);
      return new Float32Array(rows * l.out);
    });
    this.gA = new Float32Array(rows * widest);
    this.gB = new Float32Array(rows * widest);
    this.tr = new Float32Array(rows * widest);
    this.opT = new Float32Array(rows * widest);
    this.dlogit = new Float32Array(rows);
    this.cap = rows;
  }

  private time(part: keyof PassProfile, t0: number): number {
    const t = performance.now();
    if (this.profile) this.profile[part] += t - t0;
    return t;
  }

  /**
   * Forward over `rows` rows: dense [rows, 13], locs [rows * 26 * d] (memory indices
   * of each embedding element). Returns the logits [rows] (valid until the next call).
   */
  forward(dense: Float32Array, locs: Int32Array, rows: number, mm: MatMul = this.mm): Float32Array {
    this.reserve(rows);
    this.call++;
    let t = performance.now();
    const n = rows * NUM_FEATURES * this.d;
    const { e, memory: mem } = this;
    for (let i = 0; i < n; i++) e[i] = mem[locs[i]];
    t = this.time('gather', t);
    let x = dense;
    const nb = this.bottom.length;
    for (let i = 0; i < nb; i++) x = this.layerForward(mm, this.bottom[i], i, x, rows);
    t = this.time('forward', t);
    interact(x, e, rows, this.d, this.z, this.t);
    t = this.time('interact', t);
    x = this.z;
    for (let i = 0; i < this.top.length; i++) x = this.layerForward(mm, this.top[i], nb + i, x, rows);
    this.time('forward', t);
    return x;
  }

  /**
   * Logits of `rows` rows into out[0, rows), so that a row's prediction does not
   * depend on the batch it came in nor on the thread that took it, bit for bit
   * (test/model/cpu-step-threads.test.ts): the products run through tfjs (XNNPACK on
   * wasm), PREDICT_BLOCK rows at a time (the last block padded with zero rows), so
   * every row goes through products of one shape. OpenBLAS is not used here: its
   * result for a row changed in the last bits with the row's place in the product.
   */
  predict(dense: Float32Array, locs: Int32Array, rows: number, out: Float32Array): void {
    const B = PREDICT_BLOCK;
    const per = NUM_FEATURES * this.d;
    for (let lo = 0; lo < rows; lo += B) {
      const n = Math.min(B, rows - lo);
      let d = dense.subarray(lo * NUM_DENSE_INPUTS, (lo + n) * NUM_DENSE_INPUTS);
      let l = locs.subarray(lo * per, (lo + n) * per);
      if (n < B) {
        if (this.padDense.length === 0) {
          this.padDense = new Float32Array(B * NUM_DENSE_INPUTS);
          this.padLocs = new Int32Array(B * per);
        }
        this.padDense.fill(0).set(d);
        this.padLocs.fill(0).set(l);
        d = this.padDense;
        l = this.padLocs;
      }
      out.set(this.forward(d, l, B, this.inferMm).subarray(0, n), lo);
    }
  }

  /** Layer `index`'s W^T [out, in], transposed once per pass call. */
  private wT(l: LayerSlot, index: number): Float32Array {
    const wt = (this.wts[index] ??= new Float32Array(l.in * l.out));
    if (this.wtCall[index] !== this.call) {
      transpose(this.params.subarray(l.w, l.w + l.in * l.out), l.in, l.out, wt);
      this.wtCall[index] = this.call;
    }
    return wt;
  }

  /**
   * Y = act(X W + b). XNNPACK repacks its right operand on every call, which costs
   * as much as the product when the slice has few rows; then the product runs
   * transposed, Y^T = W^T X^T, so that the packed operand is X^T [in, rows], not
   * W [in, out] (bench/matmul.ts measures both).
   */
  private layerForward(mm: MatMul, l: LayerSlot, index: number, x: Float32Array, rows: number): Float32Array {
    const p = this.params;
    const y = this.ys[index];
    const bias = p.subarray(l.b, l.b + l.out);
    if (mm.packsRightOperand && smallSlice(rows, l.out)) {
      const xt = transpose(x, rows, l.in, this.opT);
      mm.run(this.wT(l, index), xt, l.out, rows, l.in, (ct) => biasActT(ct, bias, rows, l.out, l.relu, y));
    } else mm.run(x, p.subarray(l.w, l.w + l.in * l.out), rows, l.out, l.in, (c) => biasAct(c, bias, rows, l.out, l.relu, y));
    return y;
  }

  /**
   * Forward, loss and backward over `rows` rows of a batch of `totalRows` (the loss is
   * the batch mean, so each row's gradient is divided by the whole batch's size).
   * Writes the dense gradients into `grads` and the embedding gradient [rows * 26 * d]
   * into `de`; returns the sum of the rows' losses.
   */
  gradients(dense: Float32Array, label: Float32Array, locs: Int32Array, rows: number, totalRows: number, de: Float32Array): number {
    const logits = this.forward(dense, locs, rows);
    let t = performance.now();
    const loss = bceLoss(logits, label, rows, this.dlogit, totalRows);
    t = this.time('loss', t);
    const nb = this.bottom.length;
    this.backward(this.top, nb, this.z, this.dlogit, rows, this.dz, false);
    t = this.time('backward', t);
    // The top backward may have left its last gradient in gA or gB; the interaction writes gA.
    interactBackward(this.ys[nb - 1], this.e, this.dz, rows, this.d, this.gA, de, this.t, this.dt, this.sm);
    t = this.time('interact_backward', t);
    this.backward(this.bottom, 0, dense, this.gA, rows, undefined, false);
    this.time('backward', t);
    return loss;
  }

  /**
   * Backward through `layers` (last first) from g, writing each layer's dW and db into
   * grads. Returns the first layer's input gradient into `inputGrad` (undefined: not
   * computed). first: the index of layers[0] among all layers (for its activations).
   */
  private backward(layers: LayerSlot[], first: number, input: Float32Array, g: Float32Array, rows: number, inputGrad: Float32Array | undefined, inputIsRelu: boolean): void {
    const { params: p, grads } = this;
    for (let i = layers.length - 1; i >= 0; i--) {
      const l = layers[i];
      const xIn = i === 0 ? input : this.ys[first + i - 1];
      let next: Float32Array | undefined;
      let gt: Float32Array | undefined; // G^T [out, rows], when a product below made it
      if (i > 0 || inputGrad) {
        next = i === 0 ? inputGrad! : g === this.gA ? this.gB : this.gA;
        const masked = i > 0 || inputIsRelu;
        const dst = next;
        if (this.mm.transposesFree) {
          // dX = G W^T, the engine reading W transposed.
          this.mm.run(g, p.subarray(l.w, l.w + l.in * l.out), rows, l.in, l.out, (c) => (masked ? maskInto(c, xIn, rows * l.in, dst) : dst.set(c.subarray(0, rows * l.in))), false, true);
        } else if (this.mm.packsRightOperand && smallSlice(rows, l.in)) {
          // dX^T = W G^T: the packed operand is G^T [out, rows] (as in layerForward).
          gt = transpose(g, rows, l.out, this.opT);
          this.mm.run(p.subarray(l.w, l.w + l.in * l.out), gt, l.in, rows, l.out, (ct) => maskIntoT(ct, xIn, rows, l.in, masked, dst));
        } else {
          // dX = G W^T (masked by X > 0 where X is a ReLU output).
          this.mm.run(g, this.wT(l, first + i), rows, l.in, l.out, (c) => (masked ? maskInto(c, xIn, rows * l.in, dst) : dst.set(c.subarray(0, rows * l.in))));
        }
      }
      const dw = grads.subarray(l.w, l.w + l.in * l.out);
      if (this.mm.transposesFree) {
        // dW = X^T G, the engine reading X transposed.
        this.mm.run(xIn, g, l.in, l.out, rows, (c) => dw.set(c.subarray(0, l.in * l.out)), true, false);
      } else if (l.in <= l.out) {
        // dW = X^T G: transpose the smaller of X and G in JS. X^T [in, rows] G gives dW;
        // G^T [out, rows] X gives dW^T, written back transposed.
        transpose(xIn, rows, l.in, this.tr);
        this.mm.run(this.tr, g, l.in, l.out, rows, (c) => dw.set(c.subarray(0, l.in * l.out)));
      } else {
        gt ??= transpose(g, rows, l.out, this.tr);
        this.mm.run(gt, xIn, l.out, l.in, rows, (c) => transpose(c, l.out, l.in, dw));
      }
      colsum(g, rows, l.out, grads.subarray(l.b, l.b + l.out));
      if (next) g = next;
    }
  }
}
