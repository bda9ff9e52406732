/**
 * bench/backend-agreement: the same DLRM (same seed, so the same initial weights) on
 * the cpu backend and on the requested one, a few identical SGD steps on each, then
 * predictions compared. Checks backend-specific code paths (the webgpu interaction's
 * gather, its fused layers, its embedding kernels) against the reference backend.
 *
 *   node dist/bench/backend-agreement.js [--backend webgpu] [--steps 3]
 * Exits 1 when the largest difference exceeds the tolerance.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { createDlrm } from '../model/dlrm.js';
import { hashNetCodes } from '../scma/codes.js';
import { mulberry32 } from '../core/hash.js';
import type { DlrmConfig, TrainBatch } from '../model/types.js';

const { values: args } = parseArgs({ options: { backend: { type: 'string', default: 'webgpu' }, steps: { type: 'string', default: '3' }, tolerance: { type: 'string', default: '1e-4' } } });

const config: DlrmConfig = {
  embeddingDim: 8,
  bottomMlp: [13, 32, 8],
  topMlp: [64, 16, 1],
  embedding: { kind: 'hashnet', memoryFloats: 50_000, codes: hashNetCodes(8, 3) },
  learningRate: 0.1,
  embeddingOptimizer: 'sgd',
  seed: 11,
};

function batch(rows: number, seed: number): TrainBatch {
  const rnd = mulberry32(seed);
  return {
    rows,
    dense: Float32Array.from({ length: rows * 13 }, () => Math.log1p(rnd() * 100)),
    cats: Uint32Array.from({ length: rows * 26 }, () => 1 + Math.floor(rnd() * 500)),
    label: Float32Array.from({ length: rows }, () => (rnd() < 0.3 ? 1 : 0)),
  };
}

async function run(backend: string): Promise<{ used: string; losses: number[]; preds: Float32Array }> {
  const model = await createDlrm(config, { backend });
  const losses: number[] = [];
  for (let s = 0; s < Number(args.steps); s++) losses.push(await model.trainStep(batch(256, 100 + s)));
  const preds = await model.predict(batch(512, 999));
  const used = model.backend;
  model.dispose();
  return { used, losses, preds };
}

const ref = await run('cpu');
const other = await run(args.backend!);
let maxPred = 0;
for (let i = 0; i < ref.preds.length; i++) maxPred = Math.max(maxPred, Math.abs(ref.preds[i] - other.preds[i]));
const maxLoss = Math.max(...ref.losses.map((l, i) => Math.abs(l - other.losses[i])));
const ok = maxPred <= Number(args.tolerance) && maxLoss <= Number(args.tolerance);
process.stdout.write(JSON.stringify({ check: ok ? 'pass' : 'fail', reference: ref.used, backend: other.used, steps: Number(args.steps), maxPredictDiff: maxPred, maxLossDiff: maxLoss, tolerance: Number(args.tolerance) }) + '\n');
if (!ok) process.exitCode = 1;
void tf;
