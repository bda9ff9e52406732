/**
 * The fused WebGPU step (model/fused/) against the tfjs model (the oracle: composite
 * embedding, same backend, same seed, same batches) on the GPU. For full tables,
 * HashNet, SCMA with a MinHash mapping searched on the GPU, SCMA through CPU codes
 * and ROBE (block hash on the GPU), each with SGD and Adagrad for the embedding;
 * cases with DLRM's learning-rate schedule (warmup 2, decay from step 2 over 3: the
 * rate changes every step) and with Adagrad for the MLP; plus the Kaggle and large
 * shapes at batch 2048. After N steps: the relative differences (max |a - b| / max |b|)
 * of the losses, every dense weight (and its Adagrad sum), the embedding memory, its
 * Adagrad sum and the predictions, and of the predictions after importing the tfjs
 * model's state. One JSON line per case, then a summary; exits 1 when a case fails,
 * on a WGSL compiler error or a WebGPU validation error.
 *
 * A case passes when every figure is within the tolerance of the oracle. Where
 * Adagrad is on and a figure is not, the yardstick is the same program run in float64
 * on the CPU (model/fused/reference.ts, for the shapes in --f64): the fused step must
 * be no further from it than the oracle is (agreesOrNoFurther; docs/gpu-step.md,
 * Correctness, says why). For shapes without the float64 run (large by default: it
 * takes minutes in JS), the spread between the two tfjs oracles stands in for it.
 *
 *   node dist/bench/fused-check.js [--tolerance 1e-5] [--steps 4] [--require-gpu] [--shapes small,kaggle,large] [--f64 small,kaggle] [--only SUBSTRING]
 *
 * --cpu-dry-run runs the same cases and criteria without a GPU: the cpu backend, the
 * fused program in JS (float32 FusedReference) in place of the WGSL step, composite and
 * cpu-sparse as the two oracles. It checks this script and the reference, not WGSL.
 *
 * On the GPU machine: pack.sh bench/fused-check.ts, then
 * `source .device/prelude.sh && node .device/fused-check.mjs --require-gpu`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { selectBackend } from '../model/backend.js';
import { createDlrm } from '../model/dlrm.js';
import { locateMode } from '../model/embedding/webgpu.js';
import { Gpu } from '../model/fused/gpu.js';
import { agreesOrNoFurther, FusedReference, relativeDiff, type Agreement } from '../model/fused/reference.js';
import type { DlrmConfig, EmbeddingSpec, LocationCodes, ModelState, TrainBatch } from '../model/types.js';
import { scheduledLr, type LrSchedule } from '../core/lr-schedule.js';
import { hashNetCodes } from '../scma/codes.js';
import { robeCodes } from '../scma/robe-codes.js';
import { buildMapping } from '../scma/reduce.js';
import { featureBatches, trainBatches } from './webgpu-check-harness.js';

const { values: o } = parseArgs({
  options: {
    tolerance: { type: 'string', default: '1e-5' },
    steps: { type: 'string', default: '4' },
    shapes: { type: 'string', default: 'small,kaggle,large' },
    f64: { type: 'string', default: 'small,kaggle' },
    only: { type: 'string', default: '' },
    'require-gpu': { type: 'boolean', default: false },
    'cpu-dry-run': { type: 'boolean', default: false },
  },
});
const tolerance = Number(o.tolerance);
const steps = Number(o.steps);

interface Case {
  name: string;
  config: DlrmConfig;
  rows: number;
  values: number;
  /** Shape group (small, kaggle, large): --f64 names the groups that get the float64 run. */
  shape: string;
  schedule?: LrSchedule;
  /** The locate mode the fused step must pick (ROBE must hash on the GPU). */
  mode?: string;
}

/** Rates change every step: lr/2, lr, 4/9 lr, 1/9 lr, then frozen at 1/9 lr. */
const SCHEDULE: LrSchedule = { warmupSteps: 2, decayStartStep: 2, decaySteps: 3 };

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
      // Blocks of 3 in d = 8: the last block is cut short.
      ['robe', { kind: 'robe', memoryFloats: 1009, codes: robeCodes(d, 11, 3) }],
    ];
    const base = (embedding: EmbeddingSpec, optimizer: 'sgd' | 'adagrad'): DlrmConfig => ({ embeddingDim: d, bottomMlp: [13, 70, d], topMlp: [130, 33, 1], embedding, learningRate: 0.05, embeddingOptimizer: optimizer, seed: 4 });
    for (const [name, embedding] of specs) {
      for (const optimizer of ['sgd', 'adagrad'] as const) {
        out.push({ name: `small/${name}/${optimizer}`, shape: 'small', rows: 600, values, config: base(embedding, optimizer), mode: name === 'robe' ? 'robe' : undefined });
      }
    }
    const spec = (name: string) => specs.find(([n]) => n === name)![1];
    out.push(
      { name: 'small/full/sgd+schedule', shape: 'small', rows: 600, values, config: base(spec('full'), 'sgd'), schedule: SCHEDULE },
      { name: 'small/hashnet/adagrad+dense-adagrad+schedule', shape: 'small', rows: 600, values, config: { ...base(spec('hashnet'), 'adagrad'), denseOptimizer: 'adagrad' }, schedule: SCHEDULE },
      { name: 'small/full/sgd+dense-adagrad', shape: 'small', rows: 600, values, config: { ...base(spec('full'), 'sgd'), denseOptimizer: 'adagrad' } },
      { name: 'small/robe/adagrad+dense-adagrad+schedule', shape: 'small', rows: 600, values, config: { ...base(spec('robe'), 'adagrad'), denseOptimizer: 'adagrad' }, schedule: SCHEDULE, mode: 'robe' },
    );
  }
  const big = { kaggle: { d: 16, bottom: [13, 512, 256, 64, 16], top: [512, 256, 1] }, large: { d: 128, bottom: [13, 512, 256, 128], top: [1024, 1024, 512, 256, 1] } };
  for (const [name, s] of Object.entries(big)) {
    if (!shapes.includes(name)) continue;
    const cfg = (embedding: EmbeddingSpec, optimizer: 'sgd' | 'adagrad'): DlrmConfig => ({ embeddingDim: s.d, bottomMlp: s.bottom, topMlp: s.top, embedding, learningRate: 0.1, embeddingOptimizer: optimizer, seed: 2 });
    const hashnet: EmbeddingSpec = { kind: 'hashnet', memoryFloats: 1 << 20, codes: hashNetCodes(s.d, 5) };
    for (const optimizer of ['sgd', 'adagrad'] as const) out.push({ name: `${name}/hashnet/${optimizer}`, shape: name, rows: 2048, values: 100000, config: cfg(hashnet, optimizer) });
    out.push(
      { name: `${name}/hashnet/sgd+dense-adagrad+schedule`, shape: name, rows: 2048, values: 100000, config: { ...cfg(hashnet, 'sgd'), denseOptimizer: 'adagrad' }, schedule: SCHEDULE },
      // ROBE-Z with Z = d / 4 (the paper's blocks are shorter than an embedding).
      { name: `${name}/robe/sgd+schedule`, shape: name, rows: 2048, values: 100000, config: cfg({ kind: 'robe', memoryFloats: 1 << 20, codes: robeCodes(s.d, 5, s.d / 4) }, 'sgd'), schedule: SCHEDULE, mode: 'robe' },
    );
  }
  return o.only ? out.filter((c) => c.name.includes(o.only!)) : out;
}

/** Trains a model on the batches, setting the case's scheduled rate before each step; returns the losses. */
async function train(m: { trainStep(b: TrainBatch): number | Promise<number>; setLearningRate?(lr: number): void }, c: Case, data: TrainBatch[]): Promise<number[]> {
  const losses: number[] = [];
  for (const [s, b] of data.entries()) {
    if (c.schedule) m.setLearningRate!(scheduledLr(c.config.learningRate, s + 1, c.schedule));
    losses.push(await m.trainStep(b));
  }
  return losses;
}

const find = (list: { name: string; values: ArrayLike<number> }[], name: string) => list.find((x) => x.name === name)?.values;

/** --cpu-dry-run's stand-in for the fused model: the program in JS, float32. */
class ReferenceModel {
  readonly r: FusedReference;
  readonly embedding: { mode: string };
  constructor(config: DlrmConfig) {
    this.r = new FusedReference(config);
    this.embedding = { mode: locateMode(config.embedding) };
  }
  trainStep(b: TrainBatch): number {
    return this.r.trainStep(b);
  }
  setLearningRate(lr: number): void {
    this.r.setLearningRate(lr);
  }
  async predict(b: TrainBatch): Promise<Float32Array> {
    return Float32Array.from(this.r.predict(b));
  }
  async exportState(): Promise<ModelState> {
    const shape = this.r.emb.locator.stateShape;
    const f32 = (v: ArrayLike<number>) => Float32Array.from(v);
    return {
      dense: this.r.dense.map(([p, v]) => ({ name: p.name, shape: p.shape, values: f32(v) })),
      embedding: [{ name: 'embedding.memory', shape, values: f32(this.r.emb.memory) }],
      optimizer: [...(this.r.emb.accum ? [{ name: 'embedding.adagrad', shape, values: f32(this.r.emb.accum) }] : []), ...this.r.denseAccumulators().map((a) => ({ name: a.name, shape: [a.values.length], values: f32(a.values) }))],
      step: 0,
    };
  }
  importState(state: ModelState): void {
    for (const [p, v] of this.r.dense) v.set(find(state.dense, p.name)!);
    this.r.emb.memory.set(state.embedding[0].values);
  }
  dispose(): void {}
}

const dry = o['cpu-dry-run'];
const backendName = dry ? 'cpu' : 'webgpu';
/** The fused model, or its JS stand-in in a dry run. */
const makeFused = async (c: Case, log: (l: string) => void) => (dry ? new ReferenceModel(c.config) : await createDlrm(c.config, { backend: 'webgpu', embeddingImpl: 'fused', log }));

async function runCase(c: Case, log: (l: string) => void): Promise<Record<string, unknown>> {
  const ref = await createDlrm(c.config, { backend: backendName, embeddingImpl: 'composite', log });
  const fused = await makeFused(c, log);
  // A dry run keeps batches small: the tfjs cpu backend's embedding gradient is slow.
  const data: TrainBatch[] = trainBatches(steps, dry ? Math.min(c.rows, 128) : c.rows, c.values, 9);
  const probe = trainBatches(1, Math.min(c.rows, 500), c.values + 20, 10)[0];
  const refLoss = await train(ref, c, data);
  const fusedLoss = await train(fused, c, data);
  // The spread between two tfjs oracles (composite vs the webgpu embedding layer:
  // same math, other summation order), to tell float noise from a fused-step bug.
  const alt = await createDlrm(c.config, { backend: backendName, embeddingImpl: dry ? 'cpu-sparse' : 'webgpu', log });
  await train(alt, c, data);
  const as = await alt.exportState();
  const altPred = await alt.predict(probe);
  alt.dispose();
  const adagrad = c.config.embeddingOptimizer === 'adagrad' || c.config.denseOptimizer === 'adagrad';
  // The float64 run of the program: Adagrad's yardstick (see the header).
  let exact: { loss: number[]; state: ModelState; pred: ArrayLike<number> } | undefined;
  if (adagrad && o.f64!.split(',').includes(c.shape)) {
    const t0 = Date.now();
    const r64 = new FusedReference(c.config, { precision: 64 });
    const loss = await train(r64, c, data);
    const wide = (v: ArrayLike<number>) => v as Float32Array; // only read
    exact = {
      loss,
      state: {
        dense: r64.dense.map(([p, v]) => ({ name: p.name, shape: p.shape, values: wide(v) })),
        embedding: [{ name: 'memory', shape: [], values: wide(r64.emb.memory) }],
        optimizer: [...(r64.emb.accum ? [{ name: 'embedding.adagrad', shape: [], values: wide(r64.emb.accum) }] : []), ...r64.denseAccumulators().map((a) => ({ name: a.name, shape: [], values: wide(a.values) }))],
        step: steps,
      },
      pred: r64.predict(probe),
    };
    log(`fused-check: ${c.name}: float64 reference in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const rs = await ref.exportState();
  const fs = await fused.exportState();
  const refPred = await ref.predict(probe);
  const fusedPred = await fused.predict(probe);
  // Every compared quantity: [ours, oracle, the other tfjs oracle, float64].
  type Quad = [ArrayLike<number> | undefined, ArrayLike<number> | undefined, ArrayLike<number> | undefined, ArrayLike<number> | undefined];
  const quads: Record<string, Quad> = { loss: [fusedLoss, refLoss, undefined, exact?.loss] };
  for (const a of rs.dense) quads[a.name] = [find(fs.dense, a.name), a.values, find(as.dense, a.name), exact && find(exact.state.dense, a.name)];
  quads.memory = [fs.embedding[0].values, rs.embedding[0].values, as.embedding[0].values, exact?.state.embedding[0].values];
  for (const a of rs.optimizer) quads[a.name] = [find(fs.optimizer, a.name), a.values, find(as.optimizer, a.name), exact && find(exact.state.optimizer, a.name)];
  quads.predict = [fusedPred, refPred, altPred, exact?.pred];
  const judged: Record<string, Agreement & { spread?: number }> = {};
  for (const [k, [ours, oracle, other, wide]] of Object.entries(quads)) {
    if (!ours || !oracle) {
      judged[k] = { ok: false, direct: Infinity };
      continue;
    }
    const a: Agreement & { spread?: number } = agreesOrNoFurther(ours, oracle, wide, tolerance);
    if (adagrad && !wide && other && !a.ok) {
      // No float64 run for this shape: within twice the two oracles' own spread.
      a.spread = relativeDiff(other, oracle);
      a.ok = a.direct <= Math.max(tolerance, 2 * a.spread);
    }
    judged[k] = a;
  }
  const worstOf = (keys: string[]) => keys.reduce((w, k) => (judged[k].direct > w.direct ? { key: k, direct: judged[k].direct } : w), { key: '', direct: 0 });
  const denseKeys = rs.dense.map((a) => a.name);
  const dense = worstOf(denseKeys);
  const denseAccum = worstOf(rs.optimizer.filter((a) => a.name.startsWith('dense.adagrad.')).map((a) => a.name));
  // Moved at all? (a step that did nothing would match an untouched oracle trivially)
  const fresh = await makeFused(c, log);
  const init = await fresh.exportState();
  fresh.dispose();
  const moved = relativeDiff(fs.embedding[0].values, init.embedding[0].values) > 1e-6 && relativeDiff(fs.dense[0].values, init.dense[0].values) > 1e-6;
  fused.importState(rs);
  const imported = relativeDiff(await fused.predict(probe), refPred);
  const mode = (fused.embedding as { mode?: string }).mode;
  ref.dispose();
  fused.dispose();
  const failed = Object.entries(judged).filter(([, a]) => !a.ok).map(([k]) => k);
  const modeOk = !c.mode || mode === c.mode;
  const ok = moved && modeOk && failed.length === 0 && imported <= tolerance;
  const vs = (k: string) => (judged[k]?.ours ? { ours: judged[k].ours, oracle: judged[k].oracle } : undefined);
  return {
    case: c.name,
    rows: data[0].rows,
    steps,
    mode,
    dense_optimizer: c.config.denseOptimizer ?? 'sgd',
    rates: c.schedule ? data.map((_, s) => Number(scheduledLr(c.config.learningRate, s + 1, c.schedule!).toPrecision(4))) : undefined,
    loss: judged.loss.direct,
    dense: dense.direct,
    worst_dense: dense.key,
    dense_accum: denseAccum.key ? denseAccum.direct : undefined,
    memory: judged.memory.direct,
    accum: judged['embedding.adagrad']?.direct,
    predict: judged.predict.direct,
    imported,
    moved,
    ok,
    failed: failed.length ? failed : undefined,
    yardstick: !adagrad ? 'oracle' : exact ? 'float64' : 'oracle-spread',
    vs_f64: exact ? { loss: vs('loss'), dense: vs(dense.key), memory: vs('memory'), accum: vs('embedding.adagrad'), dense_accum: denseAccum.key ? vs(denseAccum.key) : undefined, predict: vs('predict') } : undefined,
    oracle_spread: { dense: Math.max(...denseKeys.map((k) => (quads[k][2] ? relativeDiff(quads[k][2]!, quads[k][1]!) : 0))), memory: relativeDiff(as.embedding[0].values, rs.embedding[0].values), predict: relativeDiff(altPred, refPred) },
    mode_ok: modeOk,
  };
}

async function dryRun(log: (l: string) => void): Promise<number> {
  const rows: Record<string, unknown>[] = [];
  for (const c of await cases()) {
    rows.push(await runCase(c, log));
    process.stdout.write(JSON.stringify(rows[rows.length - 1]) + '\n');
  }
  const ok = rows.every((r) => r.ok);
  process.stdout.write(JSON.stringify({ check: ok ? 'pass' : 'FAIL', dry_run: 'cpu: the fused program in JS, not WGSL', tolerance, cases: rows.length, failed_cases: rows.filter((r) => !r.ok).map((r) => r.case) }) + '\n');
  return ok ? 0 : 1;
}

async function main(): Promise<number> {
  const log = (l: string) => process.stderr.write(l + '\n');
  const backend = await selectBackend(backendName, log);
  if (dry) return dryRun(log);
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
      max_dense_accum: worst('dense_accum'),
      failed_cases: rows.filter((r) => !r.ok).map((r) => r.case),
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
