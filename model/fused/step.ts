/// <reference types="@webgpu/types" />
/**
 * The fused WebGPU DLRM (DESIGN §4, issue 8): the whole training step as the fixed
 * op list of plan.ts, one compute dispatch per op with pipelines, buffers, uniforms
 * and bind groups made once per batch size, recorded into one command buffer per
 * step. Nothing is read back per step: the loss accumulates on the GPU until
 * takeLoss(). The CPU part of step k+1 (dedupe, keys, upload into the other buffer
 * set) runs while step k executes; before reusing a buffer set, queueStep waits for
 * the step that last used it (k-1 for step k+1), so at most two steps are queued.
 *
 * It shares the tfjs webgpu backend's GPUDevice (so a tfjs model can sit beside it,
 * as in bench/fused-check.ts) but uses no tfjs tensors. Same initialisation as the
 * tfjs model for the same seed (plan.ts initialDense, embedding/memory-init.ts), and
 * the same saved-state names, so checkpoints move between the two.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PipelineError } from '../../core/errors.js';
import type { Dlrm, DlrmConfig, ModelState, TrainBatch } from '../types.js';
import { invalidOption } from '../../core/errors.js';
import { ADAGRAD_EPS, checkedDenseState, NUM_FEATURES } from '../embedding/layer.js';
import { FusedEmbedding, type EmbeddingOp } from './embedding.js';
import { DedupePool, defaultDedupeWorkers, type DedupeResult } from './dedupe-pool.js';
import { Gpu, MAP_READ, COPY_DST, type Binding } from './gpu.js';
import { accumBuffer, accumStateName, buildProgram, checkBatch, denseParams, type DenseOptimizer, type DenseParam, initialDense, MATMUL_TILE, NUM_DENSE_INPUTS, pairTable, paramBuffer, type FusedProgram, type FusedShape, type Op } from './plan.js';
import { adagradShader, COLSUM_SHADER, interactBackwardShader, interactShader, LOSS_SHADER, LOSS_SUM_SHADER, matmulShader, SGD_SHADER, SIGMOID_SHADER } from './shaders.js';

/** What this model uses of tfjs-backend-webgpu's WebGPUBackend (4.22). */
interface TfWebGpuBackend {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

interface Dispatch {
  /** The op's name (plan.ts), for the diagnostics. */
  name: string;
  pipe: GPUComputePipeline;
  bind: GPUBindGroup;
  /** Workgroups, or the embedding op whose size depends on the batch's distinct pairs. */
  grid: [number, number, number] | 'unique';
}

interface Recorded {
  sets: Dispatch[][];
  uniforms: GPUBuffer[];
  generation: number;
}

const f32bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];
/** Buffers held per buffer set (two, so batch k+1 uploads while step k runs). */
const SET_BUFFERS = new Set(['dense', 'label', 'lr']);

export class FusedDlrm implements Dlrm {
  readonly config: DlrmConfig;
  readonly backend = 'webgpu';
  readonly embedding: FusedEmbedding;
  private readonly gpu: Gpu;
  private readonly tfBackend: TfWebGpuBackend | undefined;
  private readonly shape: FusedShape;
  private readonly params = new Map<string, GPUBuffer>();
  private readonly paramList: DenseParam[];
  /** Per buffer set: the batch's inputs and its step's rate (a uniform, written with the batch). */
  private readonly sets: { dense: GPUBuffer; label: GPUBuffer; lr: GPUBuffer }[] = [];
  private readonly denseOptimizer: DenseOptimizer;
  /** The rate of the next queued step (setLearningRate); each step takes it when queued. */
  private lr: number;
  private readonly work = new Map<string, GPUBuffer>();
  private readonly pairs: GPUBuffer;
  private readonly lossAcc: GPUBuffer;
  private readonly lossStaging: GPUBuffer;
  private readonly programs = new Map<string, Recorded>();
  private rowCap = 0;
  private submits = 0;
  private step = 0;
  private lastStep: { set: number; unique: number } | undefined;
  private readonly inflight: (Promise<unknown> | undefined)[] = [undefined, undefined];
  /**
   * Big batches: the dedupe runs on worker threads, several batches ahead. queueStep
   * starts a batch's dedupe and chains its upload and submit after the steps queued
   * before it; `pending` holds those chained steps, oldest first.
   */
  private pool: DedupePool | undefined;
  private readonly poolWorkers: number;
  private readonly poolMinRows: number;
  private readonly pending: Promise<void>[] = [];
  private chain: Promise<void> = Promise.resolve();
  private uploaded: Promise<unknown> | undefined;
  /** Milliseconds queueStep spent waiting for the GPU (a free buffer set) or a worker's dedupe; for the benches. */
  waitMs = 0;

  /**
   * device: a GPUDevice of one's own (tests); by default the tfjs webgpu backend's.
   * opts.dedupeWorkers (default: SCMA_DEDUPE_WORKERS, else min(4, cores - 2)) worker
   * threads dedupe batches of at least opts.dedupeMinRows rows (default 8192) ahead of
   * the step; 0 keeps the dedupe on the main thread.
   */
  constructor(config: DlrmConfig, device?: GPUDevice, opts: { dedupeWorkers?: number; dedupeMinRows?: number } = {}) {
    if (!device && tf.getBackend() !== 'webgpu') throw new PipelineError('ERR_BACKEND', `the fused model needs the webgpu backend, the current one is ${tf.getBackend()}; use --embedding-impl auto or composite`);
    this.config = config;
    this.tfBackend = device ? undefined : (tf.backend() as unknown as TfWebGpuBackend);
    this.gpu = new Gpu(device ?? this.tfBackend!.device);
    this.shape = { d: config.embeddingDim, bottom: config.bottomMlp, top: config.topMlp };
    this.paramList = denseParams(this.shape);
    this.denseOptimizer = config.denseOptimizer ?? 'sgd';
    this.lr = config.learningRate;
    this.embedding = new FusedEmbedding(this.gpu, config.embedding, config.embeddingDim, config.learningRate, config.embeddingOptimizer, config.seed);
    for (const [p, values] of initialDense(this.shape, config.seed)) {
      this.params.set(paramBuffer(p), this.gpu.upload(values));
      // Dense Adagrad's sums start at 0, as torch.optim.Adagrad's and the tfjs model's (new buffers are zero-filled).
      if (this.denseOptimizer === 'adagrad') this.params.set(accumBuffer(p), this.gpu.buffer(values.length));
    }
    this.pairs = this.gpu.upload(pairTable());
    this.lossAcc = this.gpu.buffer(2);
    this.lossStaging = this.gpu.device.createBuffer({ size: 16, usage: MAP_READ | COPY_DST });
    // The first step waits for the initial uploads (the memory alone is 865 MB for the
    // large shape's full tables), so their copy is not timed as part of a step.
    this.flushTf();
    const q = this.gpu.device.queue;
    q.submit([this.gpu.device.createCommandEncoder().finish()]);
    this.uploaded = typeof q.onSubmittedWorkDone === 'function' ? q.onSubmittedWorkDone() : undefined;
    this.poolWorkers = opts.dedupeWorkers ?? defaultDedupeWorkers();
    this.poolMinRows = opts.dedupeMinRows ?? 8192;
  }

  /** Waits for every chained step to be submitted; throws the first error among them. */
  private async drain(): Promise<void> {
    while (this.pending.length) await this.pending.shift();
  }

  /** The rate of the steps queued from now on (a schedule sets it per step): written with each step's batch, no recompile. */
  setLearningRate(lr: number): void {
    if (!(Number.isFinite(lr) && lr > 0)) throw invalidOption('learning-rate', 'must be a positive number', lr);
    this.lr = lr;
  }

  get steps(): number {
    return this.step;
  }

  /** Submits what tfjs has recorded so far (a tfjs model may share the device), so our work queues after it. */
  private flushTf(): void {
    if (this.tfBackend?.commandEncoder) {
      this.tfBackend.endComputePassEncoder();
      this.tfBackend.submitQueue();
    }
  }

  /** Work buffers for `rows` (activations, gradients, partial sums); replaces them all when rows grow. */
  private reserve(rows: number): void {
    if (rows <= this.rowCap) return;
    for (const b of this.work.values()) b.destroy();
    this.work.clear();
    for (const s of this.sets) for (const b of Object.values(s)) b.destroy();
    this.sets.length = 0;
    this.clearPrograms();
    const sizes = new Map<string, number>();
    for (const mode of ['train', 'predict'] as const) for (const [k, n] of buildProgram(this.shape, rows, mode, this.denseOptimizer).sizes) sizes.set(k, Math.max(n, sizes.get(k) ?? 0));
    for (const [name, n] of sizes) if (!this.params.has(name) && !SET_BUFFERS.has(name) && name !== 'loss') this.work.set(name, this.gpu.buffer(n));
    for (let s = 0; s < 2; s++) this.sets.push({ dense: this.gpu.buffer(rows * NUM_DENSE_INPUTS), label: this.gpu.buffer(rows), lr: this.gpu.uniform(4) });
    this.rowCap = rows;
  }

  private clearPrograms(): void {
    for (const r of this.programs.values()) for (const u of r.uniforms) u.destroy();
    this.programs.clear();
  }

  private buf(name: string, set: number): GPUBuffer {
    if (name === 'dense' || name === 'label' || name === 'lr') return this.sets[set][name];
    if (name === 'loss') return this.lossAcc;
    const b = this.params.get(name) ?? this.work.get(name);
    if (!b) throw new Error(`fused step: no buffer ${name}`);
    return b;
  }

  /** Pipelines, uniforms and bind groups (both buffer sets) of a program; cached per mode and rows. */
  private recorded(mode: 'train' | 'predict', rows: number): Recorded {
    const key = `${mode}:${rows}`;
    let r = this.programs.get(key);
    if (r && r.generation === this.embedding.generation) return r;
    if (r) for (const u of r.uniforms) u.destroy();
    const program = buildProgram(this.shape, rows, mode, this.denseOptimizer);
    const uniforms: GPUBuffer[] = [];
    const sets = [0, 1].map((s) => program.ops.map((op) => this.dispatchOf(op, s, program, uniforms)));
    r = { sets, uniforms, generation: this.embedding.generation };
    if (this.programs.size >= 8) this.clearPrograms();
    this.programs.set(key, r);
    return r;
  }

  private dispatchOf(op: Op, s: number, program: FusedProgram, uniforms: GPUBuffer[]): Dispatch {
    const gpu = this.gpu;
    const d = this.shape.d;
    const b = (name: string) => this.buf(name, s);
    const uni = (words: number[]) => {
      const u = gpu.uniformOf(Uint32Array.from(words));
      uniforms.push(u);
      return u;
    };
    const rowGrid = (rows: number): [number, number, number] => {
      const x = Math.min(rows, gpu.maxWorkgroups);
      return [x, Math.ceil(rows / x), 1];
    };
    const make = (pipe: GPUComputePipeline, entries: Binding[], grid: Dispatch['grid']): Dispatch => ({ name: op.op, pipe, bind: gpu.bind(pipe, entries), grid });
    switch (op.op) {
      case 'locate':
      case 'gather':
      case 'scatter':
      case 'apply': {
        const { pipe, entries } = this.embedding.bindings(op.op as EmbeddingOp, s, this.buf('E', s), this.buf('dE', s));
        const grid =
          op.op === 'gather' ? this.embedding.grid(program.rows * NUM_FEATURES * d) : op.op === 'scatter' ? this.embedding.scatterGrid(program.rows * NUM_FEATURES) : 'unique';
        return make(pipe, entries, grid === 'unique' ? grid : [grid[0], grid[1], 1]);
      }
      case 'matmul': {
        const pipe = gpu.pipeline(`matmul-${op.transA ? 't' : 'n'}${op.transB ? 't' : 'n'}-${op.epilogue}`, () => matmulShader(op.transA, op.transB, op.epilogue));
        const kChunk = Math.ceil(op.K / op.splits);
        const entries: Binding[] = [[0, uni([op.M, op.N, op.K, kChunk, op.M * op.N, 0, 0, 0])], [1, b(op.a)], [2, b(op.b)], [3, b(op.c)]];
        if (op.extra) entries.push([4, b(op.extra)]);
        return make(pipe, entries, [Math.ceil(op.N / MATMUL_TILE), Math.ceil(op.M / MATMUL_TILE), op.splits]);
      }
      case 'interact': {
        const grid = rowGrid(op.rows);
        const pipe = gpu.pipeline(`interact-${d}`, () => interactShader(d));
        return make(pipe, [[0, uni([op.rows, grid[0], 0, 0])], [1, b(op.x)], [2, b(op.e)], [3, b(op.z)], [4, this.pairs]], grid);
      }
      case 'interact-backward': {
        const grid = rowGrid(op.rows);
        const pipe = gpu.pipeline(`interact-backward-${d}`, () => interactBackwardShader(d));
        return make(pipe, [[0, uni([op.rows, grid[0], 0, 0])], [1, b(op.x)], [2, b(op.e)], [3, b(op.dz)], [4, b(op.dx)], [5, b(op.de)]], grid);
      }
      case 'loss': {
        const pipe = gpu.pipeline('loss', () => LOSS_SHADER);
        return make(pipe, [[0, uni([op.rows, f32bits(1 / op.rows), 0, 0])], [1, b(op.logits)], [2, b(op.label)], [3, b(op.dlogit)], [4, b(op.rowLoss)]], [Math.ceil(op.rows / 256), 1, 1]);
      }
      case 'loss-sum': {
        const pipe = gpu.pipeline('loss-sum', () => LOSS_SUM_SHADER);
        return make(pipe, [[0, uni([op.rows, f32bits(1 / op.rows), 0, 0])], [1, b(op.rowLoss)], [2, b(op.acc)]], [1, 1, 1]);
      }
      case 'sigmoid': {
        const pipe = gpu.pipeline('sigmoid', () => SIGMOID_SHADER);
        return make(pipe, [[0, uni([op.rows, 0, 0, 0])], [1, b(op.logits)], [2, b(op.out)]], [Math.ceil(op.rows / 256), 1, 1]);
      }
      case 'colsum': {
        const pipe = gpu.pipeline('colsum', () => COLSUM_SHADER);
        return make(pipe, [[0, uni([op.rows, op.width, Math.ceil(op.rows / op.splits), 0])], [1, b(op.g)], [2, b(op.part)]], [Math.ceil(op.width / 64), op.splits, 1]);
      }
      case 'sgd': {
        const pipe = gpu.pipeline('sgd', () => SGD_SHADER);
        return make(pipe, [[0, uni([op.size, op.splits, 0, 0])], [1, b(op.param)], [2, b(op.part)], [3, b(op.lr)]], [Math.ceil(op.size / 256), 1, 1]);
      }
      case 'adagrad': {
        const pipe = gpu.pipeline('adagrad', () => adagradShader(ADAGRAD_EPS));
        return make(pipe, [[0, uni([op.size, op.splits, 0, 0])], [1, b(op.param)], [2, b(op.part)], [3, b(op.lr)], [4, b(op.accum)]], [Math.ceil(op.size / 256), 1, 1]);
      }
    }
  }

  private encode(dispatches: Dispatch[], unique: number): GPUCommandEncoder {
    const enc = this.gpu.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    const ug = this.embedding.grid(unique * this.shape.d);
    for (const dsp of dispatches) {
      pass.setPipeline(dsp.pipe);
      pass.setBindGroup(0, dsp.bind);
      if (dsp.grid === 'unique') pass.dispatchWorkgroups(ug[0], ug[1]);
      else pass.dispatchWorkgroups(dsp.grid[0], dsp.grid[1], dsp.grid[2]);
    }
    pass.end();
    return enc;
  }

  /** Checks a batch, stages its CPU part, waits until its buffer set is free and uploads it; returns the set. */
  private async prepare(batch: TrainBatch, needLabel: boolean, lr: number, deduped?: DedupeResult): Promise<{ set: number; unique: number; rows: number }> {
    const rows = checkBatch(batch, needLabel);
    if (this.uploaded) {
      await this.uploaded;
      this.uploaded = undefined;
    }
    this.embedding.stage(batch.cats, rows, deduped);
    this.reserve(rows);
    const set = this.submits++ % 2;
    if (this.inflight[set]) {
      const t = performance.now();
      await this.inflight[set];
      this.waitMs += performance.now() - t;
    }
    const q = this.gpu.device.queue;
    this.flushTf();
    q.writeBuffer(this.sets[set].dense, 0, batch.dense, 0, rows * NUM_DENSE_INPUTS);
    if (needLabel) q.writeBuffer(this.sets[set].label, 0, batch.label!, 0, rows);
    q.writeBuffer(this.sets[set].lr, 0, Float32Array.of(lr, 0, 0, 0));
    const unique = this.embedding.upload(set, lr);
    return { set, unique, rows };
  }

  private submit(enc: GPUCommandEncoder, set: number): void {
    const q = this.gpu.device.queue;
    q.submit([enc.finish()]);
    this.inflight[set] = typeof q.onSubmittedWorkDone === 'function' ? q.onSubmittedWorkDone() : undefined;
  }

  /**
   * Queues one training step without waiting for the GPU or reading anything back.
   * Small batches: resolves once the step is submitted. Batches of dedupeMinRows rows
   * or more: resolves once the batch's dedupe is handed to a worker (the ids are
   * copied); its dense inputs and labels are uploaded later, in order, so the caller
   * must not change them until takeLoss, predict or exportState has returned.
   */
  async queueStep(batch: TrainBatch): Promise<void> {
    const rows = checkBatch(batch, true);
    if (this.poolWorkers > 0 && rows >= this.poolMinRows) {
      // Dedupe on a worker now; upload and submit once it is done and the steps before are out.
      this.pool ??= new DedupePool(this.poolWorkers);
      const deduped = this.pool.dedupe(batch.cats, rows);
      const lr = this.lr; // this step's rate: the caller may set the next one before it is submitted
      deduped.catch(() => {}); // surfaced by the chained step
      const prev = this.chain;
      const step = (async () => {
        await prev;
        const t = performance.now();
        const d = await deduped;
        this.waitMs += performance.now() - t;
        await this.trainOn(batch, lr, d);
      })();
      step.catch(() => {}); // surfaced by drain()
      this.chain = step;
      this.pending.push(step);
      this.step++;
      // Keep one dedupe per worker, and one more, ahead of the GPU.
      while (this.pending.length > this.pool.size + 1) await this.pending.shift();
      return;
    }
    await this.drain();
    await this.trainOn(batch, this.lr);
    this.step++;
  }

  private async trainOn(batch: TrainBatch, lr: number, deduped?: DedupeResult): Promise<void> {
    const { set, unique, rows } = await this.prepare(batch, true, lr, deduped);
    const r = this.recorded('train', rows);
    this.submit(this.encode(r.sets[set], unique), set);
    this.lastStep = { set, unique };
  }

  /**
   * Diagnostic (bench/gpu-step --profile): the GPU time of one training step at `rows`
   * rows, from replaying the last queued batch's step `times` times back to back (no
   * CPU work between steps; encoding is cheap). Trains on that batch `times` more times.
   */
  async replaySteps(rows: number, times: number, only?: (op: string) => boolean): Promise<number> {
    await this.drain();
    const last = this.lastStep;
    if (!last) throw new Error('replaySteps needs a queued step first');
    const r = this.recorded('train', rows);
    // `only`: replay just those ops (diagnostics; leaves the model state meaningless).
    const dispatches = only ? r.sets[last.set].filter((d) => only(d.name)) : r.sets[last.set];
    await this.gpu.device.queue.onSubmittedWorkDone();
    const t0 = performance.now();
    for (let i = 0; i < times; i++) this.gpu.device.queue.submit([this.encode(dispatches, last.unique).finish()]);
    await this.gpu.device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / times;
  }

  /** Mean loss of the steps queued since the last call (reads 8 bytes); throws ERR_NAN_LOSS if not finite. */
  async takeLoss(): Promise<{ mean: number; steps: number }> {
    await this.drain();
    this.flushTf();
    const q = this.gpu.device.queue;
    const enc = this.gpu.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.lossAcc, 0, this.lossStaging, 0, 8);
    q.submit([enc.finish()]);
    q.writeBuffer(this.lossAcc, 0, new Float32Array(2));
    await this.lossStaging.mapAsync(0x1);
    const [sum, steps] = new Float32Array(this.lossStaging.getMappedRange(0, 8).slice(0));
    this.lossStaging.unmap();
    const mean = steps > 0 ? sum / steps : NaN;
    if (steps > 0 && !Number.isFinite(mean)) {
      throw new PipelineError('ERR_NAN_LOSS', `training loss became ${mean} by step ${this.step}; lower the learning rate or check the input (the model state is no longer usable)`, { step: this.step });
    }
    return { mean, steps };
  }

  /** One step, then its loss (with the mean over earlier queued steps, if any were not yet taken). */
  async trainStep(batch: TrainBatch): Promise<number> {
    await this.queueStep(batch);
    return (await this.takeLoss()).mean;
  }

  async predict(batch: TrainBatch): Promise<Float32Array> {
    await this.drain();
    const { set, unique, rows } = await this.prepare(batch, false, this.lr);
    const r = this.recorded('predict', rows);
    this.submit(this.encode(r.sets[set], unique), set);
    return (await this.gpu.read(this.buf('prob', set), rows)).subarray(0, rows);
  }

  async exportState(): Promise<ModelState> {
    await this.drain();
    this.flushTf();
    const dense = [];
    for (const p of this.paramList) dense.push({ name: p.name, shape: p.shape.slice(), values: await this.gpu.read(this.params.get(paramBuffer(p))!, p.shape.reduce((a, b) => a * b, 1)) });
    const { embedding, optimizer } = await this.embedding.exportState();
    // Dense Adagrad's sums after the embedding's, named and ordered as the tfjs model saves them.
    if (this.denseOptimizer === 'adagrad') {
      for (const p of this.paramList) optimizer.push({ name: accumStateName(p), shape: p.shape.slice(), values: await this.gpu.read(this.params.get(accumBuffer(p))!, p.shape.reduce((a, b) => a * b, 1)) });
    }
    return { dense, embedding, optimizer, step: this.step };
  }

  importState(state: ModelState): void {
    // Check everything before changing anything: a mismatch leaves the model as it was.
    const values = checkedDenseState(state, this.paramList);
    const writeEmbedding = this.embedding.checkState(state);
    // Dense Adagrad sums (a checkpoint); a saved model has none, and then they stay as
    // they are (0 in a new model), as in the tfjs model.
    const accums = this.denseOptimizer !== 'adagrad' ? [] : this.paramList.map((p) => {
      const a = state.optimizer.find((x) => x.name === accumStateName(p));
      const size = p.shape.reduce((x, y) => x * y, 1);
      if (a && a.values?.length !== size) throw new PipelineError('ERR_STATE_MISMATCH', `saved ${a.name} has ${a.values?.length} values, this model needs ${size}`, { field: a.name });
      return a?.values;
    });
    this.flushTf();
    this.paramList.forEach((p, i) => this.gpu.device.queue.writeBuffer(this.params.get(paramBuffer(p))!, 0, values[i]));
    accums.forEach((a, i) => a && this.gpu.device.queue.writeBuffer(this.params.get(accumBuffer(this.paramList[i]))!, 0, a));
    writeEmbedding();
    this.step = Number.isInteger(state.step) ? state.step : 0;
  }

  dispose(): void {
    this.pool?.dispose();
    this.pool = undefined;
    this.clearPrograms();
    for (const b of [...this.params.values(), ...this.work.values(), this.pairs, this.lossAcc, this.lossStaging]) b.destroy();
    for (const s of this.sets) for (const b of Object.values(s)) b.destroy();
    this.embedding.dispose();
  }
}
