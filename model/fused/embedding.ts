/// <reference types="@webgpu/types" />
/**
 * The embedding half of the fused step: memory (and the Adagrad accumulator) in
 * GPUBuffers, and two sets of per-batch buffers so the CPU can dedupe and upload
 * batch k+1 while step k runs. The kernels are the webgpu layer's
 * (embedding/webgpu-shaders.ts): locate per distinct (feature, value) pair, gather
 * [rows, 26, d], sum each pair's gradient over its lookups (in chunks of the lookups
 * listed pair by pair) and add it to its locations, then one SGD/Adagrad step per
 * touched location.
 */
import { PipelineError } from '../../core/errors.js';
import type { ScmaMapping } from '../../scma/mapping.js';
import type { EmbeddingSpec } from '../types.js';
import { ADAGRAD_EPS, NUM_FEATURES, fromEmbeddingState, toEmbeddingState, type EmbeddingState } from '../embedding/layer.js';
import { Locator } from '../embedding/locations.js';
import { EMBEDDING_PARAM_ID, initialMemory } from '../embedding/memory-init.js';
import { paramRng } from '../init.js';
import { BatchDedupe } from '../embedding/webgpu-dedupe.js';
import type { DedupeResult } from './dedupe-pool.js';
import { fillLocateKeys, hashParams, locateMode, robeParams } from '../embedding/webgpu.js';
import { applyShader, GATHER_SHADER, hashesOnGpu, locateShader, SCATTER_SHADER, scatterThreads, WORKGROUP, type LocateMode } from '../embedding/webgpu-shaders.js';
import { Gpu, type Binding } from './gpu.js';

interface BatchSet {
  params: GPUBuffer;
  keyA: GPUBuffer;
  keyB: GPUBuffer;
  idx: GPUBuffer;
  occ: GPUBuffer;
}

export type EmbeddingOp = 'locate' | 'gather' | 'scatter' | 'apply';

/** Floats per chunk of the initial memory: the full tables of the large shape are 190M floats. */
export const INIT_CHUNK_FLOATS = 1 << 20;

/**
 * embedding/memory-init.ts's initialMemory, value for value, made and handed over in
 * chunks of `chunkFloats` (one reused array) instead of one array of the whole memory
 * (865 MB for the large shape's full tables).
 */
export function initialMemoryChunks(spec: EmbeddingSpec, locator: Locator, dim: number, seed: number, write: (offset: number, chunk: Float32Array) => void, chunkFloats = INIT_CHUNK_FLOATS): void {
  const total = locator.memoryFloats;
  const rng = paramRng(seed, EMBEDDING_PARAM_ID);
  // Bounds by range: full tables per feature (rows U(±sqrt(1/n_f))), shared memory one bound.
  const ends: number[] = [];
  const bounds: number[] = [];
  if (spec.kind === 'full') {
    for (let f = 0; f < NUM_FEATURES; f++) {
      ends.push(locator.rowOffsets[f + 1] * dim);
      bounds.push(Math.sqrt(1 / (locator.rowOffsets[f + 1] - locator.rowOffsets[f])));
    }
  } else {
    ends.push(total);
    bounds.push(Math.sqrt(1 / (spec.initRows ?? Math.max(1, Math.floor(spec.memoryFloats / dim)))));
  }
  const chunk = new Float32Array(Math.min(chunkFloats, Math.max(1, total)));
  let r = 0;
  for (let start = 0; start < total; start += chunk.length) {
    const n = Math.min(chunk.length, total - start);
    for (let i = 0; i < n; i++) {
      while (start + i >= ends[r]) r++;
      chunk[i] = (2 * rng() - 1) * bounds[r];
    }
    write(start, n === chunk.length ? chunk : chunk.subarray(0, n));
  }
}

export class FusedEmbedding {
  readonly kind: EmbeddingSpec['kind'];
  readonly impl = 'fused' as const;
  readonly dim: number;
  readonly mode: LocateMode;
  readonly memoryFloats: number;
  readonly locator: Locator;
  /** Changes whenever a buffer is replaced: bind groups made before are stale. */
  generation = 0;
  private readonly gpu: Gpu;
  private readonly spec: EmbeddingSpec;
  private readonly memory: GPUBuffer;
  private readonly accum: GPUBuffer | undefined;
  private readonly gsum: GPUBuffer;
  private readonly salts: GPUBuffer | undefined;
  private readonly map: { f: GPUBuffer; v: GPUBuffer; codes: GPUBuffer } | undefined;
  private readonly pipes: Record<EmbeddingOp, GPUComputePipeline>;
  private readonly paramWords = new Uint32Array(12);
  private readonly dedupe = new BatchDedupe();
  private readonly sets: BatchSet[] = [];
  /** Lookups (rows x 26) the set buffers hold, and distinct pairs `locs` holds. */
  private lookupCap = 0;
  private uniqueCap = 0;
  private locs: GPUBuffer | undefined;
  private keys = new Uint32Array(0);
  private staged: { n: number; nu: number; keys: Uint32Array; dd: DedupeResult } | undefined;

  constructor(gpu: Gpu, spec: EmbeddingSpec, dim: number, learningRate: number, optimizer: 'sgd' | 'adagrad', seed: number) {
    this.gpu = gpu;
    this.kind = spec.kind;
    this.spec = spec;
    this.dim = dim;
    this.locator = new Locator(spec, dim);
    this.memoryFloats = this.locator.memoryFloats;
    if (this.memoryFloats * 4 > gpu.maxBinding) {
      throw new PipelineError('ERR_MEMORY_SIZE', `embedding memory of ${this.memoryFloats} floats exceeds this GPU's largest storage binding (${gpu.maxBinding} bytes); use a smaller --memory-floats`);
    }
    this.mode = locateMode(spec, gpu.maxBinding);
    const floats = this.memoryFloats;
    if (process.env.SCMA_FUSED_INIT === 'whole') this.memory = gpu.upload(initialMemory(spec, this.locator, dim, seed));
    else {
      this.memory = gpu.buffer(floats);
      initialMemoryChunks(spec, this.locator, dim, seed, (offset, chunk) => gpu.device.queue.writeBuffer(this.memory, offset * 4, chunk));
    }
    // New buffers are zero-filled: the accumulator starts at 0 (PyTorch's Adagrad).
    this.accum = optimizer === 'adagrad' ? gpu.buffer(floats) : undefined;
    this.gsum = gpu.buffer(floats);
    let hp: ReturnType<typeof hashParams>;
    if (spec.kind !== 'full' && this.mode === 'hash') hp = hashParams(spec.codes);
    if (spec.kind !== 'full' && this.mode === 'robe') {
      const rp = robeParams(spec.codes)!;
      hp = rp;
      this.paramWords[9] = rp.block;
    }
    if (spec.kind !== 'full' && this.mode === 'scma') {
      const m = spec.codes as ScmaMapping;
      hp = hashParams(m.fallback);
      this.map = { f: gpu.upload(Uint32Array.from(m.features)), v: gpu.upload(m.values), codes: gpu.upload(m.codes) };
      this.paramWords[4] = m.values.length;
    }
    if (hp) {
      this.salts = gpu.upload(hp.salts);
      this.paramWords[8] = hp.seedWord;
    }
    this.paramWords[2] = dim;
    this.paramWords[3] = spec.kind === 'full' ? 0 : spec.memoryFloats;
    new Float32Array(this.paramWords.buffer)[7] = learningRate;
    this.pipes = {
      locate: gpu.pipeline(`emb-locate-${this.mode}`, () => locateShader(this.mode)),
      gather: gpu.pipeline('emb-gather', () => GATHER_SHADER),
      scatter: gpu.pipeline('emb-scatter', () => SCATTER_SHADER),
      apply: gpu.pipeline(`emb-apply-${optimizer}`, () => applyShader(optimizer === 'adagrad', ADAGRAD_EPS)),
    };
  }

  /**
   * CPU part of a batch (dedupe, location keys): runs while the GPU works on the
   * previous step. `deduped`: the dedupe already made elsewhere (a DedupePool worker).
   */
  stage(cats: Uint32Array, rows: number, deduped?: DedupeResult): void {
    const n = rows * NUM_FEATURES;
    const dd: DedupeResult = deduped ?? this.dedupe;
    if (deduped) {
      if (deduped.lookups !== n) throw new Error(`FusedEmbedding.stage: dedupe of ${deduped.lookups} lookups for a batch of ${n}`);
    } else this.dedupe.build(cats, rows);
    const nu = dd.unique;
    const need = this.mode === 'codes' ? nu * this.dim : nu;
    if (this.keys.length < need) this.keys = new Uint32Array(Math.max(need, 2 * this.keys.length));
    this.staged = { n, nu, dd, keys: fillLocateKeys(this.mode, this.spec, this.locator, dd, this.keys) };
  }

  /** Uploads the staged batch into set s, with the rate of its step (a schedule changes it per step); returns its distinct pair count. */
  upload(s: number, learningRate: number): number {
    const st = this.staged;
    if (!st) throw new Error('FusedEmbedding.upload before stage');
    this.grow(st.n, st.nu);
    const set = this.sets[s];
    const q = this.gpu.device.queue;
    const d = this.dim;
    const pw = this.paramWords;
    pw[0] = st.n;
    pw[1] = st.nu;
    pw[5] = this.grid(st.nu * d)[2];
    pw[6] = this.grid(st.n * d)[2];
    pw[10] = this.scatterGrid(st.n)[2];
    new Float32Array(pw.buffer)[7] = learningRate;
    q.writeBuffer(set.params, 0, pw);
    if (st.keys.length) q.writeBuffer(set.keyA, 0, st.keys);
    const dd = st.dd;
    if (hashesOnGpu(this.mode)) q.writeBuffer(set.keyB, 0, dd.uv, 0, st.nu);
    q.writeBuffer(set.idx, 0, dd.idx, 0, st.n);
    q.writeBuffer(set.occ, 0, dd.occ, 0, st.n);
    this.staged = undefined;
    return st.nu;
  }

  /** Workgroups over x (device limit) and y for `total` threads, and the threads per y step. */
  grid(total: number): [number, number, number] {
    const wg = Math.max(1, Math.ceil(total / WORKGROUP));
    const x = Math.min(wg, this.gpu.maxWorkgroups);
    return [x, Math.ceil(wg / x), x * WORKGROUP];
  }

  /** The scatter's grid for a batch of n lookups (one thread per chunk of lookups and element). */
  scatterGrid(n: number): [number, number, number] {
    return this.grid(scatterThreads(n, this.dim));
  }

  /** Grows the per-batch buffers to n lookups and nu distinct pairs (doubling). */
  private grow(n: number, nu: number): void {
    const d = this.dim;
    if (n > this.lookupCap || this.sets.length === 0) {
      let cap = Math.max(this.lookupCap, 1024);
      while (cap < n) cap *= 2;
      for (const set of this.sets) for (const b of Object.values(set)) b.destroy();
      this.sets.length = 0;
      for (let s = 0; s < 2; s++) {
        this.sets.push({
          params: this.gpu.uniform(this.paramWords.length),
          keyA: this.gpu.buffer(this.mode === 'codes' ? cap * d : cap),
          keyB: this.gpu.buffer(cap),
          idx: this.gpu.buffer(cap),
          occ: this.gpu.buffer(cap),
        });
      }
      this.lookupCap = cap;
      this.generation++;
    }
    if (nu > this.uniqueCap || !this.locs) {
      let cap = Math.max(this.uniqueCap, 1024);
      while (cap < nu) cap *= 2;
      this.locs?.destroy();
      this.locs = this.gpu.buffer(cap * d);
      this.uniqueCap = cap;
      this.generation++;
    }
  }

  /** Pipeline and bindings of one embedding op on set s; E is the gathered [rows, 26, d], dE its gradient. */
  bindings(op: EmbeddingOp, s: number, E: GPUBuffer, dE: GPUBuffer): { pipe: GPUComputePipeline; entries: Binding[] } {
    const set = this.sets[s];
    const locs = this.locs!;
    let entries: Binding[];
    switch (op) {
      case 'locate':
        entries = [[0, set.params], [1, set.keyA], [4, locs]];
        if (hashesOnGpu(this.mode)) entries.push([2, set.keyB], [3, this.salts!]);
        if (this.mode === 'scma') entries.push([5, this.map!.f], [6, this.map!.v], [7, this.map!.codes]);
        break;
      case 'gather':
        entries = [[0, set.params], [1, this.memory], [2, locs], [3, set.idx], [4, E]];
        break;
      case 'scatter':
        entries = [[0, set.params], [1, dE], [2, locs], [3, set.idx], [4, set.occ], [5, this.gsum]];
        break;
      case 'apply':
        entries = [[0, set.params], [1, this.memory], [2, locs], [5, this.gsum]];
        if (this.accum) entries.push([6, this.accum]);
        break;
    }
    return { pipe: this.pipes[op], entries };
  }

  get ready(): boolean {
    return this.sets.length > 0 && this.locs !== undefined;
  }

  /** Makes sure bind groups can be built before the first batch (prediction of an untrained model). */
  reserve(rows: number): void {
    this.grow(rows * NUM_FEATURES, 1);
  }

  async exportState(): Promise<EmbeddingState> {
    const accum = this.accum ? await this.gpu.read(this.accum, this.memoryFloats) : undefined;
    return toEmbeddingState(this.locator.stateShape, await this.gpu.read(this.memory, this.memoryFloats), accum);
  }

  /** Checks the state (throws before changing anything), then returns the writes to make. */
  checkState(state: EmbeddingState): () => void {
    const { memory, accum } = fromEmbeddingState(state, this.locator.stateShape, this.accum !== undefined);
    return () => {
      this.gpu.device.queue.writeBuffer(this.memory, 0, memory);
      if (this.accum && accum) this.gpu.device.queue.writeBuffer(this.accum, 0, accum);
    };
  }

  dispose(): void {
    for (const set of this.sets) for (const b of Object.values(set)) b.destroy();
    this.sets.length = 0;
    this.locs?.destroy();
    for (const b of [this.memory, this.accum, this.gsum, this.salts, this.map?.f, this.map?.v, this.map?.codes]) b?.destroy();
  }
}
