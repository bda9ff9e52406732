/**
 * The CPU step's worker threads (pass-worker.ts): started once, given the shared
 * parameter, memory and gradient arrays at start and the batch buffers whenever
 * they grow, then asked for a row range per step. Workers are unref'd between
 * steps, so an idle model does not keep the process alive, and ref'd while one runs.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { PassShape } from './pass.js';

/** What a worker gets at start (workerData). */
export interface PassInit {
  shape: PassShape;
  backend: string;
  params: SharedArrayBuffer;
  memory: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  /** Every thread's gradient array (index 0: main), for the update's share. */
  allGrads: SharedArrayBuffer[];
}

/** The step's batch-sized shared buffers; replaced when a larger batch comes. */
export interface BatchBuffers {
  locs: SharedArrayBuffer;
  de: SharedArrayBuffer;
  dense: SharedArrayBuffer;
  label: SharedArrayBuffer;
  logits: SharedArrayBuffer;
}

export type ToPassWorker =
  | { type: 'buffers'; buffers: BatchBuffers }
  | { type: 'gradients'; lo: number; hi: number; total: number }
  | { type: 'predict'; lo: number; hi: number }
  /** SGD on parameters [lo, hi) with the sum of the first n threads' gradients. */
  | { type: 'sgd'; lo: number; hi: number; n: number; lr: number };
export type FromPassWorker = { type: 'ready' } | { type: 'done'; loss: number } | { type: 'error'; message: string; stack?: string };

/** pass-worker.js beside this module, or pass-worker.mjs beside a bundle (as input-thread.ts). */
const workerUrl = ['./pass-worker.js', './pass-worker.mjs'].map((f) => new URL(f, import.meta.url)).find((u) => u.protocol === 'file:' && existsSync(fileURLToPath(u)));

/** Whether worker threads can be started here (a bundle may not carry the worker's file). */
export function passThreadsAvailable(): boolean {
  return workerUrl !== undefined;
}

class PassThread {
  private pending: { resolve: (m: FromPassWorker) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  readonly worker: Worker;

  constructor(init: PassInit) {
    this.worker = new Worker(workerUrl!, { workerData: init });
    this.worker.on('message', (m: FromPassWorker) => {
      if (m.type === 'error') {
        const e = new Error(`CPU step worker: ${m.message}`);
        if (m.stack) e.stack = `${e.message}\n(worker) ${m.stack}`;
        this.settle(undefined, e);
      } else this.settle(m);
    });
    this.worker.on('error', (e) => this.settle(undefined, e));
    this.worker.on('exit', (code) => this.settle(undefined, new Error(`a CPU step worker exited (code ${code})`)));
  }

  private settle(m: FromPassWorker | undefined, e?: Error): void {
    const p = this.pending;
    this.pending = undefined;
    if (e) this.failure ??= e;
    if (!p) return;
    if (e) p.reject(e);
    else p.resolve(m!);
  }

  /** Sends m and resolves with the worker's answer (one request at a time). */
  request(m: ToPassWorker | undefined): Promise<FromPassWorker> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      if (m) this.worker.postMessage(m);
    });
  }

  post(m: ToPassWorker): void {
    this.worker.postMessage(m);
  }
}

export class PassThreads {
  private constructor(private readonly threads: PassThread[]) {}

  /** Starts n workers and waits until each has its backend. */
  static async start(n: number, init: (i: number) => PassInit): Promise<PassThreads> {
    if (!workerUrl) throw new Error('the CPU step worker file is not available (see passThreadsAvailable)');
    const threads = Array.from({ length: n }, (_, i) => new PassThread(init(i)));
    const pool = new PassThreads(threads);
    try {
      await Promise.all(threads.map((t) => t.request(undefined)));
    } catch (e) {
      await pool.close();
      throw e;
    }
    pool.idle();
    return pool;
  }

  get size(): number {
    return this.threads.length;
  }

  setBuffers(buffers: BatchBuffers): void {
    for (const t of this.threads) t.post({ type: 'buffers', buffers });
  }

  /** Sends request i to worker i (fewer requests: the rest stay idle); resolves with their loss sums. */
  async run(requests: ToPassWorker[]): Promise<number[]> {
    const busy = this.threads.slice(0, requests.length);
    for (const t of busy) t.worker.ref();
    try {
      const answers = await Promise.all(busy.map((t, i) => t.request(requests[i])));
      return answers.map((a) => (a.type === 'done' ? a.loss : 0));
    } finally {
      this.idle();
    }
  }

  private idle(): void {
    for (const t of this.threads) t.worker.unref();
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }
}
