/**
 * DLRM training-step throughput per shape x embedding kind, as JSON lines on stdout:
 *
 *   node dist/bench/gpu-step.js [--backend webgpu] [--steps 20] [--warmup 3]
 *        [--batch 2048[,16384,...]] [--shapes kaggle,large] [--kinds full,hashnet,scma]
 *        [--impl auto|fused|composite|cpu-sparse|webgpu[,...]] [--memory-floats 16777216]
 *        [--max-rows 200000] [--profile] [--torch torch.jsonl] [--device NAME]
 *
 * fused (model/fused/): steps are queued (queueStep) and the loss is read once at
 * the end of the timed loop, as train reads it every print-freq steps; "sync_ms" is
 * the same step with a read-back every step (trainStep). The tfjs implementations
 * (composite, webgpu) read the loss every step, as their trainStep does.
 * --profile (tfjs implementations): where one step's time goes: kernels dispatched
 * and the most frequent ones (tf.profile), kernel milliseconds by kernel name, GPU kernel time when the adapter has
 * timestamp queries (tf.time), one bare read-back's round trip, the CPU dedupe.
 * --torch: JSON lines of bench/torch_dlrm_step.py on the same device; each of our
 * lines with a PyTorch line of the same shape, kind and batch gets
 * ratio = our samples/s / PyTorch's; PyTorch CPU lines carry their thread count,
 * and then each count gets its own torch_<n>t_samples_per_s and ratio_<n>t
 * (torch_dense_<n>t_... and ratio_dense_<n>t against its dense-gradient form), and
 * cpu_ratio_<n>t = PyTorch's CPU ms per step / ours (samples per CPU-second).
 * cpu-step (model/cpu/, --backend wasm or cpu): "parts_ms" splits its step into
 * locate, gather, forward matmuls, interaction, loss, backward matmuls, interaction
 * backward and embedding update; "gflops" is its matmuls' rate over the whole step.
 * "cpu_ms_per_step" (tfjs and cpu-step): this process's CPU time per step (all its
 * threads); far below ms_per_step means the cores were shared with other work.
 *
 * Ids are Zipf-skewed per feature (P(id = k) ~ 1/(k+1), as click logs are), drawn
 * ahead of time; each timed step includes the CPU location computation, the upload
 * and the loss read-back, as training does. "emb_ms" times the embedding layer alone
 * (locate + gather + gradient + update) on the same batches, "locate_ms" the CPU
 * location computation the composite and cpu-sparse layers do, "dedupe_ms" the CPU
 * part of the webgpu layer (distinct values + CSR), "locate" where webgpu computes
 * locations (rows | hash | scma | codes). Several --impl values run one after another
 * on the same batches, for side-by-side figures.
 * Full tables use Kaggle's per-feature value counts capped at --max-rows.
 * On the GPU machine: ../shared/tools/device/pack.sh bench/gpu-step.ts, then
 * `source .device/prelude.sh && node .device/gpu-step.mjs`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createDlrm, type EmbeddingInfo } from '../model/dlrm.js';
import { CpuDlrm } from '../model/cpu/step.js';
import type { EmbeddingLayer } from '../model/embedding/layer.js';
import { Locator } from '../model/embedding/locations.js';
import { BatchDedupe } from '../model/embedding/webgpu-dedupe.js';
import type { DlrmConfig, EmbeddingSpec, LocationCodes, TrainBatch } from '../model/types.js';
import { mulberry32, hash2 } from '../core/hash.js';
import { HASH_FAMILY, hashNetCodes } from '../scma/codes.js';
import { MAPPING_VERSION, ScmaMapping } from '../scma/mapping.js';

/** Distinct values per feature in Criteo Kaggle (facebookresearch/dlrm's counts). */
const KAGGLE_COUNTS = [1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194, 27, 14992, 5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572];

const SHAPES: Record<string, { d: number; bottom: number[]; top: number[] }> = {
  kaggle: { d: 16, bottom: [13, 512, 256, 64, 16], top: [512, 256, 1] },
  large: { d: 128, bottom: [13, 512, 256, 128], top: [1024, 1024, 512, 256, 1] },
  tiny: { d: 4, bottom: [13, 8, 4], top: [8, 1] },
};

const { values: o } = parseArgs({
  options: {
    backend: { type: 'string', default: 'webgpu' },
    steps: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    batch: { type: 'string', default: '2048' },
    shapes: { type: 'string', default: 'kaggle,large' },
    kinds: { type: 'string', default: 'full,hashnet,scma' },
    impl: { type: 'string', default: 'auto' },
    'memory-floats': { type: 'string', default: String(16 * 1024 * 1024) },
    'max-rows': { type: 'string', default: '200000' },
    'emb-only': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    // fused: GPU time of op groups alone (dense, locate, gather, scatter, apply), replayed.
    'op-profile': { type: 'boolean', default: false },
    torch: { type: 'string' },
    'sync-steps': { type: 'string', default: '5' },
    /** The CPU step's threads (main included); default: defaultCpuThreads(). */
    threads: { type: 'string' },
    /** The device's name for the output lines (WebGPU's adapter info often names only the driver). */
    device: { type: 'string' },
  },
  allowNegative: true,
});

const steps = Number(o.steps);
const warmup = Number(o.warmup);
const batchSizes = o.batch!.split(',').map(Number);
const memoryFloats = Number(o['memory-floats']);
const maxRows = Number(o['max-rows']);
const counts = KAGGLE_COUNTS.map((n) => Math.min(n, maxRows));

/**
 * An SCMA mapping (a real ScmaMapping, so the webgpu layer searches it on the GPU):
 * stored codes for every value a sample could have seen (ids below the cap), shared
 * between groups of values as MinHash codes are, and the HashNet fallback above it.
 * The bench measures lookup cost, not the mapping's quality.
 */
function tableCodes(dim: number, seed: number): LocationCodes {
  const fallback = hashNetCodes(dim, seed);
  const stored = counts.map((n) => Math.min(n, 1 << 16));
  const total = stored.reduce((a, b) => a + b, 0);
  const features = new Uint8Array(total);
  const values = new Uint32Array(total);
  const codes = new Uint32Array(total * dim);
  let i = 0;
  stored.forEach((n, f) => {
    for (let v = 0; v < n; v++, i++) {
      features[i] = f;
      values[i] = v;
      fallback.codesInto(f, hash2(v, f, seed) % Math.max(1, n >> 2), codes, i * dim);
    }
  });
  const meta = { dim, numHash: 2, sample: total, seed, hashFamily: HASH_FAMILY, version: MAPPING_VERSION, values: total, sampledRows: total, inputRows: total };
  return new ScmaMapping(meta, features, values, codes);
}

function spec(kind: string, d: number): EmbeddingSpec {
  if (kind === 'full') return { kind: 'full', vocab: { size: (f) => counts[f], index: (f, v) => (v < counts[f] ? v : counts[f] - 1) } };
  if (kind === 'hashnet') return { kind: 'hashnet', memoryFloats, codes: hashNetCodes(d, 1), initRows: Math.max(...counts) };
  return { kind: 'scma', memoryFloats, codes: tableCodes(d, 2), initRows: Math.max(...counts) };
}

function makeBatches(n: number, rows: number, seed: number): TrainBatch[] {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const dense = new Float32Array(rows * 13);
    const cats = new Uint32Array(rows * 26);
    const label = new Float32Array(rows);
    for (let i = 0; i < dense.length; i++) dense[i] = Math.log1p(Math.floor(-Math.log(1 - rng()) * 10));
    for (let r = 0; r < rows; r++) {
      for (let f = 0; f < 26; f++) cats[r * 26 + f] = Math.min(counts[f] - 1, Math.floor(Math.exp(rng() * Math.log(counts[f] + 1))) - 1);
      label[r] = rng() < 0.25 ? 1 : 0;
    }
    return { rows, dense, cats, label };
  });
}

/** The adapter's name ("NVIDIA H200" on the GPU machine), asked of WebGPU directly. */
async function deviceName(): Promise<string> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(o?: object): Promise<{ info?: Record<string, string> } | null> } } }).navigator?.gpu;
  const a = await gpu?.requestAdapter({ powerPreference: 'high-performance' });
  const i = a?.info ?? {};
  return i.description || [i.vendor, i.architecture, i.device].filter(Boolean).join(' ') || 'unknown';
}

interface TorchLine {
  shape: string;
  kind: string;
  batch: number;
  samples_per_s: number;
  threads?: number;
  sparse?: boolean;
  cpu_ms_per_step?: number;
}

const torchLines: TorchLine[] = o.torch
  ? readFileSync(o.torch, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as TorchLine)
      .filter((l) => l.samples_per_s)
  : [];

function emit(line: Record<string, unknown>): void {
  const peers = torchLines.filter((t) => t.shape === line.shape && t.kind === line.kind && t.batch === line.batch);
  for (const peer of typeof line.samples_per_s === 'number' ? peers : []) {
    const ratio = +((line.samples_per_s as number) / peer.samples_per_s).toFixed(3);
    if (peer.threads) {
      // Sparse-gradient PyTorch lines are the peer; dense-gradient ones are tagged "dense".
      const tag = `${peer.sparse === false ? 'dense_' : ''}${peer.threads}t`;
      line[`torch_${tag}_samples_per_s`] = peer.samples_per_s;
      line[`ratio_${tag}`] = ratio;
      // On shared cores wall time mostly measures the neighbours: samples per CPU-second too.
      if (typeof line.cpu_ms_per_step === 'number' && peer.cpu_ms_per_step) line[`cpu_ratio_${tag}`] = +(peer.cpu_ms_per_step / line.cpu_ms_per_step).toFixed(3);
    } else {
      line.torch_samples_per_s = peer.samples_per_s;
      line.ratio = ratio;
    }
  }
  process.stdout.write(JSON.stringify(line) + '\n');
}

let device = 'unknown';

async function main(): Promise<void> {
  const log = (l: string) => process.stderr.write(l + '\n');
  for (const batchRows of batchSizes) {
    const batches = makeBatches(Math.min(8, warmup + steps), batchRows, 7);
    for (const shapeName of o.shapes!.split(',')) {
      const shape = SHAPES[shapeName];
      if (!shape) throw new Error(`unknown shape ${shapeName}`);
      for (const kind of o.kinds!.split(',')) {
        const config: DlrmConfig = {
          embeddingDim: shape.d,
          bottomMlp: shape.bottom,
          topMlp: shape.top,
          embedding: spec(kind, shape.d),
          learningRate: 0.1,
          embeddingOptimizer: 'sgd',
          seed: 1,
        };
        for (const impl of o.impl!.split(',')) {
          try {
            await runConfig(shapeName, shape, kind, config, batches, log, impl);
          } catch (err) {
            const e = err as Error;
            emit({ device, shape: shapeName, kind, impl, batch: batchRows, error: e.message, at: (e.stack ?? '').split('\n').slice(1, 6).map((l) => l.trim()) });
          }
        }
      }
    }
  }
}

type Model = Awaited<ReturnType<typeof createDlrm>>;

/** Where one tfjs step's time goes (see the header). */
async function profileTfjs(model: Model, batch: TrainBatch): Promise<Record<string, unknown>> {
  const prof = await tf.profile(async () => {
    await model.trainStep(batch);
  });
  const byName = new Map<string, number>();
  for (const k of prof.kernels) byName.set(k.name, (byName.get(k.name) ?? 0) + 1);
  const top = [...byName].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([n, c]) => `${n}:${c}`).join(' ');
  // Kernel time by kernel name (wasm and cpu time each kernel synchronously): where the step's time goes.
  const msByName = new Map<string, number>();
  for (const k of prof.kernels) if (typeof k.kernelTimeMs === 'number') msByName.set(k.name, (msByName.get(k.name) ?? 0) + k.kernelTimeMs);
  const topMs = [...msByName].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([n, ms]) => `${n}:${ms.toFixed(1)}`).join(' ');
  let gpuKernelMs: number | string | undefined;
  let wallMs: number | undefined;
  try {
    const t = await tf.time(() => {
      void model.trainStep(batch);
    });
    gpuKernelMs = typeof t.kernelMs === 'number' ? +t.kernelMs.toFixed(2) : String((t.kernelMs as { error?: string }).error ?? t.kernelMs);
    wallMs = +t.wallMs.toFixed(2);
  } catch (err) {
    gpuKernelMs = (err as Error).message.slice(0, 80);
  }
  await tf.ready();
  // One bare GPU->CPU read-back: the floor that reading the loss every step costs.
  const x = tf.scalar(1);
  const t0 = performance.now();
  const reads = 5;
  for (let i = 0; i < reads; i++) {
    const y = tf.add(x, i);
    await y.data();
    y.dispose();
  }
  x.dispose();
  return { kernels: prof.kernels.length, top_kernels: top, top_kernel_ms: topMs, gpu_kernel_ms: gpuKernelMs, time_wall_ms: wallMs, readback_ms: +((performance.now() - t0) / reads).toFixed(3) };
}

async function runConfig(shapeName: string, shape: { d: number; bottom: number[]; top: number[] }, kind: string, config: DlrmConfig, batches: TrainBatch[], log: (l: string) => void, impl: string): Promise<void> {
  const batchRows = batches[0].rows;
  const t0 = performance.now();
  const model = await createDlrm(config, { backend: o.backend, log, embeddingImpl: impl, ...(o.threads ? { threads: Number(o.threads) } : {}) });
  const buildMs = performance.now() - t0;
  if (device === 'unknown') device = o.device ?? (model.backend === 'webgpu' ? await deviceName() : 'cpu');
  const extra: Record<string, unknown> = {};
  let loss = NaN;
  let ms: number;
  if (model.queueStep && model.takeLoss) {
    const fused = model as unknown as { replaySteps(rows: number, times: number, only?: (op: string) => boolean): Promise<number>; waitMs?: number };
    // GC pauses in the timed windows (--profile): a main-thread stall shows here.
    let gcMs = 0;
    const gcObs = o.profile ? new PerformanceObserver((l) => l.getEntries().forEach((e) => (gcMs += e.duration))) : undefined;
    gcObs?.observe({ entryTypes: ['gc'] });
    // Run ahead: queue every step, read the accumulated loss once (train reads it every print-freq steps).
    const tw = performance.now();
    for (let s = 0; s < warmup; s++) await model.queueStep(batches[s % batches.length]);
    await model.takeLoss();
    if (o.profile) extra.warmup_ms = +(performance.now() - tw).toFixed(1);
    const timed = async () => {
      const times: number[] = [];
      gcMs = 0;
      const w0 = fused.waitMs ?? 0;
      const t1 = performance.now();
      for (let s = 0; s < steps; s++) {
        const ts = performance.now();
        await model.queueStep!(batches[(warmup + s) % batches.length]);
        times.push(+(performance.now() - ts).toFixed(2));
      }
      const l = (await model.takeLoss!()).mean;
      return { ms: (performance.now() - t1) / steps, loss: l, times, gc: gcMs, wait: ((fused.waitMs ?? 0) - w0) / steps };
    };
    const first = await timed();
    loss = first.loss;
    ms = first.ms;
    if (o.profile) {
      extra.step_ms_each = first.times;
      extra.gc_ms = +first.gc.toFixed(2);
      extra.wait_ms = +first.wait.toFixed(3);
      // GPU time alone (the last batch's step replayed), against the CPU's share of a step.
      extra.gpu_ms = +(await fused.replaySteps(batchRows, 10)).toFixed(3);
      await model.takeLoss();
    }
    const syncSteps = Number(o['sync-steps']);
    if (syncSteps > 0) {
      const t2 = performance.now();
      for (let s = 0; s < syncSteps; s++) await model.trainStep(batches[s % batches.length]);
      extra.sync_ms = +((performance.now() - t2) / syncSteps).toFixed(3);
    }
    if (o.profile) {
      // The same timed loop again, later: a transient after the model's construction shows as a difference.
      const again = await timed();
      extra.again_ms = +again.ms.toFixed(3);
      extra.again_gc_ms = +again.gc.toFixed(2);
      extra.gpu_ms_again = +(await fused.replaySteps(batchRows, 10)).toFixed(3);
    }
    if (o['op-profile']) {
      // GPU time of op groups alone (replayed; the model's state is meaningless after this).
      const emb = new Set(['locate', 'gather', 'scatter', 'apply']);
      extra.gpu_ms_dense = +(await fused.replaySteps(batchRows, 10, (n) => !emb.has(n))).toFixed(3);
      for (const op of emb) extra[`gpu_ms_${op}`] = +(await fused.replaySteps(batchRows, 10, (n) => n === op)).toFixed(3);
    }
    gcObs?.disconnect();
  } else {
    for (let s = 0; s < warmup; s++) loss = await model.trainStep(batches[s % batches.length]);
    const cpu = model instanceof CpuDlrm ? model : undefined;
    if (cpu) cpu.profile = { locate: 0, gather: 0, forward: 0, interact: 0, loss: 0, backward: 0, interact_backward: 0, wait: 0, update: 0 };
    const macs0 = cpu?.matmulMacs ?? 0;
    const u1 = process.cpuUsage();
    const t1 = performance.now();
    for (let s = 0; s < steps; s++) loss = await model.trainStep(batches[(warmup + s) % batches.length]);
    ms = (performance.now() - t1) / steps;
    // CPU time of this process per step: well below ms_per_step when other work shares the cores.
    const u = process.cpuUsage(u1);
    extra.cpu_ms_per_step = +((u.user + u.system) / 1000 / steps).toFixed(2);
    if (cpu) {
      extra.parts_ms = Object.fromEntries(Object.entries(cpu.profile!).map(([k, v]) => [k, +(v / steps).toFixed(2)]));
      extra.gflops = +((2 * (cpu.matmulMacs - macs0)) / steps / ms / 1e6).toFixed(2);
      cpu.profile = undefined;
    }
    if (o.profile) Object.assign(extra, await profileTfjs(model, batches[0]));
  }

  // The CPU part alone: location computation for one batch (composite, cpu-sparse) and the dedupe (webgpu, fused).
  const locator = new Locator(config.embedding, shape.d);
  const locs = new Int32Array(model.embedding.impl === 'fused' ? 0 : batchRows * 26 * shape.d);
  const t2 = performance.now();
  // (The fused step does not use it: skipped there, it takes up to a second a batch.)
  const reps = model.embedding.impl === 'fused' ? 0 : 3;
  for (let s = 0; s < reps; s++) locator.flatInto(batches[s % batches.length].cats, batchRows, locs);
  const locateMs = reps ? (performance.now() - t2) / reps : NaN;
  const dedupe = new BatchDedupe();
  const t2b = performance.now();
  for (let s = 0; s < 3; s++) dedupe.build(batches[s % batches.length].cats, batchRows);
  const dedupeMs = (performance.now() - t2b) / 3;

  // The embedding layer alone (tfjs implementations, --emb-only): locate + gather + gradient + update.
  if (o['emb-only'] && isLayer(model.embedding)) {
    const layer = model.embedding;
    const run = async (b: TrainBatch) => {
      const inputs = layer.begin(b.cats, b.rows);
      let grads: tf.Tensor[] = [];
      tf.tidy(() => {
        const f = (...xs: tf.Tensor[]) => tf.sum(tf.mul(layer.embed(xs), 1e-6)) as tf.Scalar;
        grads = tf.grads(f)(inputs).map((g) => tf.keep(g));
      });
      await layer.update(grads);
    };
    await run(batches[0]);
    await model.predict({ ...batches[0], rows: 1 });
    const t3 = performance.now();
    const n = Math.min(steps, 5);
    for (let s = 0; s < n; s++) await run(batches[s % batches.length]);
    await model.predict({ ...batches[0], rows: 1 }); // waits for the queued GPU work
    extra.emb_ms = +((performance.now() - t3) / n).toFixed(2);
  }
  emit({
    device,
    backend: model.backend,
    impl: model.embedding.impl,
    ...(model instanceof CpuDlrm ? { threads: model.threads, matmul: model.matmul } : {}),
    shape: shapeName,
    d: shape.d,
    bottom: shape.bottom.join('-'),
    top: shape.top.join('-'),
    kind,
    batch: batchRows,
    memory_floats: model.embedding.memoryFloats,
    steps,
    ms_per_step: +ms.toFixed(3),
    samples_per_s: Math.round((batchRows * 1000) / ms),
    ...extra,
    locate_ms: +locateMs.toFixed(2),
    dedupe_ms: +dedupeMs.toFixed(2),
    unique: dedupe.unique,
    locate: model.embedding.mode,
    build_ms: Math.round(buildMs),
    loss: +loss.toFixed(4),
  });
  model.dispose();
}

function isLayer(e: EmbeddingInfo): e is EmbeddingLayer {
  return typeof (e as Partial<EmbeddingLayer>).begin === 'function';
}

main().catch((err) => {
  process.stderr.write(`gpu-step: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
