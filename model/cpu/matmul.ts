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

interface HeapBackend {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

export class TfMatMul {
  private readonly heap: HeapBackend | undefined;
  /** Matmuls run and their multiply-adds (for the bench's GFLOP/s). */
  calls = 0;
  macs = 0;

  constructor() {
    const be = tf.backend() as unknown as Partial<HeapBackend>;
    this.heap = typeof be.typedArrayFromHeap === 'function' ? (be as HeapBackend) : undefined;
  }

  /** C[M, N] = A[M, K] B[K, N], row-major; `use` gets C while it is valid. */
  run(a: Float32Array, b: Float32Array, M: number, N: number, K: number, use: (c: Float32Array) => void): void {
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
