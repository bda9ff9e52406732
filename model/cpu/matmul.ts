/**
 * C = A B on the current tfjs backend, for the CPU step: on wasm this is XNNPACK's
 * matmul (about 20-30 GFLOP/s on one thread of the dev machine), on the cpu backend
 * tfjs's blocked JS loop. Only the plain (untransposed) form is used: tfjs-wasm runs
 * matMul with transposeA or transposeB on a slow generic path (0.4-2 GFLOP/s against
 * 20-30 for the plain form; docs/cpu-step.md), so the step transposes in JS
 * (O(rows x cols), cheap) and multiplies plainly.
 *
 * The result is handed to a callback as a view: on wasm straight into the wasm heap
 * (no copy; tfjs's readSync copies through a fresh array and cost 12-18 ms for a
 * 2048 x 512 result here, more than the matmul), on cpu the backend's own array. The
 * view is valid only during the callback.
 */
import * as tf from '@tensorflow/tfjs-core';
import { transpose } from './kernels.js';
import { openBlas, type OpenBlas } from './openblas.js';

/** A row-major float32 product for the CPU step. */
export interface MatMul {
  /** Which engine multiplies: OpenBLAS, or tfjs (XNNPACK on wasm, a JS loop on cpu). */
  readonly engine: 'openblas' | 'tfjs';
  /**
   * Whether each call repacks its right operand at a cost that shows when the left
   * one has few rows (XNNPACK does); the pass then multiplies transposed.
   */
  readonly packsRightOperand: boolean;
  calls: number;
  macs: number;
  /** Whether run's transA/transB cost nothing extra (the engine reads transposed operands itself). */
  readonly transposesFree: boolean;
  /**
   * C[M, N] = op(A) op(B); `use` gets C while it is valid. op(A) is A [M, K], or A
   * stored [K, M] when transA; op(B) is B [K, N], or B stored [N, K] when transB.
   */
  run(a: Float32Array, b: Float32Array, M: number, N: number, K: number, use: (c: Float32Array) => void, transA?: boolean, transB?: boolean): void;
}

/** OpenBLAS when its addon is built (openblas.ts), else tfjs on the current backend. */
export function createMatMul(): MatMul {
  const blas = openBlas();
  return blas ? new BlasMatMul(blas) : new TfMatMul();
}

/** C through OpenBLAS's sgemm into a scratch array grown to the largest product. */
export class BlasMatMul implements MatMul {
  readonly engine = 'openblas';
  readonly packsRightOperand = false;
  readonly transposesFree = true;
  calls = 0;
  macs = 0;
  private c = new Float32Array(0);

  constructor(private readonly blas: OpenBlas) {}

  run(a: Float32Array, b: Float32Array, M: number, N: number, K: number, use: (c: Float32Array) => void, transA = false, transB = false): void {
    this.calls++;
    this.macs += M * N * K;
    if (this.c.length < M * N) this.c = new Float32Array(M * N);
    this.blas.sgemm(a, b, this.c, M, N, K, transA, transB);
    use(this.c);
  }
}

interface HeapBackend {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

export class TfMatMul implements MatMul {
  readonly engine = 'tfjs';
  readonly packsRightOperand = true;
  readonly transposesFree = false;
  /** Scratch for operands transposed in JS (tfjs-wasm's own transposed matMul is slow). */
  private ta = new Float32Array(0);
  private tb = new Float32Array(0);
  private readonly heap: HeapBackend | undefined;
  /** Matmuls run and their multiply-adds (for the bench's GFLOP/s). */
  calls = 0;
  macs = 0;

  constructor() {
    const be = tf.backend() as unknown as Partial<HeapBackend>;
    this.heap = typeof be.typedArrayFromHeap === 'function' ? (be as HeapBackend) : undefined;
  }

  run(a: Float32Array, b: Float32Array, M: number, N: number, K: number, use: (c: Float32Array) => void, transA = false, transB = false): void {
    if (transA) {
      if (this.ta.length < M * K) this.ta = new Float32Array(M * K);
      a = transpose(a, K, M, this.ta);
    }
    if (transB) {
      if (this.tb.length < K * N) this.tb = new Float32Array(K * N);
      b = transpose(b, N, K, this.tb);
    }
    this.calls++;
    this.macs += M * N * K;
    const at = tf.tensor2d(a.subarray(0, M * K), [M, K], 'float32');
    const bt = tf.tensor2d(b.subarray(0, K * N), [K, N], 'float32');
    let c: tf.Tensor | undefined;
    try {
      c = tf.matMul(at, bt);
      use(this.heap ? this.heap.typedArrayFromHeap(c) : (c.dataSync() as Float32Array));
    } finally {
      c?.dispose();
      at.dispose();
      bt.dispose();
    }
  }
}
