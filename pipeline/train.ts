/**
 * train(): FeatureBatches (shards or an Arrow IPC stream on stdin) -> split -> seeded
 * shuffle buffer -> batcher -> DLRM steps, with evaluations, metrics, checkpoints
 * and the saved model. The pieces live in pipeline/train/:
 *   options.ts   TRAIN_DEFAULTS and the checks, before anything is read or written
 *   source.ts    shards or stdin (with the split's tail holdback)
 *   resume.ts    --out/--resume: the checkpoint to continue, the settings fingerprint
 *   output-lock.ts  one train per --out and --metrics (io/lock.ts)
 *   loop.ts      the epochs, evaluations, checkpoints and metrics lines
 * and the embedding kinds (build, save, restore) in model/embedding-kinds.ts.
 */
import path from 'node:path';
import type { EvalMetrics } from '../core/metrics.js';
import { buildEmbedding } from '../model/embedding-kinds.js';
import { saveDlrm } from '../model/saved-model.js';
import type { DlrmConfig } from '../model/types.js';
import { resolveTrainOptions, type EmbeddingKind, type TrainOptions, type TrainSettings } from './train/options.js';
import { openTrainSource } from './train/source.js';
import { findCheckpoint, fingerprint, requireSameSettings } from './train/resume.js';
import { trainingLoop } from './train/loop.js';
import { lockTrainOutputs } from './train/output-lock.js';

export { TRAIN_DEFAULTS, type TrainOptions, type EmbeddingKind } from './train/options.js';
export { prefetch } from './train/prefetch.js';

export interface TrainSummary {
  type: 'summary';
  steps: number;
  epochs: number;
  trainRows: number;
  seconds: number;
  samplesPerSecond: number;
  backend: string;
  embedding: EmbeddingKind;
  memoryFloats: number | null;
  /** Sum over features of distinct values in the training rows, when counted. */
  distinctValues: number | null;
  finalTrainLoss: number | null;
  /**
   * Seconds the training loop waited for its next batch (the input path: shard read,
   * split, shuffle, batching). With a model that queues its steps (the fused WebGPU
   * step), the device starves in this time once its queue runs empty.
   */
  inputWaitSeconds: number;
  /** Seconds in the training loop: input and steps, periodic evaluation and checkpoints included; not the final evaluation or saving. */
  trainSeconds: number;
  val: EvalMetrics | null;
  test: EvalMetrics | null;
  resumedFromStep: number | null;
}

export async function train(opts: TrainOptions): Promise<TrainSummary> {
  const s = resolveTrainOptions(opts);
  // Before anything in --out is read or swept: a second run into it is refused, naming this one.
  const lock = lockTrainOutputs(s.outDir, s.metricsFile);
  try {
    return await trainLocked(s, lock.checkpointed);
  } finally {
    lock.release();
  }
}

async function trainLocked(s: TrainSettings, onCheckpoint: (step: number) => void): Promise<TrainSummary> {
  const { input, embeddingDim, bottomMlp, topMlp, learningRate, embeddingOptimizer, embedding: kind, seed, outDir, log } = s;

  const source = await openTrainSource(input, { stdin: s.stdin, split: s.split, verify: s.verify, log });
  if (source.stdin && s.epochs > 1) log(`train: input is a stdin stream, read once: one epoch (--nepochs ${s.epochs} ignored)`);
  if (s.split.kind === 'none') {
    log('train: warning: no --split, --test-fraction or --val-fraction: every row is trained on and none is held out, so nothing is evaluated (test: null)');
  }
  const ck = await findCheckpoint(outDir, s.resume, log);
  if (ck) onCheckpoint(ck.step);

  const plan = source.plan();
  // A manifest written before these fields existed lacks them: unbucketed ids, seed 0.
  const featurize = source.manifest ? { buckets: source.manifest.config.buckets ?? null, seed: source.manifest.config.seed ?? 0 } : null;
  const embedding = await buildEmbedding(
    kind,
    { dim: embeddingDim, seed, compression: s.compression, compressionGiven: s.compressionGiven, memoryFloats: s.memoryFloats, minCount: s.minCount, mapping: s.mapping, mappingSample: s.mappingSample, verify: s.verify, ...(s.robeBlock !== undefined ? { robeBlock: s.robeBlock } : {}) },
    { buckets: featurize?.buckets ?? null, trainRows: source.trainRows, trainRowCount: plan?.train.end, input, log },
  );

  const config: DlrmConfig = { embeddingDim, bottomMlp, topMlp, embedding: embedding.spec, learningRate, embeddingOptimizer, denseOptimizer: s.denseOptimizer, seed };
  // Keyed on content, not paths: the input's shard checksums (it is also the source of
  // a vocabulary or an on-the-fly mapping) and a given mapping's content checksum, so a
  // different file at the same path is refused on resume and a moved one is not.
  // distinct: the per-feature counts of the training rows.
  const fp = fingerprint({
    input: source.contentKey,
    total: plan?.total,
    distinct: embedding.distinct,
    embeddingDim,
    bottomMlp,
    topMlp,
    learningRate,
    lrSchedule: s.lrSchedule,
    embeddingOptimizer,
    denseOptimizer: s.denseOptimizer,
    kind,
    memory: embedding.memoryFloats,
    mapping: embedding.mappingChecksum ? `crc32:${embedding.mappingChecksum}` : null,
    robeBlock: s.robeBlock ?? null,
    minCount: s.minCount,
    batchSize: s.batchSize,
    split: s.split,
    shuffleBuffer: s.shuffleBuffer,
    seed,
  });
  requireSameSettings(ck, fp, outDir, { input: input === '-' ? '<stdin>' : input, ...(s.mapping !== undefined ? { mapping: s.mapping } : {}) });

  const model = await s.createModel(config, { backend: s.backend, log, embeddingImpl: s.embeddingImpl, ...(s.threads !== undefined ? { threads: s.threads } : {}) });
  try {
    const run = await trainingLoop(model, source, s, ck, fp, onCheckpoint);
    if (outDir) {
      await saveDlrm(path.join(outDir, 'model'), {
        state: await model.exportState(),
        config,
        embedding,
        featurize,
        training: { steps: run.steps, epochs: run.epochs, batchSize: s.batchSize, learningRate, embeddingOptimizer, seed },
      });
    }
    const finalPlan = source.plan();
    const summary: TrainSummary = {
      type: 'summary',
      steps: run.steps,
      epochs: run.epochs,
      trainRows: finalPlan ? finalPlan.train.end - finalPlan.train.start : run.rowsDone,
      seconds: run.seconds,
      samplesPerSecond: run.rowsDone / Math.max(1e-3, run.seconds),
      backend: model.backend,
      embedding: kind,
      memoryFloats: embedding.memoryFloats,
      distinctValues: embedding.distinct ? embedding.distinct.reduce((a, b) => a + b, 0) : null,
      finalTrainLoss: run.lastLoss,
      inputWaitSeconds: run.inputWaitSeconds,
      trainSeconds: run.trainSeconds,
      val: run.val,
      test: run.test,
      resumedFromStep: ck ? ck.step : null,
    };
    await run.metrics.write(summary);
    await run.metrics.close();
    return summary;
  } finally {
    model.dispose();
  }
}
