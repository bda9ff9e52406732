/**
 * The fused step's CPU dedupe (embedding/webgpu-dedupe.ts) on worker threads, so that
 * big batches (16k-64k rows, 13-84 ms of dedupe each) are deduped several at a time,
 * ahead of the step, while the main thread uploads and submits. Each job copies the
 * batch's ids to a worker (the caller may reuse its arrays) and gets back, transferred,
 * exactly what BatchDedupe.build leaves in its fields.
 *
 * The worker runs BatchDedupe's own class text (Function.prototype.toString), so the
 * code it runs is the code the tests cover, and no second file has to travel beside an
 * esbuild bundle. Workers are unref'd while idle: an idle pool never keeps the process up.
 */
import { Worker } from 'node:worker_threads';
import os from 'node:os';
import { BatchDedupe } from '../embedding/webgpu-dedupe.js';
import { NUM_FEATURES } from '../embedding/layer.js';

/** BatchDedupe's result fields, as the locate keys and uploads read them. */
export interface DedupeResult {
  unique: number;
  lookups: number;
  uf: Uint32Array;
  uv: Uint32Array;
  idx: Uint32Array;
  occ: Uint32Array;
}

const workerSource = (features: number) => `
const { parentPort } = require('node:worker_threads');
const BatchDedupe = (${BatchDedupe.toString()});
const d = new BatchDedupe(${features});
parentPort.on('message', (m) => {
  try {
    const nu = d.build(m.cats, m.rows);
    const n = m.rows * ${features};
    const r = { id: m.id, unique: nu, lookups: n, uf: d.uf.slice(0, nu), uv: d.uv.slice(0, nu), idx: d.idx.slice(0, n), occ: d.occ.slice(0, n) };
    parentPort.postMessage(r, [r.uf.buffer, r.uv.buffer, r.idx.buffer, r.occ.buffer]);
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String(err && err.stack || err) });
  }
});
`;

interface Job {
  resolve: (r: DedupeResult) => void;
  reject: (e: Error) => void;
}

/** Worker threads the fused step uses by default: a few, leaving cores for the main thread and the input path. */
export function defaultDedupeWorkers(): number {
  const env = process.env.SCMA_DEDUPE_WORKERS;
  if (env !== undefined && env !== '') return Math.max(0, Math.floor(Number(env)) || 0);
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(4, cores - 2));
}

export class DedupePool {
  readonly size: number;
  private readonly workers: Worker[] = [];
  private readonly busy: number[] = [];
  private readonly jobs = new Map<number, Job>();
  private nextId = 0;
  private failed: Error | undefined;

  constructor(size: number, features = NUM_FEATURES) {
    this.size = Math.max(1, size);
    const src = workerSource(features);
    for (let i = 0; i < this.size; i++) {
      const w = new Worker(src, { eval: true });
      w.unref();
      w.on('message', (m: DedupeResult & { id: number; error?: string }) => this.done(i, m));
      w.on('error', (e) => this.fail(e instanceof Error ? e : new Error(String(e))));
      this.workers.push(w);
      this.busy.push(0);
    }
  }

  /** Starts deduping cats[0 .. rows*features) on the least busy worker. */
  dedupe(cats: Uint32Array, rows: number, features = NUM_FEATURES): Promise<DedupeResult> {
    if (this.failed) return Promise.reject(this.failed);
    let w = 0;
    for (let i = 1; i < this.size; i++) if (this.busy[i] < this.busy[w]) w = i;
    const id = this.nextId++;
    const copy = cats.slice(0, rows * features);
    const p = new Promise<DedupeResult>((resolve, reject) => this.jobs.set(id, { resolve, reject }));
    if (this.busy[w]++ === 0) this.workers[w].ref();
    this.workers[w].postMessage({ id, cats: copy, rows }, [copy.buffer]);
    return p;
  }

  private done(w: number, m: DedupeResult & { id: number; error?: string }): void {
    if (--this.busy[w] === 0) this.workers[w].unref();
    const job = this.jobs.get(m.id);
    if (!job) return;
    this.jobs.delete(m.id);
    if (m.error) job.reject(new Error(`dedupe worker: ${m.error}`));
    else job.resolve(m);
  }

  private fail(e: Error): void {
    this.failed = e;
    for (const j of this.jobs.values()) j.reject(e);
    this.jobs.clear();
  }

  dispose(): void {
    this.fail(new Error('dedupe pool disposed'));
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }
}
