/**
 * Side-by-side check of the webgpu embedding layer against the composite one on the
 * same small DLRM: full tables, HashNet, SCMA with a real MinHash mapping (searched
 * on the GPU) and SCMA through CPU codes, with SGD and Adagrad. Reports the largest
 * differences in losses, updated memory and Adagrad state, predictions, and
 * predictions after importing the composite model's state. Needs the webgpu backend
 * (bench/webgpu-check.ts runs it on the GPU machine; test/model/webgpu.test.ts runs it
 * where an adapter exists).
 */
import * as tf from '@tensorflow/tfjs-core';
import { createDlrm } from '../model/dlrm.js';
import type { DlrmConfig, EmbeddingSpec, LocationCodes, TrainBatch } from '../model/types.js';
import { mulberry32 } from '../core/hash.js';
import { emptyFeatureBatch, type FeatureBatch } from '../core/schema.js';
import { hashNetCodes } from '../scma/codes.js';
import { robeCodes } from '../scma/robe-codes.js';
import { buildMapping } from '../scma/reduce.js';
import type { ScmaMapping } from '../scma/mapping.js';
import { NUM_FEATURES } from '../model/embedding/layer.js';
import type { WebGpuEmbedding } from '../model/embedding/webgpu.js';

export interface CheckRow {
  kind: string;
  optimizer: 'sgd' | 'adagrad';
  mode: string;
  lossDiff: number;
  memoryDiff: number;
  accumDiff: number;
  predictDiff: number;
  importDiff: number;
  ok: boolean;
}

/** The GPU location path each case must take, so each WGSL path is exercised. */
const EXPECTED_MODE: Record<string, string> = { full: 'rows', hashnet: 'hash', scma: 'scma', 'scma-cpu-codes': 'codes', robe: 'robe' };

export interface CheckOptions {
  dim?: number;
  rows?: number;
  steps?: number;
  /** Values per feature in the synthetic batches (skewed towards small ids). */
  values?: number;
  memoryFloats?: number;
  tolerance?: number;
  log?: (line: string) => void;
}

/** Skewed ids (P(small) high, as click logs are): many repeats within a batch. */
export function skewedId(rng: () => number, values: number): number {
  return Math.min(values - 1, Math.floor(Math.exp(rng() * Math.log(values + 1))) - 1);
}

export function trainBatches(n: number, rows: number, values: number, seed: number): TrainBatch[] {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const dense = new Float32Array(rows * 13);
    const cats = new Uint32Array(rows * NUM_FEATURES);
    const label = new Float32Array(rows);
    for (let i = 0; i < dense.length; i++) dense[i] = Math.log1p(Math.floor(rng() * 20));
    for (let i = 0; i < cats.length; i++) cats[i] = skewedId(rng, values);
    for (let r = 0; r < rows; r++) label[r] = rng() < 0.3 ? 1 : 0;
    return { rows, dense, cats, label };
  });
}

/** Synthetic FeatureBatches for buildMapping: same id distribution, values correlated across features. */
export function featureBatches(rows: number, values: number, seed: number): FeatureBatch[] {
  const rng = mulberry32(seed);
  const b = emptyFeatureBatch(rows);
  for (let r = 0; r < rows; r++) {
    const base = skewedId(rng, values);
    for (let f = 0; f < NUM_FEATURES; f++) b.cats[f][r] = rng() < 0.7 ? base : skewedId(rng, values);
  }
  return [b];
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export async function runWebGpuCheck(opts: CheckOptions = {}): Promise<CheckRow[]> {
  const { dim = 8, rows = 96, steps = 4, values = 60, memoryFloats = 1009, tolerance = 1e-4, log = () => {} } = opts;
  if (tf.getBackend() !== 'webgpu') throw new Error(`runWebGpuCheck needs the webgpu backend, got ${tf.getBackend()}`);
  const mapping: ScmaMapping = await buildMapping(featureBatches(400, values, 5), { dim, sample: 150, seed: 3 });
  log(`scma mapping: ${mapping.meta.values} values with MinHash codes (batches use ${values} ids per feature)`);
  const cpuCodes: LocationCodes = { dim, codesInto: (f, v, out, o) => mapping.codesInto(f, v, out, o) };
  const specs: [string, EmbeddingSpec][] = [
    // Values >= size - 1 share the last row: distinct values collide in full tables too.
    ['full', { kind: 'full', vocab: { size: (f) => 20 + f, index: (f, v) => Math.min(v, 19 + f) } }],
    ['hashnet', { kind: 'hashnet', memoryFloats, codes: hashNetCodes(dim, 11) }],
    ['scma', { kind: 'scma', memoryFloats, codes: mapping }],
    ['scma-cpu-codes', { kind: 'scma', memoryFloats, codes: cpuCodes }],
    // Blocks of 3: with d = 8 the last block is cut short.
    ['robe', { kind: 'robe', memoryFloats, codes: robeCodes(dim, 11, Math.min(3, dim)) }],
  ];
  const data = trainBatches(steps, rows, values, 9);
  const probe = trainBatches(1, rows, values + 20, 10)[0];
  const results: CheckRow[] = [];
  for (const [kind, embedding] of specs) {
    for (const optimizer of ['sgd', 'adagrad'] as const) {
      const config: DlrmConfig = { embeddingDim: dim, bottomMlp: [13, 16, dim], topMlp: [16, 1], embedding, learningRate: 0.05, embeddingOptimizer: optimizer, seed: 4 };
      const ref = await createDlrm(config, { backend: 'webgpu', embeddingImpl: 'composite', log });
      const gpu = await createDlrm(config, { backend: 'webgpu', embeddingImpl: 'webgpu', log });
      let lossDiff = 0;
      for (const b of data) lossDiff = Math.max(lossDiff, Math.abs((await ref.trainStep(b)) - (await gpu.trainStep(b))));
      const rs = await ref.exportState();
      const gs = await gpu.exportState();
      const memoryDiff = maxDiff(rs.embedding[0].values, gs.embedding[0].values);
      const accumDiff = optimizer === 'adagrad' ? maxDiff(rs.optimizer[0]?.values ?? [], gs.optimizer[0]?.values ?? [NaN]) : 0;
      const refPred = await ref.predict(probe);
      const predictDiff = maxDiff(refPred, await gpu.predict(probe));
      gpu.importState(rs);
      const importDiff = maxDiff(refPred, await gpu.predict(probe));
      const mode = (gpu.embedding as WebGpuEmbedding).mode ?? gpu.embedding.impl;
      const diffs = [lossDiff, memoryDiff, accumDiff, predictDiff, importDiff];
      const ok = mode === EXPECTED_MODE[kind] && diffs.every((x) => Number.isFinite(x) && x <= tolerance);
      results.push({ kind, optimizer, mode, lossDiff, memoryDiff, accumDiff, predictDiff, importDiff, ok });
      ref.dispose();
      gpu.dispose();
    }
  }
  return results;
}
