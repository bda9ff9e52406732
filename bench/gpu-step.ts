/**
 * DLRM training-step throughput per shape x embedding kind, as JSON lines on stdout:
 *
 *   node dist/bench/gpu-step.js [--backend webgpu] [--steps 20] [--warmup 3]
 *        [--batch 2048] [--shapes kaggle,large] [--kinds full,hashnet,scma]
 *        [--impl auto|composite|cpu-sparse|webgpu[,...]] [--memory-floats 16777216]
 *        [--max-rows 200000] [--tiny]
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
import { parseArgs } from 'node:util';
import { createDlrm } from '../model/dlrm.js';
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
    'emb-only': { type: 'boolean', default: true },
  },
  allowNegative: true,
});

const steps = Number(o.steps);
const warmup = Number(o.warmup);
const batchRows = Number(o.batch);
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

async function main(): Promise<void> {
  const log = (l: string) => process.stderr.write(l + '\n');
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
          process.stdout.write(JSON.stringify({ shape: shapeName, kind, impl, error: e.message, at: (e.stack ?? '').split('\n').slice(1, 6).map((l) => l.trim()) }) + '\n');
        }
      }
    }
  }
}

async function runConfig(shapeName: string, shape: { d: number; bottom: number[]; top: number[] }, kind: string, config: DlrmConfig, batches: TrainBatch[], log: (l: string) => void, impl: string): Promise<void> {
  {
    {
      const t0 = performance.now();
      const model = await createDlrm(config, { backend: o.backend, log, embeddingImpl: impl });
      const buildMs = performance.now() - t0;
      let loss = NaN;
      for (let s = 0; s < warmup; s++) loss = await model.trainStep(batches[s % batches.length]);
      const t1 = performance.now();
      for (let s = 0; s < steps; s++) loss = await model.trainStep(batches[(warmup + s) % batches.length]);
      const ms = (performance.now() - t1) / steps;

      // The CPU part alone: location computation for one batch.
      const locator = new Locator(config.embedding, shape.d);
      const locs = new Int32Array(batchRows * 26 * shape.d);
      const t2 = performance.now();
      for (let s = 0; s < 3; s++) locator.flatInto(batches[s % batches.length].cats, batchRows, locs);
      const locateMs = (performance.now() - t2) / 3;
      const dedupe = new BatchDedupe();
      const t2b = performance.now();
      for (let s = 0; s < 3; s++) dedupe.build(batches[s % batches.length].cats, batchRows);
      const dedupeMs = (performance.now() - t2b) / 3;

      // The embedding layer alone: begin (locate + upload), gather, gradient, update.
      let embMs: number | undefined;
      if (o['emb-only']) {
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
        // Compiles the 1-row predict's shaders now, not inside the timed loop's read-back.
        await model.predict({ ...batches[0], rows: 1 });
        await tf.ready();
        const t3 = performance.now();
        for (let s = 0; s < Math.min(steps, 5); s++) {
          await run(batches[s % batches.length]);
        }
        // Make sure queued GPU work is done: read one float of the result.
        const st = await model.predict({ ...batches[0], rows: 1 });
        embMs = (performance.now() - t3) / Math.min(steps, 5);
        void st;
      }
      process.stdout.write(
        JSON.stringify({
          backend: model.backend,
          impl: model.embedding.impl,
          shape: shapeName,
          d: shape.d,
          bottom: shape.bottom.join('-'),
          top: shape.top.join('-'),
          kind,
          batch: batchRows,
          memory_floats: model.embedding.memoryFloats,
          steps,
          ms_per_step: +ms.toFixed(2),
          samples_per_s: Math.round((batchRows * 1000) / ms),
          emb_ms: embMs === undefined ? undefined : +embMs.toFixed(2),
          locate_ms: +locateMs.toFixed(2),
          dedupe_ms: +dedupeMs.toFixed(2),
          unique: dedupe.unique,
          locate: (model.embedding as { mode?: string }).mode,
          build_ms: Math.round(buildMs),
          loss: +loss.toFixed(4),
        }) + '\n',
      );
      model.dispose();
    }
  }
}

main().catch((err) => {
  process.stderr.write(`gpu-step: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
