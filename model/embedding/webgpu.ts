/// <reference types="@webgpu/types" />
/**
 * The embedding layer's WebGPU fast path (DESIGN §4): memory (and the Adagrad
 * accumulator) live in GPUBuffers owned by the layer, beside tfjs's own. Per batch
 * the CPU only dedupes the batch's (feature, value) pairs (webgpu-dedupe.ts) and
 * uploads them with the lookup -> pair map and the lookups listed pair by pair; the GPU computes the
 * locations (HashNet hash, SCMA mapping search, or full-table row), gathers the
 * [rows, 26, d] output into a buffer that enters tfjs as a zero-copy tensor, and
 * after the backward pass sums each pair's gradient and steps only the touched
 * locations (webgpu-shaders.ts). Nothing passes over all M floats per batch.
 *
 * Ordering with tfjs: tfjs records its kernels into its own command encoder and
 * submits lazily. Before each of our submits we flush it (flushTf), so the queue
 * runs everything in program order: the gradient is computed before we read it,
 * and buffers tfjs recycles after we used them are rewritten only later.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PipelineError } from '../../core/errors.js';
import { fmix32, hash2 } from '../../core/hash.js';
import { HashNetCodes } from '../../scma/codes.js';
import { ScmaMapping } from '../../scma/mapping.js';
import { RobeCodes } from '../../scma/robe-codes.js';
import type { EmbeddingSpec } from '../types.js';
import { ADAGRAD_EPS, NUM_FEATURES, fromEmbeddingState, toEmbeddingState, type EmbeddingLayer, type EmbeddingOptions, type EmbeddingState } from './layer.js';
import { Locator } from './locations.js';
import { initialMemory } from './memory-init.js';
import { BatchDedupe } from './webgpu-dedupe.js';
import { applyShader, GATHER_SHADER, hashesOnGpu, locateShader, SCATTER_SHADER, scatterThreads, WORKGROUP, type LocateMode } from './webgpu-shaders.js';

// GPUBufferUsage / GPUMapMode values (the globals exist only once `webgpu` is loaded).
const MAP_READ = 0x1;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const UNIFORM = 0x40;
const STORAGE = 0x80;
const MAP_MODE_READ = 0x1;

/** What this layer uses of tfjs-backend-webgpu's WebGPUBackend (4.22). */
interface TfWebGpuBackend {
  device: GPUDevice;
  tensorMap: { get(dataId: object): { resource?: unknown; dtype: string } | undefined };
  uploadToGPU(dataId: object): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

/** HashNetCodes' private seed word and salts, read once to run the same hash on the GPU. */
export function hashParams(codes: unknown): { seedWord: number; salts: Uint32Array } | undefined {
  if (!(codes instanceof HashNetCodes)) return undefined;
  const c = codes as unknown as { seedWord?: unknown; salts?: unknown };
  if (typeof c.seedWord !== 'number' || !(c.salts instanceof Uint32Array) || c.salts.length !== codes.dim) return undefined;
  const p = { seedWord: c.seedWord >>> 0, salts: c.salts };
  // The WGSL port must agree with codesInto: check a few values, else use CPU codes.
  const out = new Uint32Array(codes.dim);
  for (const [f, v] of [[0, 0], [3, 12345], [25, 0xffffffff]]) {
    codes.codesInto(f, v, out, 0);
    for (let j = 0; j < codes.dim; j++) if (out[j] !== fmix32(hash2(f, v, p.seedWord) ^ p.salts[j])) return undefined;
  }
  return p;
}

export interface RobeParams {
  seedWord: number;
  /** One salt per block. */
  salts: Uint32Array;
  block: number;
}

/**
 * Location of element j of (feature, value) in M floats, computed as the 'robe' locate
 * shader does (u32 steps, then mod M): the JS port the fused reference runs, and what
 * robeParams checks against RobeCodes.codesInto.
 */
export function robeLocation(p: RobeParams, feature: number, value: number, j: number, m: number): number {
  const c = Math.floor(j / p.block);
  const o = fmix32(hash2(feature, value, p.seedWord) ^ p.salts[c]) >>> 1;
  return ((o + (j - c * p.block)) >>> 0) % m;
}

/** RobeCodes' private seed word, salts and block size, read once to run the same hash on the GPU. */
export function robeParams(codes: unknown): RobeParams | undefined {
  if (!(codes instanceof RobeCodes)) return undefined;
  const c = codes as unknown as { seedWord?: unknown; salts?: unknown };
  const blocks = Math.ceil(codes.dim / codes.block);
  if (typeof c.seedWord !== 'number' || !(c.salts instanceof Uint32Array) || c.salts.length !== blocks) return undefined;
  const p: RobeParams = { seedWord: c.seedWord >>> 0, salts: c.salts, block: codes.block };
  // The WGSL port must agree with codesInto (mod any M, codes taken mod M): check a few
  // values at M = 2^32 - 5 (no wrap in practice) and a small prime, else use CPU codes.
  const out = new Uint32Array(codes.dim);
  for (const [f, v] of [[0, 0], [3, 12345], [25, 0xffffffff]]) {
    codes.codesInto(f, v, out, 0);
    for (const m of [4294967291, 1009]) {
      for (let j = 0; j < codes.dim; j++) if (out[j] % m !== robeLocation(p, f, v, j, m)) return undefined;
    }
  }
  return p;
}

function sortedByKey(m: ScmaMapping): boolean {
  const { features: f, values: v } = m;
  for (let i = 1; i < v.length; i++) if (f[i - 1] > f[i] || (f[i - 1] === f[i] && v[i - 1] >= v[i])) return false;
  return true;
}

/**
 * How locations are computed on the GPU for a spec: full tables by row, HashNetCodes
 * by its hash, a ScmaMapping by binary search in its sorted keys (when sorted and
 * within the device's binding size), RobeCodes by its block hash, any other
 * LocationCodes from CPU codes per pair.
 */
export function locateMode(spec: EmbeddingSpec, maxBindingBytes = Infinity): LocateMode {
  if (spec.kind === 'full') return 'rows';
  if (hashParams(spec.codes)) return 'hash';
  if (spec.kind === 'robe' && robeParams(spec.codes)) return 'robe';
  const m = spec.codes;
  if (m instanceof ScmaMapping && hashParams(m.fallback) && m.codes.byteLength <= maxBindingBytes && sortedByKey(m)) return 'scma';
  return 'codes';
}

/**
 * Keys of the batch's distinct pairs as the locate shader reads them, into `keys`:
 * full-table rows ('rows'), d CPU codes per pair ('codes'), else the features (the
 * values go to keyB as they are).
 */
export function fillLocateKeys(mode: LocateMode, spec: EmbeddingSpec, locator: Locator, dedupe: { uf: Uint32Array<ArrayBufferLike>; uv: Uint32Array<ArrayBufferLike>; unique: number }, keys: Uint32Array): Uint32Array {
  const { uf, uv, unique: nu } = dedupe;
  if (mode === 'rows' && spec.kind === 'full') {
    const off = locator.rowOffsets;
    for (let u = 0; u < nu; u++) {
      const f = uf[u];
      const idx = spec.vocab.index(f, uv[u]);
      const size = off[f + 1] - off[f];
      if (!(idx >= 0 && idx < size) || !Number.isInteger(idx)) {
        throw new PipelineError('ERR_VOCAB_INDEX', `vocabulary index ${idx} for value ${uv[u]} is outside feature c${f + 1}'s table of ${size} rows`, { field: `c${f + 1}` });
      }
      keys[u] = off[f] + idx;
    }
    return keys.subarray(0, nu);
  }
  if (mode === 'codes' && spec.kind !== 'full') {
    const d = locator.dim;
    for (let u = 0; u < nu; u++) spec.codes.codesInto(uf[u], uv[u], keys, u * d);
    return keys.subarray(0, nu * d);
  }
  return uf.subarray(0, nu);
}

export class WebGpuEmbedding implements EmbeddingLayer {
  readonly kind;
  readonly impl = 'webgpu' as const;
  readonly dim: number;
  readonly memoryFloats: number;
  readonly mode: LocateMode;
  private readonly spec: EmbeddingSpec;
  private readonly locator: Locator;
  private readonly backend: TfWebGpuBackend;
  private readonly device: GPUDevice;
  private readonly memory: GPUBuffer;
  private readonly accum: GPUBuffer | undefined;
  private readonly gsum: GPUBuffer;
  private readonly params: GPUBuffer;
  private readonly paramWords = new Uint32Array(12);
  private readonly statics: GPUBuffer[] = [];
  private readonly salts: GPUBuffer | undefined;
  private readonly map: { f: GPUBuffer; v: GPUBuffer; codes: GPUBuffer } | undefined;
  private readonly pipes: { locate: GPUComputePipeline; gather: GPUComputePipeline; scatter: GPUComputePipeline; apply: GPUComputePipeline };
  private readonly dedupe = new BatchDedupe();
  private readonly maxWorkgroups: number;
  /** Per-batch buffers, grown to the largest batch seen. */
  private cap = 0;
  private bufs: Record<'keyA' | 'keyB' | 'idx' | 'occ' | 'locs' | 'out', GPUBuffer> | undefined;
  private keyA = new Uint32Array(0);
  private batchOut: tf.Tensor3D | undefined;
  private batchUnique = 0;

  constructor(o: EmbeddingOptions) {
    if (tf.getBackend() !== 'webgpu') {
      throw new PipelineError('ERR_BACKEND', `the webgpu embedding layer needs the webgpu backend, the current one is ${tf.getBackend()}; use --embedding-impl composite or auto`);
    }
    this.backend = tf.backend() as unknown as TfWebGpuBackend;
    this.device = this.backend.device;
    const dev = this.device;
    this.kind = o.spec.kind;
    this.spec = o.spec;
    this.dim = o.dim;
    this.locator = new Locator(o.spec, o.dim);
    this.memoryFloats = this.locator.memoryFloats;
    const maxBind = Math.min(dev.limits.maxStorageBufferBindingSize, dev.limits.maxBufferSize);
    if (this.memoryFloats * 4 > maxBind) {
      throw new PipelineError('ERR_MEMORY_SIZE', `embedding memory of ${this.memoryFloats} floats exceeds this GPU's largest storage binding (${maxBind} bytes); use a smaller --memory-floats or --embedding-impl composite`);
    }
    this.maxWorkgroups = dev.limits.maxComputeWorkgroupsPerDimension;
    this.mode = locateMode(o.spec, maxBind);

    const mem = initialMemory(o.spec, this.locator, o.dim, o.seed);
    this.memory = this.buffer(mem.byteLength, STORAGE | COPY_SRC | COPY_DST);
    dev.queue.writeBuffer(this.memory, 0, mem);
    // New buffers are zero-filled: the accumulator starts at 0 (PyTorch's Adagrad).
    this.accum = o.optimizer === 'adagrad' ? this.buffer(mem.byteLength, STORAGE | COPY_SRC | COPY_DST) : undefined;
    this.gsum = this.buffer(mem.byteLength, STORAGE);
    this.params = this.buffer(this.paramWords.byteLength, UNIFORM | COPY_DST);
    this.statics.push(this.memory, this.gsum, this.params);
    if (this.accum) this.statics.push(this.accum);

    let hp: { seedWord: number; salts: Uint32Array } | undefined;
    if (this.mode === 'hash' && o.spec.kind !== 'full') hp = hashParams(o.spec.codes);
    if (this.mode === 'robe' && o.spec.kind !== 'full') {
      const rp = robeParams(o.spec.codes)!;
      hp = rp;
      this.paramWords[9] = rp.block;
    }
    if (this.mode === 'scma' && o.spec.kind !== 'full') {
      const m = o.spec.codes as ScmaMapping;
      hp = hashParams(m.fallback);
      this.map = { f: this.upload(Uint32Array.from(m.features)), v: this.upload(m.values), codes: this.upload(m.codes) };
      this.paramWords[4] = m.values.length;
    }
    if (hp) {
      this.salts = this.upload(hp.salts);
      this.paramWords[8] = hp.seedWord;
    }
    this.paramWords[2] = o.dim;
    this.paramWords[3] = o.spec.kind === 'full' ? 0 : o.spec.memoryFloats;
    new Float32Array(this.paramWords.buffer)[7] = o.learningRate;

    const pipe = (code: string) => dev.createComputePipeline({ layout: 'auto', compute: { module: dev.createShaderModule({ code }), entryPoint: 'main' } });
    this.pipes = {
      locate: pipe(locateShader(this.mode)),
      gather: pipe(GATHER_SHADER),
      scatter: pipe(SCATTER_SHADER),
      apply: pipe(applyShader(!!this.accum, ADAGRAD_EPS)),
    };
  }

  private buffer(bytes: number, usage: number): GPUBuffer {
    // Bindings need a non-zero size; 4-byte multiples for writeBuffer.
    return this.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 4) * 4), usage });
  }

  private upload(a: Uint32Array | Float32Array): GPUBuffer {
    const b = this.buffer(a.byteLength, STORAGE | COPY_DST);
    if (a.length) this.device.queue.writeBuffer(b, 0, a);
    this.statics.push(b);
    return b;
  }

  private grow(n: number): void {
    if (n <= this.cap) return;
    this.destroyBatchBuffers();
    let cap = Math.max(this.cap, 1024);
    while (cap < n) cap *= 2;
    const d = this.dim;
    const u32 = (count: number, extra = 0) => this.buffer(count * 4, STORAGE | COPY_DST | extra);
    this.bufs = {
      // 'codes' mode keeps d codes per pair in keyA.
      keyA: u32(this.mode === 'codes' ? cap * d : cap),
      keyB: u32(cap),
      idx: u32(cap),
      occ: u32(cap),
      locs: u32(cap * d),
      out: u32(cap * d, COPY_SRC),
    };
    this.keyA = new Uint32Array(this.mode === 'codes' ? cap * d : cap);
    this.cap = cap;
  }

  private destroyBatchBuffers(): void {
    if (this.bufs) for (const b of Object.values(this.bufs)) b.destroy();
    this.bufs = undefined;
  }

  /** Submits what tfjs has recorded so far, so our commands queue after it. */
  private flushTf(): void {
    this.backend.ensureCommandEncoderReady();
    this.backend.endComputePassEncoder();
    this.backend.submitQueue();
  }

  /** Workgroups for `total` threads over x (at most the device limit) and y, and the y stride. */
  private grid(total: number): [number, number, number] {
    const wg = Math.max(1, Math.ceil(total / WORKGROUP));
    const x = Math.min(wg, this.maxWorkgroups);
    return [x, Math.ceil(wg / x), x * WORKGROUP];
  }

  private bind(pipeline: GPUComputePipeline, entries: [number, GPUBuffer][]): GPUBindGroup {
    return this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [[0, this.params] as [number, GPUBuffer], ...entries].map(([binding, buffer]) => ({ binding, resource: { buffer } })),
    });
  }

  begin(cats: Uint32Array, rows: number): tf.Tensor[] {
    this.end();
    const d = this.dim;
    const n = rows * NUM_FEATURES;
    const nu = this.dedupe.build(cats, rows);
    this.grow(n);
    const keys = fillLocateKeys(this.mode, this.spec, this.locator, this.dedupe, this.keyA);
    const b = this.bufs!;
    const [ux, uy, strideU] = this.grid(nu * d);
    const [nx, ny, strideN] = this.grid(n * d);
    const pw = this.paramWords;
    pw[0] = n;
    pw[1] = nu;
    pw[5] = strideU;
    pw[6] = strideN;
    pw[10] = this.grid(scatterThreads(n, d))[2];
    this.flushTf();
    const q = this.device.queue;
    const dd = this.dedupe;
    q.writeBuffer(this.params, 0, pw);
    q.writeBuffer(b.keyA, 0, keys);
    if (hashesOnGpu(this.mode)) q.writeBuffer(b.keyB, 0, dd.uv.subarray(0, nu));
    q.writeBuffer(b.idx, 0, dd.idx.subarray(0, n));
    q.writeBuffer(b.occ, 0, dd.occ.subarray(0, n));

    const locateEntries: [number, GPUBuffer][] = [[1, b.keyA], [4, b.locs]];
    if (hashesOnGpu(this.mode)) locateEntries.push([2, b.keyB], [3, this.salts!]);
    if (this.mode === 'scma') locateEntries.push([5, this.map!.f], [6, this.map!.v], [7, this.map!.codes]);
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(this.pipes.locate);
    pass.setBindGroup(0, this.bind(this.pipes.locate, locateEntries));
    pass.dispatchWorkgroups(ux, uy);
    pass.setPipeline(this.pipes.gather);
    pass.setBindGroup(0, this.bind(this.pipes.gather, [[1, this.memory], [2, b.locs], [3, b.idx], [4, b.out]]));
    pass.dispatchWorkgroups(nx, ny);
    pass.end();
    q.submit([enc.finish()]);
    this.batchUnique = nu;
    // Zero-copy: tfjs reads our buffer; it stays ours (not released to tfjs's pool).
    this.batchOut = tf.tensor({ buffer: b.out, zeroCopy: true }, [rows, NUM_FEATURES, d], 'float32') as tf.Tensor3D;
    return [this.batchOut];
  }

  embed(inputs: tf.Tensor[]): tf.Tensor3D {
    return inputs[0] as tf.Tensor3D;
  }

  async update(grads: tf.Tensor[]): Promise<void> {
    try {
      const g = grads[0];
      const n = this.dedupe.lookups;
      if (!this.batchOut || !g || g.size !== n * this.dim || g.dtype !== 'float32') {
        throw new Error(`webgpu embedding update: expected a float32 gradient of ${n * this.dim} values after begin(), got ${g?.size} ${g?.dtype}`);
      }
      this.backend.uploadToGPU(g.dataId);
      const res = this.backend.tensorMap.get(g.dataId)?.resource;
      if (!res || typeof (res as GPUBuffer).mapAsync !== 'function') throw new Error('webgpu embedding update: the gradient is not in a GPUBuffer');
      const grad = res as GPUBuffer;
      this.flushTf();
      const b = this.bufs!;
      const [ux, uy] = this.grid(this.batchUnique * this.dim);
      const [cx, cy] = this.grid(scatterThreads(n, this.dim));
      const enc = this.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(this.pipes.scatter);
      pass.setBindGroup(0, this.bind(this.pipes.scatter, [[1, grad], [2, b.locs], [3, b.idx], [4, b.occ], [5, this.gsum]]));
      pass.dispatchWorkgroups(cx, cy);
      pass.setPipeline(this.pipes.apply);
      const applyEntries: [number, GPUBuffer][] = [[1, this.memory], [2, b.locs], [5, this.gsum]];
      if (this.accum) applyEntries.push([6, this.accum]);
      pass.setBindGroup(0, this.bind(this.pipes.apply, applyEntries));
      pass.dispatchWorkgroups(ux, uy);
      pass.end();
      this.device.queue.submit([enc.finish()]);
    } finally {
      for (const t of grads) t.dispose();
      this.end();
    }
  }

  setLearningRate(lr: number): void {
    // The parameter block is uploaded at every begin(): the next batch uses it.
    new Float32Array(this.paramWords.buffer)[7] = lr;
  }

  end(): void {
    this.batchOut?.dispose();
    this.batchOut = undefined;
  }

  private async readBuffer(src: GPUBuffer): Promise<Float32Array> {
    this.flushTf();
    const staging = this.device.createBuffer({ size: src.size, usage: MAP_READ | COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(src, 0, staging, 0, src.size);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(MAP_MODE_READ);
    const out = new Float32Array(staging.getMappedRange().slice(0, this.memoryFloats * 4));
    staging.unmap();
    staging.destroy();
    return out;
  }

  async exportState(): Promise<EmbeddingState> {
    const accum = this.accum ? await this.readBuffer(this.accum) : undefined;
    return toEmbeddingState(this.locator.stateShape, await this.readBuffer(this.memory), accum);
  }

  importState(state: EmbeddingState): void {
    const { memory, accum } = fromEmbeddingState(state, this.locator.stateShape, this.accum !== undefined);
    this.device.queue.writeBuffer(this.memory, 0, memory);
    if (this.accum && accum) this.device.queue.writeBuffer(this.accum, 0, accum);
  }

  dispose(): void {
    this.end();
    this.destroyBatchBuffers();
    for (const b of this.statics) b.destroy();
    this.statics.length = 0;
  }
}
