/**
 * One training run of the quality experiment: a DLRM with one embedding kind at one
 * memory size, trained on a Dataset in a seeded row order and scored on its test rows.
 * Every kind sees the same model, the same rows in the same order and the same number
 * of steps for a given seed; only the embedding spec differs.
 */
import { evaluate } from '../core/metrics.js';
import { hash2, mulberry32 } from '../core/hash.js';
import { ValueCounter } from '../stages/vocab.js';
import { hashNetCodes } from '../scma/codes.js';
import { robeCodes } from '../scma/robe-codes.js';
import { buildMapping } from '../scma/reduce.js';
import { createDlrm } from '../model/dlrm.js';
import { checkMemoryFloor } from '../model/embedding/memory-init.js';
import type { Dlrm, EmbeddingSpec, LocationCodes } from '../model/types.js';
import type { FeatureBatch } from '../core/schema.js';
import { permutation, trainBatches, type Dataset } from './quality-data.js';

export type QualityKind = 'full' | 'hashnet' | 'scma' | 'robe';
export const QUALITY_KINDS: readonly QualityKind[] = ['full', 'hashnet', 'scma', 'robe'];

export interface ModelShape {
  d: number;
  bottom: number[];
  top: number[];
}

export interface RunConfig {
  kind: QualityKind;
  /** Memory as a fraction of the full tables (M = R x distinct values x d); ignored for full. */
  compression: number;
  seed: number;
  shape: ModelShape;
  batchSize: number;
  learningRate: number;
  /** Optimizer of the embedding memory (dense weights always use SGD). */
  optimizer: 'sgd' | 'adagrad';
  epochs: number;
  /** SCMA: K hash functions per element and P sampled rows. */
  numHash: number;
  sample: number;
  backend: string;
  /**
   * Shared-memory init: 'max-ln' U(±sqrt(1/max(ln))) as `train` and dlrm_ssm do, or 'm-over-d'
   * U(±sqrt(d/M)), the layer's default without counts.
   */
  init?: 'max-ln' | 'm-over-d';
}

export interface RunResult {
  kind: QualityKind;
  compression: number | null;
  seed: number;
  memoryFloats: number;
  memoryBytes: number;
  auc: number;
  logloss: number;
  samplesPerSecond: number;
  seconds: number;
  steps: number;
  numHash: number | null;
  sample: number | null;
}

/** Per-dataset facts every run needs: the train rows' distinct values and full-table vocabulary. */
export class PreparedData {
  readonly counter = new ValueCounter();
  readonly distinct: number;
  private readonly mappings = new Map<string, Promise<LocationCodes>>();

  constructor(readonly data: Dataset) {
    this.counter.add(data.train);
    this.distinct = this.counter.distinct().reduce((a, b) => a + b, 0);
  }

  memoryFloats(compression: number, d: number): number {
    return Math.max(1, Math.round(compression * this.distinct * d));
  }

  /** The SCMA mapping of the train rows, built once per (d, K, P, seed). */
  mapping(d: number, numHash: number, sample: number, seed: number): Promise<LocationCodes> {
    const key = `${d}/${numHash}/${sample}/${seed}`;
    let m = this.mappings.get(key);
    if (!m) {
      m = buildMapping([this.data.train], { dim: d, numHash, sample, seed });
      this.mappings.set(key, m);
    }
    return m;
  }
}

export async function embeddingSpec(p: PreparedData, c: RunConfig): Promise<EmbeddingSpec> {
  const d = c.shape.d;
  if (c.kind === 'full') return { kind: 'full', vocab: p.counter.vocabulary() };
  const memoryFloats = p.memoryFloats(c.compression, d);
  checkMemoryFloor(memoryFloats, d);
  const codes = c.kind === 'hashnet' ? hashNetCodes(d, c.seed) : c.kind === 'robe' ? robeCodes(d, c.seed) : await p.mapping(d, c.numHash, c.sample, c.seed);
  const initRows = (c.init ?? 'max-ln') === 'max-ln' ? Math.max(...p.counter.distinct()) : undefined;
  return { kind: c.kind, memoryFloats, codes, ...(initRows !== undefined ? { initRows } : {}) };
}

/** The training rows' order in epoch e: depends on (seed, epoch) only, identical for every kind and size. */
export function epochOrder(rows: number, seed: number, epoch: number): Uint32Array {
  return permutation(rows, mulberry32(hash2(seed, epoch, 0x0dde2a11)));
}

/** Optional looks at the model right before the first step and right after the last (bench/movement.ts). */
export interface RunHooks {
  beforeTraining?(model: Dlrm): Promise<void>;
  afterTraining?(model: Dlrm): Promise<void>;
}

export async function runOne(p: PreparedData, c: RunConfig, hooks: RunHooks = {}): Promise<RunResult> {
  const spec = await embeddingSpec(p, c);
  const model = await createDlrm(
    { embeddingDim: c.shape.d, bottomMlp: c.shape.bottom, topMlp: c.shape.top, embedding: spec, learningRate: c.learningRate, embeddingOptimizer: c.optimizer, seed: c.seed },
    { backend: c.backend, log: () => {} },
  );
  try {
    const train: FeatureBatch = p.data.train;
    let steps = 0;
    await hooks.beforeTraining?.(model);
    const t0 = performance.now();
    for (let e = 0; e < c.epochs; e++) {
      const order = epochOrder(train.rows, c.seed, e);
      for (const b of trainBatches(train, c.batchSize, order)) {
        const loss = await model.trainStep(b);
        if (!Number.isFinite(loss)) throw new Error(`${c.kind} at ${c.compression} diverged (loss ${loss}) at step ${steps + 1}`);
        steps++;
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    await hooks.afterTraining?.(model);
    const test = p.data.test;
    const probs = new Float32Array(test.rows);
    const all = Uint32Array.from({ length: test.rows }, (_, i) => i);
    let o = 0;
    for (const b of trainBatches(test, 4096, all)) {
      probs.set((await model.predict(b)).subarray(0, b.rows), o);
      o += b.rows;
    }
    const m = evaluate(test.label!, probs);
    const memoryFloats = model.embedding.memoryFloats;
    return {
      kind: c.kind,
      compression: c.kind === 'full' ? null : c.compression,
      seed: c.seed,
      memoryFloats,
      memoryBytes: memoryFloats * 4,
      auc: m.auc,
      logloss: m.logloss,
      samplesPerSecond: (c.epochs * train.rows) / seconds,
      seconds,
      steps,
      numHash: c.kind === 'scma' ? c.numHash : null,
      sample: c.kind === 'scma' ? c.sample : null,
    };
  } finally {
    model.dispose();
  }
}
