/**
 * The fused WebGPU step (model/fused/) against the tfjs model (the oracle: composite
 * embedding, same backend, same seed, same batches) on the GPU. For full tables,
 * HashNet, SCMA with a MinHash mapping searched on the GPU, and SCMA through CPU
 * codes, each with SGD and Adagrad, plus the Kaggle and large shapes at batch 2048:
 * after N steps, the relative differences (max |a - b| / max |b|) of the losses, every
 * dense weight, the embedding memory, the Adagrad accumulator and the predictions,
 * and of the predictions after importing the tfjs model's state. One JSON line per
 * case, then a summary; exits 1 above the tolerance, on a WGSL compiler error or a
 * WebGPU validation error.
 *
 *   node dist/bench/fused-check.js [--tolerance 1e-5] [--steps 4] [--require-gpu] [--shapes small,kaggle,large]
 *
 * On the GPU machine: pack.sh bench/fused-check.ts, then
 * `source .device/prelude.sh && node .device/fused-check.mjs --require-gpu`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { selectBackend } from '../model/backend.js';
import { createDlrm } from '../model/dlrm.js';
import { Gpu } from '../model/fused/gpu.js';
import { relativeDiff } from '../model/fused/reference.js';
import type { DlrmConfig, EmbeddingSpec, LocationCodes, TrainBatch } from '../model/types.js';
import { hashNetCodes } from '../scma/codes.js';
import { buildMapping } from '../scma/reduce.js';
import { featureBatches, trainBatches } from './webgpu-check-harness.js';

const { values: o } = parseArgs({
  options: {
    tolerance: { type: 'string', default: '1e-5' },
    steps: { type: 'string', default: '4' },
    shapes: { type: 'string', default: 'small,kaggle,large' },
    'require-gpu': { type: 'boolean', default: false },
  },
});
const tolerance = Number(o.tolerance);
const steps = Number(o.steps);

interface Case {
  name: string;
  config: DlrmConfig;
  rows: number;
  values: number;
}

async function cases(): Promise<Case[]> {
  const out: Case[] = [];
  const shapes = o.shapes!.split(',');
  if (shapes.includes('small')) {
    // Layer widths off the 64-wide tiles, 600 rows (weight gradients split over rows).
    const d = 8;
    const values = 60;
    const mapping = await buildMapping(featureBatches(400, values, 5), { dim: d, sample: 150, seed: 3 });
    const cpuCodes: LocationCodes = { dim: d, codesInto: (f, v, a, off) => mapping.codesInto(f, v, a, off) };
    const specs: [string, EmbeddingSpec][] = [
      ['full', { kind: 'full', vocab: { size: (f) => 20 + f, index: (f, v) => Math.min(v, 19 + f) } }],
      ['hashnet', { kind: 'hashnet', memoryFloats: 1009, codes: hashNetCodes(d, 11) }],
      ['scma', { kind: 'scma', memoryFloats: 1009, codes: mapping }],
      ['scma-cpu-codes', { kind: 'scma', memoryFloats: 1009, codes: cpuCodes }],
    ];
    for (const [name, embedding] of specs) {
      for (const optimizer of ['sgd', 'adagrad'] as const) {
        out.push({ name: `small/${name}/${optimizer}`, rows: 600, values, config: { embeddingDim: d, bottomMlp: [13, 70, d], topMlp: [130, 33, 1], embedding, learningRate: 0.05, embeddingOptimizer: optimizer, seed: 4 } });
      }
    }
  }
  const big = { kaggle: { d: 16, bottom: [13, 512, 256, 64, 16], top: [512, 256, 1] }, large: { d: 128, bottom: [13, 512, 256, 128], top: [1024, 1024, 512, 256, 1] } };
  for (const [name, s] of Object.entries(big)) {
    if (!shapes.includes(name)) continue;
    for (const optimizer of ['sgd', 'adagrad'] as const) {
      out.push({ name: `${name}/hashnet/${optimizer}`, rows: 2048, values: 100000, config: { embeddingDim: s.d, bottomMlp: s.bottom, topMlp: s.top, embedding: { kind: 'hashnet', memoryFloats: 1 << 20, codes: hashNetCodes(s.d, 5) }, learningRate: 0.1, embeddingOptimizer: optimizer, seed: 2 } });
    }
  }
  return out;
}

/** Elements of `a` off `b` by more than `tolerance` x max |b|, with the worst one (and its Adagrad accumulator). */
function offElements(a: Float32Array, b: Float32Array, accum: Float32Array | undefined): { count: number; of: number; worst?: { i: number; ref: number; fused: number; accum?: number } } {
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let count = 0;
  let worst: { i: number; ref: number; fused: number; accum?: number } | undefined;
  let worstDiff = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (e > tolerance * scale) {
      count++;
      if (e > worstDiff) [worstDiff, worst] = [e, { i, ref: b[i], fused: a[i], accum: accum?.[i] }];
    }
  }
  return { count, of: a.length, worst };
}

async function runCase(c: Case, log: (l: string) => void): Promise<Record<string, unknown>> {
  const ref = await createDlrm(c.config, { backend: 'webgpu', embeddingImpl: 'composite', log });
  const fused = await createDlrm(c.config, { backend: 'webgpu', embeddingImpl: 'fused', log });
  const data: TrainBatch[] = trainBatches(steps, c.rows, c.values, 9);
  const probe = trainBatches(1, Math.min(c.rows, 500), c.values + 20, 10)[0];
  let loss = 0;
  for (const b of data) {
    const want = await ref.trainStep(b);
    const got = await fused.trainStep(b);
    loss = Math.max(loss, Math.abs(got - want) / Math.abs(want));
  }
  // The spread between two tfjs oracles (composite vs the webgpu embedding layer:
  // same math, other summation order), to tell float noise from a fused-step bug.
  const alt = await createDlrm(c.config, { backend: 'webgpu', embeddingImpl: 'webgpu', log });
  for (const b of data) await alt.trainStep(b);
  const as = await alt.exportState();
  const altPred = await alt.predict(probe);
  alt.dispose();
  const rs = await ref.exportState();
  const fs = await fused.exportState();
  const refPred = await ref.predict(probe);
  let dense = 0;
  let worstDense = '';
  for (const a of rs.dense) {
    const r = relativeDiff(fs.dense.find((x) => x.name === a.name)?.values ?? [], a.values);
    if (!(r <= dense)) [dense, worstDense] = [r, a.name];
  }
  const memory = relativeDiff(fs.embedding[0].values, rs.embedding[0].values);
  const memOff = offElements(fs.embedding[0].values, rs.embedding[0].values, rs.optimizer[0]?.values);
  const oracleOff = offElements(as.embedding[0].values, rs.embedding[0].values, undefined);
  const oracle = {
    dense: Math.max(...rs.dense.map((a) => relativeDiff(as.dense.find((x) => x.name === a.name)!.values, a.values))),
    memory: relativeDiff(as.embedding[0].values, rs.embedding[0].values),
    accum: c.config.embeddingOptimizer === 'adagrad' ? relativeDiff(as.optimizer[0].values, rs.optimizer[0].values) : 0,
    predict: relativeDiff(altPred, refPred),
  };
  const accum = c.config.embeddingOptimizer === 'adagrad' ? relativeDiff(fs.optimizer[0]?.values ?? [], rs.optimizer[0]?.values ?? [NaN]) : 0;
  const predict = relativeDiff(await fused.predict(probe), refPred);
  // Moved at all? (a step that did nothing would match an untouched oracle trivially)
  const fresh = await createDlrm(c.config, { backend: 'webgpu', embeddingImpl: 'fused', log });
  const init = await fresh.exportState();
  fresh.dispose();
  const moved = relativeDiff(fs.embedding[0].values, init.embedding[0].values) > 1e-6 && relativeDiff(fs.dense[0].values, init.dense[0].values) > 1e-6;
  fused.importState(rs);
  const imported = relativeDiff(await fused.predict(probe), refPred);
  ref.dispose();
  fused.dispose();
  const diffs = { loss, dense, memory, accum, predict, imported };
  const ok = moved && Object.values(diffs).every((x) => Number.isFinite(x) && x <= tolerance);
  // Not a pass criterion, a diagnosis: is the fused step as close to the oracle as the two oracles are to each other?
  const withinOracleSpread = (['dense', 'memory', 'accum', 'predict'] as const).every((k) => diffs[k] <= Math.max(tolerance, 2 * oracle[k]));
  return { case: c.name, rows: c.rows, steps, mode: (fused.embedding as { mode?: string }).mode, ...diffs, worst_dense: worstDense, moved, ok, memory_off: memOff, oracle, oracle_memory_off: oracleOff.count, within_oracle_spread: withinOracleSpread };
}

async function main(): Promise<number> {
  const log = (l: string) => process.stderr.write(l + '\n');
  const backend = await selectBackend('webgpu', log);
  if (backend !== 'webgpu') {
    process.stdout.write(JSON.stringify({ skipped: `no WebGPU here (backend ${backend})` }) + '\n');
    return o['require-gpu'] ? 2 : 0;
  }
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  let uncaptured = '';
  device.addEventListener?.('uncapturederror', (e) => {
    uncaptured ||= (e as GPUUncapturedErrorEvent).error.message;
  });
  device.pushErrorScope('validation');
  const rows: Record<string, unknown>[] = [];
  for (const c of await cases()) {
    try {
      rows.push(await runCase(c, log));
    } catch (err) {
      rows.push({ case: c.name, ok: false, error: (err as Error).message });
    }
    process.stdout.write(JSON.stringify(rows[rows.length - 1]) + '\n');
  }
  const gpuError = await device.popErrorScope();
  const compile = await new Gpu(device).compileMessages();
  const worst = (k: string) => Math.max(...rows.map((r) => (typeof r[k] === 'number' ? (r[k] as number) : 0)));
  const ok = rows.every((r) => r.ok) && !gpuError && !uncaptured && !compile.some((m) => m.includes('error'));
  process.stdout.write(
    JSON.stringify({
      check: ok ? 'pass' : 'FAIL',
      tolerance,
      cases: rows.length,
      max_loss: worst('loss'),
      max_dense: worst('dense'),
      max_memory: worst('memory'),
      max_accum: worst('accum'),
      max_predict: worst('predict'),
      max_imported: worst('imported'),
      gpu_validation_error: gpuError?.message,
      uncaptured_error: uncaptured || undefined,
      compiler: compile.length ? compile.slice(0, 10) : undefined,
    }) + '\n',
  );
  return ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`fused-check: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  },
);
