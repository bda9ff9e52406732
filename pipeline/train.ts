/**
 * The training sink: FeatureBatches (shards or an Arrow IPC stream on stdin) ->
 * split -> seeded shuffle buffer -> batcher -> DLRM steps, with evaluations,
 * metrics, checkpoints and the saved model.
 *
 * Backpressure: everything upstream of the model is a pull-based async iterable;
 * a bounded prefetch queue keeps the next few TrainBatches prepared while the
 * model steps, and the reader is not pulled beyond that bound.
 *
 * Exact resume: the batch order of an epoch is a pure function of (seed, epoch)
 * and the input, so a checkpoint holds the model state plus the data position
 * (epoch, batch index); a resume replays the epoch's prefix through the shuffle
 * buffer without training and continues bit for bit (on a deterministic backend).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { hash2 } from '../core/hash.js';
import { PipelineError, invalidOption } from '../core/errors.js';
import { NUM_CAT, NUM_DENSE, type FeatureBatch } from '../core/schema.js';
import { evaluate, type EvalMetrics } from '../core/metrics.js';
import type { Dlrm, DlrmConfig, EmbeddingSpec, LocationCodes, TrainBatch, Vocabulary } from '../model/types.js';
import { readArrowStream, readFeatureBatches, readManifest, type Manifest } from '../io/read-shards.js';
import { shuffleBatches } from '../stages/shuffle.js';
import { batchRows } from '../stages/batcher.js';
import { planSplit, requireTotal, selectRows, TailHoldback, type SplitPlan, type SplitSpec, type RowRange } from '../stages/split.js';
import { countValues, encodeVocabulary, FeatureVocabulary, IdentityVocabulary } from '../stages/vocab.js';
import { cleanTempFiles, loadCheckpoint, saveCheckpoint, saveModel, CHECKPOINT_FILE, type SavedEmbeddingSpec, type TrainCheckpoint } from '../model/checkpoint.js';

export type EmbeddingKind = 'full' | 'hashnet' | 'scma';

export interface TrainOptions {
  /** Shard directory, a single .parquet/.arrow shard, or '-' (Arrow IPC stream on stdin). */
  input: string;
  stdin?: Readable;
  embeddingDim?: number;
  bottomMlp?: number[];
  topMlp?: number[];
  learningRate?: number;
  embeddingOptimizer?: 'sgd' | 'adagrad';
  embedding?: EmbeddingKind;
  /** Fraction of the full tables' size for hashnet/scma (M = R x sum of distinct values x d). */
  compression?: number;
  memoryFloats?: number;
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
  metricsFile?: string;
  outDir?: string;
  resume?: boolean;
  /** TrainBatches prepared ahead of the model. */
  prefetch?: number;
  log?: (line: string) => void;
  /** Test hook: builds the model (default: model/dlrm.ts createDlrm). */
  createModel?: (config: DlrmConfig, opts: { backend?: string; log?: (line: string) => void; embeddingImpl?: string }) => Promise<Dlrm>;
}

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
  val: EvalMetrics | null;
  test: EvalMetrics | null;
  resumedFromStep: number | null;
}

const isPosInt = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;

/** A bounded read-ahead over an async iterable: up to `depth` items are being prepared while the consumer works. */
export async function* prefetch<T>(source: AsyncIterable<T>, depth: number): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const queue: Promise<IteratorResult<T>>[] = [];
  let done = false;
  try {
    for (;;) {
      while (!done && queue.length < depth) {
        const p = it.next();
        p.catch(() => {}); // surfaced when its turn comes
        queue.push(p);
      }
      const r = await queue.shift()!;
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
    }
  } finally {
    if (!done) await it.return?.(undefined);
  }
}

/** The Arrow IPC end-of-stream marker: continuation indicator 0xFFFFFFFF, then metadata length 0. */
const ARROW_EOS = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0);

/**
 * Passes an Arrow IPC stream's bytes through and fails if they end without the
 * end-of-stream marker. The IPC format lets a stream simply stop between messages,
 * so a producer that died mid-stream (`preprocess --to - | train --input -`) would
 * otherwise look like a shorter, valid input; our writer (io/arrow-stream.ts) writes
 * the marker only once every row is out, so its absence means the producer failed.
 * Once the reader has seen the marker it stops pulling, so the check below runs only
 * when the bytes ran out first.
 */
export async function* requireArrowEnd(source: AsyncIterable<Uint8Array | string>, where = '<stdin>'): AsyncGenerator<Uint8Array> {
  const tail = new Uint8Array(ARROW_EOS.length);
  let total = 0;
  for await (const chunk of source) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (bytes.length >= tail.length) tail.set(bytes.subarray(bytes.length - tail.length));
    else {
      tail.copyWithin(0, bytes.length);
      tail.set(bytes, tail.length - bytes.length);
    }
    total += bytes.length;
    yield bytes;
  }
  if (total === 0) throw new PipelineError('ERR_TRUNCATED_INPUT', 'the Arrow IPC stream is empty: its producer wrote nothing (did it fail?)', { file: where });
  if (total < tail.length || !tail.every((b, i) => b === ARROW_EOS[i])) {
    throw new PipelineError('ERR_TRUNCATED_INPUT', `the Arrow IPC stream stopped after ${total} bytes without its end-of-stream marker: its producer failed or was killed mid-stream, so the rows are incomplete`, { file: where });
  }
}

/** Batches of an Arrow IPC stream (stdin); a truncated or corrupt stream is a clear PipelineError. */
export async function* readCheckedArrowStream(source: AsyncIterable<Uint8Array | string>, where = '<stdin>'): AsyncGenerator<FeatureBatch> {
  let truncated: unknown;
  const bytes = (async function* () {
    try {
      yield* requireArrowEnd(source, where);
    } catch (err) {
      truncated = err;
      throw err;
    }
  })();
  try {
    yield* readArrowStream(bytes, where);
  } catch (err) {
    if (truncated) throw truncated; // the reader may have wrapped it ("not an Arrow IPC stream: ...")
    if (err instanceof PipelineError) throw err;
    throw new PipelineError('ERR_INPUT', `bad Arrow IPC stream: ${(err as Error).message}`, { file: where });
  }
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : `${m}:${String(sec).padStart(2, '0')}`;
}

interface Source {
  /** A fresh pass over all rows (shards only). */
  open?: () => AsyncIterable<FeatureBatch>;
  total?: number;
  manifest?: Manifest;
  stdin: boolean;
}

async function describeInput(input: string, stdin?: Readable): Promise<Source> {
  if (input === '-') return { stdin: true };
  let stat;
  try {
    stat = await fsp.stat(input);
  } catch (err) {
    throw new PipelineError('ERR_INPUT', `cannot read input: ${(err as Error).message}`, { file: input });
  }
  const open = () => readFeatureBatches(input, stdin ? { stdin } : {});
  if (stat.isDirectory()) {
    const manifest = await readManifest(input);
    return { open, total: manifest.rows, manifest, stdin: false };
  }
  // A single shard: count its rows with one cheap pass (no manifest to ask).
  let total = 0;
  let labeled = true;
  for await (const b of open()) {
    total += b.rows;
    labeled &&= b.label !== null;
  }
  return { open, total, stdin: false };
}

function bucketsOf(manifest?: Manifest): number | number[] | null {
  const b = manifest?.config?.buckets;
  return b === undefined ? null : (b as number | number[] | null);
}

/** Everything that must match for a checkpoint to be resumed. */
function fingerprint(o: Record<string, unknown>): string {
  return JSON.stringify(o);
}

export async function train(opts: TrainOptions): Promise<TrainSummary> {
  const {
    input,
    stdin,
    embeddingDim = 16,
    bottomMlp = [NUM_DENSE, 64, embeddingDim],
    topMlp = [64, 1],
    learningRate = 0.1,
    embeddingOptimizer = 'sgd',
    embedding: kind = 'scma',
    compression,
    memoryFloats,
    mapping: mappingFile,
    mappingSample,
    minCount = 1,
    batchSize = 128,
    testBatchSize = 4096,
    epochs = 1,
    printFreq = 100,
    testFreq = 0,
    checkpointFreq = 1000,
    split = { kind: 'none' },
    shuffleBuffer = 10_000,
    seed = 0,
    backend,
    embeddingImpl,
    metricsFile,
    outDir,
    resume = false,
    prefetch: depth = 2,
    log = (line: string) => process.stderr.write(line + '\n'),
  } = opts;

  // ---- options, all checked before anything is read or written ----
  if (!['full', 'hashnet', 'scma'].includes(kind)) throw invalidOption('embedding', 'must be full, hashnet or scma', kind);
  if (compression !== undefined && !(typeof compression === 'number' && compression > 0 && compression <= 1)) throw invalidOption('compression', 'must be in (0, 1]', compression);
  if (memoryFloats !== undefined && !isPosInt(memoryFloats)) throw invalidOption('memory-floats', 'must be a positive integer', memoryFloats);
  if (compression !== undefined && memoryFloats !== undefined) throw invalidOption('memory-floats', 'cannot be combined with --compression', memoryFloats);
  if (kind === 'full' && (compression !== undefined || memoryFloats !== undefined)) throw invalidOption('embedding', '--compression/--memory-floats apply to hashnet and scma, not full tables', kind);
  if (mappingFile !== undefined && kind !== 'scma') throw invalidOption('mapping', 'applies to --embedding scma only', mappingFile);
  for (const [name, v] of [['mini-batch-size', batchSize], ['test-mini-batch-size', testBatchSize], ['nepochs', epochs], ['print-freq', printFreq], ['checkpoint-freq', checkpointFreq], ['prefetch', depth], ['min-count', minCount]] as const) {
    if (!isPosInt(v)) throw invalidOption(name, 'must be a positive integer', v);
  }
  if (!(Number.isSafeInteger(testFreq) && testFreq >= 0)) throw invalidOption('test-freq', 'must be a non-negative integer (0: evaluate at the end only)', testFreq);
  if (resume && !outDir) throw invalidOption('resume', 'needs --out DIR (where the checkpoint is)', true);
  const compressionRate = kind === 'full' ? undefined : memoryFloats === undefined ? compression ?? 1 / 16 : undefined;

  const createModel = opts.createModel ?? (async (c, o) => (await import('../model/dlrm.js')).createDlrm(c, o));

  // ---- the input and its split ----
  const src = await describeInput(input, stdin);
  const total = requireTotal(split, src.total, input);
  if (src.manifest && !src.manifest.labeled) throw new PipelineError('ERR_INPUT', 'input has no label column: train needs labeled rows', { file: input });
  let plan: SplitPlan | undefined = total !== undefined ? planSplit(split, total) : undefined;
  if (plan && plan.train.end - plan.train.start === 0) {
    throw new PipelineError('ERR_EMPTY_INPUT', total === 0 ? 'input has no rows' : `no training rows: all ${total} rows are held out by the split`, { file: input });
  }
  if (src.stdin && epochs > 1) log(`train: input is a stdin stream, read once: one epoch (--nepochs ${epochs} ignored)`);
  const nEpochs = src.stdin ? 1 : epochs;
  const trainRows = () => selectRows(src.open!(), plan!.train);

  if (outDir && !resume) {
    const existing = await loadCheckpoint(outDir).catch(() => null);
    if (existing) throw new PipelineError('ERR_OUT_EXISTS', `holds a checkpoint (step ${existing.step}): pass --resume to continue it, or choose another --out`, { file: outDir });
  }

  // ---- embedding spec: vocabulary / counts / mapping from the training rows ----
  const buckets = bucketsOf(src.manifest);
  let spec: EmbeddingSpec;
  let saved: SavedEmbeddingSpec;
  let extraFiles: Record<string, Uint8Array> = {};
  let memory: number | null = null;
  const needCounts = (kind === 'full' && buckets === null) || compressionRate !== undefined;
  let distinct: number[] | undefined;
  let vocab: FeatureVocabulary | undefined;
  if (needCounts) {
    if (src.stdin) {
      throw new PipelineError(
        'ERR_NEEDS_PASS',
        kind === 'full'
          ? '--embedding full on a stdin stream needs bucketed ids (preprocess --buckets N) or shards: its vocabulary is a count pass over the training rows before training'
          : `--compression on a stdin stream needs the per-feature value counts, a pass before training: give --memory-floats M instead, or read shards`,
        { file: input },
      );
    }
    const t0 = Date.now();
    const counter = await countValues(trainRows());
    distinct = counter.distinct();
    if (kind === 'full') vocab = counter.vocabulary({ minCount });
    log(`train: counted values of ${counter.rows} training rows in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${distinct.reduce((a, b) => a + b, 0)} distinct (feature, value) pairs`);
  }
  if (kind === 'full') {
    let v: Vocabulary;
    if (buckets !== null) {
      v = new IdentityVocabulary(buckets);
      saved = { kind, dim: embeddingDim, vocab: { kind: 'identity', buckets: buckets as never } };
    } else {
      v = vocab!;
      extraFiles = { 'vocab.bin': new Uint8Array(encodeVocabulary(vocab!).buffer) };
      saved = { kind, dim: embeddingDim, vocab: { kind: 'table', file: 'vocab.bin', minCount } };
    }
    spec = { kind: 'full', vocab: v };
  } else {
    memory = memoryFloats ?? Math.max(1, Math.round(compressionRate! * distinct!.reduce((a, b) => a + b, 0) * embeddingDim));
    let codes: LocationCodes;
    if (kind === 'hashnet') {
      const { hashNetCodes } = await import('../scma/codes.js');
      codes = hashNetCodes(embeddingDim, seed);
      saved = { kind, dim: embeddingDim, memoryFloats: memory, hashSeed: seed };
    } else if (mappingFile !== undefined) {
      const { loadMapping } = await import('../scma/mapping-file.js');
      const m = await loadMapping(mappingFile, { dim: embeddingDim });
      if (m.dim !== embeddingDim) throw new PipelineError('ERR_MAPPING_DIM', `mapping has d=${m.dim} but the model's --arch-sparse-feature-size is ${embeddingDim}`, { file: mappingFile });
      codes = m;
      saved = { kind, dim: embeddingDim, memoryFloats: memory, mapping: { file: path.resolve(mappingFile), meta: m.meta } };
    } else {
      if (src.stdin) throw new PipelineError('ERR_NEEDS_PASS', '--embedding scma on a stdin stream needs --mapping FILE (bin/pipeline minhash builds one): building it is a pass before training', { file: input });
      const { buildMapping } = await import('../scma/reduce.js');
      const t0 = Date.now();
      log(`train: no --mapping given: building the SCMA MinHash mapping from the ${plan!.train.end} training rows (d=${embeddingDim}, seed ${seed})`);
      const m = await buildMapping(trainRows(), { dim: embeddingDim, seed, totalRows: plan!.train.end, ...(mappingSample ? { sample: mappingSample } : {}) });
      log(`train: mapping built in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${m.meta.values} values from ${m.meta.sampledRows} sampled rows`);
      codes = m;
      saved = { kind, dim: embeddingDim, memoryFloats: memory, mapping: { file: 'mapping.arrow', meta: m.meta } };
      if (outDir) {
        // Kept beside the model so predict (and a resume) use exactly these codes.
        const { writeMapping } = await import('../scma/mapping-file.js');
        await fsp.mkdir(path.join(outDir, 'model'), { recursive: true });
        await writeMapping(path.join(outDir, 'model', 'mapping.arrow'), m);
      }
    }
    spec = { kind, memoryFloats: memory, codes };
  }

  const config: DlrmConfig = { embeddingDim, bottomMlp, topMlp, embedding: spec, learningRate, embeddingOptimizer, seed };
  // distinct: the per-feature counts of the training rows; a changed input (same row count) is refused on resume.
  const fp = fingerprint({ input: path.resolve(input), total, distinct: distinct ?? null, embeddingDim, bottomMlp, topMlp, learningRate, embeddingOptimizer, kind, memory, mappingFile: mappingFile ?? null, minCount, batchSize, split, shuffleBuffer, seed });

  // ---- checkpoint: refuse to clobber, or resume ----
  let ck: TrainCheckpoint | null = null;
  if (outDir) {
    await cleanTempFiles(outDir);
    const existing = await loadCheckpoint(outDir);
    if (existing && !resume) throw new PipelineError('ERR_OUT_EXISTS', `holds a checkpoint (step ${existing.step}): pass --resume to continue it, or choose another --out`, { file: outDir });
    if (existing && existing.fingerprint !== fp) throw new PipelineError('ERR_RESUME_MISMATCH', 'the checkpoint was written with other settings (input, architecture, embedding, batch size, split, shuffle or seed): resume with the same ones', { file: path.join(outDir, CHECKPOINT_FILE) });
    if (resume && !existing) log(`train: --resume: no checkpoint in ${outDir} yet, starting from step 0`);
    ck = existing;
  }

  const model = await createModel(config, { backend, log, ...(embeddingImpl ? { embeddingImpl } : {}) });
  try {
    let step = 0;
    let startEpoch = 0;
    let skipBatches = 0;
    let rowsDone = 0;
    let lossSum = 0;
    let lossCount = 0;
    let metricsBytes = 0;
    let lastLoss: number | null = null;
    if (ck) {
      model.importState(ck.model);
      step = ck.step;
      startEpoch = ck.position.epoch;
      skipBatches = ck.position.batchInEpoch;
      rowsDone = ck.position.rowsConsumed;
      if (ck.progress) ({ lossSum, lossCount, metricsBytes, lastLoss } = ck.progress);
      log(`train: resuming from step ${step} (epoch ${startEpoch + 1}, batch ${skipBatches})`);
    }

    // Metrics lines after the checkpoint were written by the killed run: drop them, they will be written again.
    let metricsFh: fsp.FileHandle | null = null;
    const metric = async (obj: Record<string, unknown>) => {
      if (!metricsFile) return;
      if (!metricsFh) {
        if (ck) {
          await fsp.truncate(metricsFile, metricsBytes).catch(() => {});
          metricsFh = await fsp.open(metricsFile, 'a');
        } else metricsFh = await fsp.open(metricsFile, 'w');
      }
      const line = JSON.stringify(obj) + '\n';
      await metricsFh.write(line);
      metricsBytes += Buffer.byteLength(line);
    };

    const trainCount = plan ? plan.train.end - plan.train.start : undefined;
    const stepsPerEpoch = trainCount !== undefined ? Math.ceil(trainCount / batchSize) : undefined;
    const totalSteps = stepsPerEpoch !== undefined ? stepsPerEpoch * nEpochs : undefined;
    const shuffleSeed = (epoch: number) => hash2(seed, epoch, 0x5eed5eed);

    // stdin: the split of an unknown-length stream holds back its tail until the end.
    let holdback: TailHoldback | undefined;
    let heldOut: { val: FeatureBatch; test: FeatureBatch } | undefined;
    if (src.stdin && split.kind === 'fraction') holdback = new TailHoldback(split);
    let stdinRows = 0;
    async function* stdinTrainRows(): AsyncGenerator<FeatureBatch> {
      for await (const b of readCheckedArrowStream(stdin ?? process.stdin)) {
        if (b.label === null) throw new PipelineError('ERR_INPUT', 'input has no label column: train needs labeled rows', { file: '<stdin>' });
        stdinRows += b.rows;
        const r = holdback ? holdback.push(b) : b;
        if (r && r.rows > 0) yield r;
      }
      if (holdback) {
        const end = holdback.finish();
        heldOut = { val: end.val, test: end.test };
        plan = end.plan;
        if (end.train && end.train.rows > 0) yield end.train;
      } else plan = planSplit({ kind: 'none' }, stdinRows);
    }

    const epochBatches = (epoch: number): AsyncIterable<TrainBatch> => {
      const rows = src.stdin ? stdinTrainRows() : (async function* () {
        for await (const b of trainRows()) {
          if (b.label === null) throw new PipelineError('ERR_INPUT', 'input has no label column: train needs labeled rows', { file: input });
          yield b;
        }
      })();
      return batchRows(shuffleBatches(rows, { capacity: shuffleBuffer, seed: shuffleSeed(epoch) }), { batchSize });
    };

    const evalRange = async (range: RowRange, inMemory?: FeatureBatch): Promise<EvalMetrics | null> => {
      if (range.end <= range.start) return null;
      const rows = range.end - range.start;
      const labels = new Float32Array(rows);
      const probs = new Float32Array(rows);
      let o = 0;
      const source = inMemory ? [inMemory] : selectRows(src.open!(), range);
      for await (const b of batchRows(source, { batchSize: testBatchSize })) {
        const p = await model.predict(b);
        labels.set(b.label!, o);
        probs.set(p.subarray(0, b.rows), o);
        o += b.rows;
      }
      return evaluate(labels.subarray(0, o), probs.subarray(0, o));
    };
    let lastVal: EvalMetrics | null = null;
    let lastTest: EvalMetrics | null = null;
    const runEval = async (epoch: number, final: boolean) => {
      if (!plan) return;
      const t0 = Date.now();
      lastVal = await evalRange(plan.val, heldOut?.val);
      lastTest = await evalRange(plan.test, heldOut?.test);
      for (const [name, m] of [['val', lastVal], ['test', lastTest]] as const) {
        if (!m) continue;
        await metric({ type: 'eval', split: name, step, epoch: epoch + 1, final, ...m });
        log(`eval ${name} step ${step}: logloss ${m.logloss.toFixed(5)} auc ${m.auc.toFixed(5)} accuracy ${m.accuracy.toFixed(5)} (${m.rows} rows, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      }
    };

    const checkpoint = async (epoch: number, batchInEpoch: number) => {
      if (!outDir) return;
      const state = await model.exportState();
      const c = { version: 1 as const, fingerprint: fp, step, position: { epoch, batchInEpoch, rowsConsumed: rowsDone }, rng: { seed, shuffleSeed: shuffleSeed(epoch) }, model: state, progress: { lossSum, lossCount, metricsBytes, lastLoss } };
      if (metricsFh) await (metricsFh as fsp.FileHandle).sync();
      await saveCheckpoint(outDir, c);
    };

    const divergedAt = (loss: number, at: number, epoch: number) =>
      new PipelineError(
        'ERR_NAN_LOSS',
        `training loss became ${loss} at step ${at} (epoch ${epoch + 1}): the model diverged; lower --learning-rate${outDir ? `; the checkpoint in ${outDir} stays at the last good one` : ''}`,
      );
    // Models that run ahead of the host (the fused WebGPU step) accumulate the loss on the device.
    const runAhead = typeof model.queueStep === 'function' && typeof model.takeLoss === 'function';
    let lossPending = 0;
    const takeLoss = async (epoch: number) => {
      if (!runAhead || lossPending === 0) return;
      let r: { mean: number; steps: number };
      try {
        r = await model.takeLoss!();
      } catch (err) {
        if ((err as PipelineError).code === 'ERR_NAN_LOSS') throw divergedAt(NaN, step, epoch);
        throw err;
      }
      lossSum += r.mean * r.steps;
      lossCount += r.steps;
      lastLoss = r.mean;
      lossPending = 0;
    };

    const t0 = Date.now();
    let windowStart = Date.now();
    let windowRows = 0;
    const resumedFrom = ck ? ck.step : null;
    let epoch = startEpoch;
    for (; epoch < nEpochs; epoch++) {
      let batchInEpoch = 0;
      const skip = epoch === startEpoch ? skipBatches : 0;
      for await (const batch of prefetch(epochBatches(epoch), depth)) {
        if (batchInEpoch < skip) {
          batchInEpoch++;
          continue; // replaying the prefix a checkpoint already trained on
        }
        if (runAhead) {
          // No read-back per step: the loss is read at print, evaluation and checkpoint time.
          await model.queueStep!(batch);
          lossPending++;
        } else {
          const loss = await model.trainStep(batch);
          if (!Number.isFinite(loss)) throw divergedAt(loss, step + 1, epoch);
          lossSum += loss;
          lossCount++;
          lastLoss = loss;
        }
        step++;
        batchInEpoch++;
        rowsDone += batch.rows;
        windowRows += batch.rows;
        const due = step % printFreq === 0 || (testFreq > 0 && step % testFreq === 0) || step % checkpointFreq === 0;
        if (due) await takeLoss(epoch);
        if (step % printFreq === 0) {
          const now = Date.now();
          const rate = windowRows / Math.max(1e-3, (now - windowStart) / 1000);
          const mean = lossSum / lossCount;
          const eta = totalSteps !== undefined ? ` ETA ${fmtDuration(((totalSteps - step) * batchSize) / rate)}` : '';
          log(`step ${step}${totalSteps !== undefined ? `/${totalSteps}` : ''} epoch ${epoch + 1}/${nEpochs} loss ${mean.toFixed(5)} ${Math.round(rate)} samples/s${eta}`);
          await metric({ type: 'train', step, epoch: epoch + 1, loss: mean, samplesPerSecond: rate });
          lossSum = 0;
          lossCount = 0;
          windowStart = now;
          windowRows = 0;
        }
        // The last step's evaluation is the final one, below.
        if (testFreq > 0 && step % testFreq === 0 && !src.stdin && step !== totalSteps) await runEval(epoch, false);
        if (step % checkpointFreq === 0) await checkpoint(epoch, batchInEpoch);
      }
      if (step === 0 && epoch === 0) throw new PipelineError('ERR_EMPTY_INPUT', 'input has no training rows', { file: input });
    }
    await takeLoss(nEpochs - 1);

    // Checkpoint before the final evaluation: a run killed during it resumes here and
    // writes the evaluation lines once.
    await checkpoint(nEpochs, 0);
    await runEval(nEpochs - 1, true);
    if (outDir) {
      const state = await model.exportState();
      await saveModel(path.join(outDir, 'model'), {
        state: { ...state, optimizer: [] },
        topology: { embeddingDim, bottomMlp, topMlp, interaction: 'dot', numDense: NUM_DENSE, numCat: NUM_CAT },
        embedding: saved!,
        featurize: src.manifest ? { buckets: src.manifest.config.buckets ?? null, seed: src.manifest.config.seed ?? 0 } : null,
        training: { steps: step, epochs: nEpochs, batchSize, learningRate, embeddingOptimizer, seed },
        extraFiles,
      });
    }
    const seconds = (Date.now() - t0) / 1000;
    const summary: TrainSummary = {
      type: 'summary',
      steps: step,
      epochs: nEpochs,
      trainRows: plan ? plan.train.end - plan.train.start : rowsDone,
      seconds,
      samplesPerSecond: rowsDone / Math.max(1e-3, seconds),
      backend: model.backend,
      embedding: kind,
      memoryFloats: memory,
      distinctValues: distinct ? distinct.reduce((a, b) => a + b, 0) : null,
      finalTrainLoss: lastLoss,
      val: lastVal,
      test: lastTest,
      resumedFromStep: resumedFrom,
    };
    await metric(summary as unknown as Record<string, unknown>);
    if (metricsFh) await (metricsFh as fsp.FileHandle).close();
    return summary;
  } finally {
    model.dispose();
  }
}
