/**
 * train()'s options: every default declared once (TRAIN_DEFAULTS, which the CLI's
 * option table also shows), and all checks made before anything is read or written.
 */
import type { Readable } from 'node:stream';
import { invalidOption } from '../../core/errors.js';
import { NUM_DENSE } from '../../core/schema.js';
import { checkLrSchedule, NO_SCHEDULE, type LrSchedule } from '../../core/lr-schedule.js';
import { DEFAULT_SAMPLE } from '../../scma/reduce.js';
import { EMBEDDING_KINDS, isEmbeddingKind, type EmbeddingKind } from '../../model/embedding-kinds.js';
import type { Dlrm, DlrmConfig } from '../../model/types.js';
import { checkMemoryFloor } from '../../model/embedding/memory-init.js';
import type { SplitSpec } from '../../stages/split.js';

export type { EmbeddingKind } from '../../model/embedding-kinds.js';

export interface TrainOptions {
  /** Shard directory, a single .parquet/.arrow shard, or '-' (Arrow IPC stream on stdin). */
  input: string;
  stdin?: Readable;
  embeddingDim?: number;
  /** Default: TRAIN_DEFAULTS.bottomMlp with its last size replaced by embeddingDim. */
  bottomMlp?: number[];
  topMlp?: number[];
  learningRate?: number;
  /** DLRM's schedule (--lr-num-warmup-steps, --lr-decay-start-step, --lr-num-decay-steps); default: constant. */
  lrSchedule?: LrSchedule;
  embeddingOptimizer?: 'sgd' | 'adagrad';
  /** Optimizer of the MLP weights (DLRM's --optimizer). */
  denseOptimizer?: 'sgd' | 'adagrad';
  embedding?: EmbeddingKind;
  /** Fraction of the full tables' size for hashnet/scma (M = R x sum of distinct values x d). */
  compression?: number;
  memoryFloats?: number;
  /** ROBE: Z, the floats of each contiguous block (default d: one block per embedding). */
  robeBlock?: number;
  /** SCMA mapping file; built from the training rows when absent. */
  mapping?: string;
  /** Rows sampled when the mapping is built on the fly (the reference's P). */
  mappingSample?: number;
  /** Full tables: values seen fewer times share the out-of-vocabulary row. */
  minCount?: number;
  batchSize?: number;
  testBatchSize?: number;
  epochs?: number;
  printFreq?: number;
  /** Evaluate every N steps (0: only at the end). */
  testFreq?: number;
  checkpointFreq?: number;
  split?: SplitSpec;
  shuffleBuffer?: number;
  seed?: number;
  backend?: string;
  embeddingImpl?: string;
  /** Threads of the CPU step (main included); default: the cores Node may use, at most 4. */
  threads?: number;
  metricsFile?: string;
  outDir?: string;
  resume?: boolean;
  /** Check each shard's size and checksum, and the mapping file's checksum, as they are read (default true; --no-verify: false). */
  verify?: boolean;
  /** TrainBatches prepared ahead of the model. */
  prefetch?: number;
  /** Read, shuffle and batch shard input on a worker thread (default true; stdin is always read in this thread). */
  inputThread?: boolean;
  /** Progress lines by time (step/total, epoch, loss, samples/s, ETA) every intervalMs, besides the --print-freq lines; default none. */
  progress?: { intervalMs: number };
  log?: (line: string) => void;
  /** Test hook: builds the model (default: model/dlrm.ts createDlrm). */
  createModel?: (config: DlrmConfig, opts: { backend?: string; log?: (line: string) => void; embeddingImpl?: string; threads?: number }) => Promise<Dlrm>;
}

export const TRAIN_DEFAULTS = Object.freeze({
  embeddingDim: 16,
  bottomMlp: Object.freeze([NUM_DENSE, 64, 16]) as readonly number[],
  topMlp: Object.freeze([64, 1]) as readonly number[],
  learningRate: 0.1,
  lrSchedule: NO_SCHEDULE,
  embeddingOptimizer: 'sgd' as 'sgd' | 'adagrad',
  denseOptimizer: 'sgd' as 'sgd' | 'adagrad',
  embedding: 'scma' as EmbeddingKind,
  /** hashnet/scma, when memoryFloats is not given. */
  compression: 1 / 16,
  mappingSample: DEFAULT_SAMPLE,
  minCount: 1,
  batchSize: 128,
  testBatchSize: 4096,
  epochs: 1,
  printFreq: 100,
  testFreq: 0,
  checkpointFreq: 1000,
  split: Object.freeze({ kind: 'none' }) as SplitSpec,
  shuffleBuffer: 10_000,
  seed: 0,
  backend: 'auto',
  embeddingImpl: 'auto',
  resume: false,
  verify: true,
  prefetch: 2,
  inputThread: true,
});

/** The options with every default filled in and every value checked. */
export type TrainSettings = Required<Omit<TrainOptions, 'stdin' | 'compression' | 'memoryFloats' | 'robeBlock' | 'mapping' | 'metricsFile' | 'outDir' | 'createModel' | 'progress' | 'threads'>> &
  Pick<TrainOptions, 'stdin' | 'memoryFloats' | 'robeBlock' | 'mapping' | 'metricsFile' | 'outDir' | 'progress' | 'threads'> & {
    compression: number;
    /** --compression was given (not the default): on a stdin stream, which has no counts, that is an error rather than the default memory. */
    compressionGiven: boolean;
    createModel: NonNullable<TrainOptions['createModel']>;
  };

const isPosInt = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;

export function resolveTrainOptions(opts: TrainOptions): TrainSettings {
  const d = TRAIN_DEFAULTS;
  const embeddingDim = opts.embeddingDim ?? d.embeddingDim;
  const s: TrainSettings = {
    input: opts.input,
    stdin: opts.stdin,
    embeddingDim,
    bottomMlp: opts.bottomMlp ?? [...d.bottomMlp.slice(0, -1), embeddingDim],
    topMlp: opts.topMlp ?? [...d.topMlp],
    learningRate: opts.learningRate ?? d.learningRate,
    lrSchedule: checkLrSchedule(opts.lrSchedule ?? d.lrSchedule),
    embeddingOptimizer: opts.embeddingOptimizer ?? d.embeddingOptimizer,
    denseOptimizer: opts.denseOptimizer ?? d.denseOptimizer,
    embedding: opts.embedding ?? d.embedding,
    compression: opts.compression ?? d.compression,
    compressionGiven: opts.compression !== undefined,
    memoryFloats: opts.memoryFloats,
    robeBlock: opts.robeBlock,
    mapping: opts.mapping,
    mappingSample: opts.mappingSample ?? d.mappingSample,
    minCount: opts.minCount ?? d.minCount,
    batchSize: opts.batchSize ?? d.batchSize,
    testBatchSize: opts.testBatchSize ?? d.testBatchSize,
    epochs: opts.epochs ?? d.epochs,
    printFreq: opts.printFreq ?? d.printFreq,
    testFreq: opts.testFreq ?? d.testFreq,
    checkpointFreq: opts.checkpointFreq ?? d.checkpointFreq,
    split: opts.split ?? d.split,
    shuffleBuffer: opts.shuffleBuffer ?? d.shuffleBuffer,
    seed: opts.seed ?? d.seed,
    backend: opts.backend ?? d.backend,
    embeddingImpl: opts.embeddingImpl ?? d.embeddingImpl,
    threads: opts.threads,
    metricsFile: opts.metricsFile,
    outDir: opts.outDir,
    resume: opts.resume ?? d.resume,
    verify: opts.verify ?? d.verify,
    prefetch: opts.prefetch ?? d.prefetch,
    inputThread: opts.inputThread ?? d.inputThread,
    progress: opts.progress,
    log: opts.log ?? ((line: string) => process.stderr.write(line + '\n')),
    createModel: opts.createModel ?? (async (c, o) => (await import('../../model/dlrm.js')).createDlrm(c, o)),
  };
  const { embedding: kind, compression, memoryFloats } = s;
  if (!isEmbeddingKind(kind)) throw invalidOption('embedding', `must be ${EMBEDDING_KINDS.slice(0, -1).join(', ')} or ${EMBEDDING_KINDS.at(-1)}`, kind);
  if (opts.compression !== undefined && !(typeof compression === 'number' && compression > 0 && compression <= 1)) throw invalidOption('compression', 'must be a number in (0, 1]', compression);
  if (s.threads !== undefined && !(isPosInt(s.threads) && s.threads <= 64)) throw invalidOption('threads', 'must be an integer from 1 to 64', s.threads);
  if (memoryFloats !== undefined && !isPosInt(memoryFloats)) throw invalidOption('memory-floats', 'must be a positive integer', memoryFloats);
  if (opts.compression !== undefined && memoryFloats !== undefined) throw invalidOption('memory-floats', 'cannot be combined with --compression', memoryFloats);
  if (kind === 'full' && (opts.compression !== undefined || memoryFloats !== undefined)) {
    // So that one command line can loop over the kinds: the memory size means nothing for full tables.
    s.log(`train: ${opts.compression !== undefined ? '--compression' : '--memory-floats'} applies to hashnet, scma and robe; ignored for --embedding full (one table row per value)`);
    s.compressionGiven = false;
    s.memoryFloats = undefined;
  }
  // Refused before any reading: the model would refuse it too, only after the count pass.
  if (s.memoryFloats !== undefined && kind !== 'full') checkMemoryFloor(s.memoryFloats, embeddingDim);
  if (s.robeBlock !== undefined && kind !== 'robe') throw invalidOption('robe-block', 'applies to --embedding robe only', s.robeBlock);
  if (s.robeBlock !== undefined && !(isPosInt(s.robeBlock) && s.robeBlock <= embeddingDim)) throw invalidOption('robe-block', `must be an integer in 1..${embeddingDim} (the embedding size)`, s.robeBlock);
  if (s.denseOptimizer !== 'sgd' && s.denseOptimizer !== 'adagrad') throw invalidOption('optimizer', 'must be sgd or adagrad', s.denseOptimizer);
  if (s.mapping !== undefined && kind !== 'scma') throw invalidOption('mapping', 'applies to --embedding scma only', s.mapping);
  for (const [name, v] of [['mini-batch-size', s.batchSize], ['test-mini-batch-size', s.testBatchSize], ['nepochs', s.epochs], ['print-freq', s.printFreq], ['checkpoint-freq', s.checkpointFreq], ['prefetch', s.prefetch], ['min-count', s.minCount], ['mapping-sample', s.mappingSample]] as const) {
    if (!isPosInt(v)) throw invalidOption(name, 'must be a positive integer', v);
  }
  if (!(Number.isSafeInteger(s.testFreq) && s.testFreq >= 0)) throw invalidOption('test-freq', 'must be a non-negative integer (0: evaluate at the end only)', s.testFreq);
  if (typeof s.inputThread !== 'boolean') throw invalidOption('input-thread', 'must be true or false', s.inputThread);
  if (s.resume && !s.outDir) throw invalidOption('resume', 'needs --out DIR (where the checkpoint is)', true);
  return s;
}
