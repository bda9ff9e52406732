/**
 * The training loop: epochs of shuffled batches into the model, with progress lines,
 * periodic evaluations, checkpoints and the metrics file.
 *
 * Backpressure: everything upstream of the model is a pull-based async iterable; a
 * bounded prefetch queue keeps the next few TrainBatches prepared while the model
 * steps, and the reader is not pulled beyond that bound.
 *
 * Exact resume: the batch order of an epoch is a pure function of (seed, epoch) and
 * the input, so a checkpoint holds the model state plus the data position (epoch,
 * batch index); a resume replays the epoch's prefix through the shuffle buffer
 * without training and continues bit for bit (on a deterministic backend).
 */
import { hash2 } from '../../core/hash.js';
import { scheduledLr } from '../../core/lr-schedule.js';
import { PipelineError } from '../../core/errors.js';
import type { EvalMetrics } from '../../core/metrics.js';
import { saveCheckpoint, type TrainCheckpoint } from '../../model/checkpoint.js';
import type { Dlrm, TrainBatch } from '../../model/types.js';
import { shuffledTrainBatches } from '../../stages/shuffle-batcher.js';
import { evaluateRows } from './evaluation.js';
import { MetricsFile } from './metrics-file.js';
import type { TrainSettings } from './options.js';
import { inputThreadAvailable, threadedTrainBatches } from './input-thread.js';
import { prefetch } from './prefetch.js';
import type { TrainSource } from './source.js';

export interface LoopResult {
  steps: number;
  epochs: number;
  /** Training rows stepped by this run and the runs it resumed. */
  rowsDone: number;
  seconds: number;
  /** Seconds the loop waited for its next batch (the input path), and seconds in the loop (see TrainSummary). */
  inputWaitSeconds: number;
  trainSeconds: number;
  lastLoss: number | null;
  val: EvalMetrics | null;
  test: EvalMetrics | null;
  metrics: MetricsFile;
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : `${m}:${String(sec).padStart(2, '0')}`;
}

const shuffleSeed = (seed: number, epoch: number) => hash2(seed, epoch, 0x5eed5eed);

/**
 * Batches the input thread may have in flight: about 64k rows' worth (4 to 32 batches).
 * The worker produces in bursts (a shard decoded and checked, then its batches), so a
 * queue of 2 left the loop waiting at each shard: on an H200, 2.2 s of a 6.2 s epoch.
 */
function threadDepth(batchSize: number, prefetch: number): number {
  return Math.max(prefetch, Math.min(32, Math.max(4, Math.ceil(65536 / batchSize))));
}

/**
 * Runs the epochs (from `ck`'s position when resuming) and the final evaluation.
 * The metrics file is left open for the caller's summary line.
 */
export async function trainingLoop(model: Dlrm, source: TrainSource, s: TrainSettings, ck: TrainCheckpoint | null, fp: string, onCheckpoint: (step: number) => void = () => {}): Promise<LoopResult> {
  const { batchSize, printFreq, testFreq, checkpointFreq, seed, outDir, log } = s;
  const nEpochs = source.stdin ? 1 : s.epochs;
  let step = 0;
  let startEpoch = 0;
  let skipBatches = 0;
  let rowsDone = 0;
  let lossSum = 0;
  let lossCount = 0;
  let lastLoss: number | null = null;
  if (ck) {
    model.importState(ck.model);
    step = ck.step;
    startEpoch = ck.position.epoch;
    skipBatches = ck.position.batchInEpoch;
    rowsDone = ck.position.rowsConsumed;
    if (ck.progress) ({ lossSum, lossCount, lastLoss } = ck.progress);
    log(`train: resuming from step ${step} (epoch ${startEpoch + 1}, batch ${skipBatches})`);
  }
  const metrics = new MetricsFile(s.metricsFile, ck ? ck.progress?.metricsBytes ?? 0 : null);

  const initialPlan = source.plan();
  const stepsPerEpoch = initialPlan ? Math.ceil((initialPlan.train.end - initialPlan.train.start) / batchSize) : undefined;
  const totalSteps = stepsPerEpoch !== undefined ? stepsPerEpoch * nEpochs : undefined;

  // Shards are read, shuffled and batched on a worker thread when it can start (the
  // same batches in the same order); stdin, and a bundle without the worker's file, in this thread.
  const threaded = s.inputThread && source.shards !== undefined && inputThreadAvailable();
  if (s.inputThread && source.shards && !threaded) log('train: the input worker thread is not available here; reading shards on the main thread');
  const epochBatches = (epoch: number): AsyncIterable<TrainBatch> =>
    threaded
      ? threadedTrainBatches({ input: source.shards!.input, range: source.shards!.train, verify: s.verify, capacity: s.shuffleBuffer, seed: shuffleSeed(seed, epoch), batchSize }, threadDepth(batchSize, s.prefetch))
      : shuffledTrainBatches(source.epochRows(), { capacity: s.shuffleBuffer, seed: shuffleSeed(seed, epoch), batchSize });

  let lastVal: EvalMetrics | null = null;
  let lastTest: EvalMetrics | null = null;
  const runEval = async (epoch: number, final: boolean) => {
    const plan = source.plan();
    if (!plan) return;
    const t0 = Date.now();
    lastVal = await evaluateRows(model, source.heldOutRows('val'), plan.val.end - plan.val.start, s.testBatchSize);
    lastTest = await evaluateRows(model, source.heldOutRows('test'), plan.test.end - plan.test.start, s.testBatchSize);
    for (const [name, m] of [['val', lastVal], ['test', lastTest]] as const) {
      if (!m) continue;
      await metrics.write({ type: 'eval', split: name, step, epoch: epoch + 1, final, ...m });
      log(`eval ${name} step ${step}: logloss ${m.logloss.toFixed(5)} auc ${m.auc.toFixed(5)} accuracy ${m.accuracy.toFixed(5)} (${m.rows} rows, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  };

  const checkpoint = async (epoch: number, batchInEpoch: number) => {
    if (!outDir) return;
    const state = await model.exportState();
    await metrics.sync();
    await saveCheckpoint(outDir, {
      version: 1,
      fingerprint: fp,
      step,
      position: { epoch, batchInEpoch, rowsConsumed: rowsDone },
      rng: { seed, shuffleSeed: shuffleSeed(seed, epoch) },
      model: state,
      progress: { lossSum, lossCount, metricsBytes: metrics.bytes, lastLoss },
    });
    onCheckpoint(step);
  };

  // Models that run ahead of the host (the fused WebGPU step) accumulate the loss on
  // the device; it is read at print, evaluation and checkpoint time only.
  const runAhead = typeof model.queueStep === 'function' && typeof model.takeLoss === 'function';
  let lossPending = 0;
  const takeLoss = async (epoch: number) => {
    if (!runAhead || lossPending === 0) return;
    let r: { mean: number; steps: number };
    try {
      r = await model.takeLoss!();
    } catch (err) {
      if ((err as PipelineError).code === 'ERR_NAN_LOSS') {
        throw new PipelineError(
          'ERR_NAN_LOSS',
          `training loss became NaN by step ${step} (epoch ${epoch + 1}): the model diverged; lower --learning-rate${outDir ? `; the checkpoint in ${outDir} stays at the last good one` : ''}`,
        );
      }
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
  // Progress by time (s.progress): a line whenever intervalMs passed without one, so a
  // run whose --print-freq is larger than its step count still says where it is.
  const progressMs = s.progress?.intervalMs;
  let lastLine = Date.now();
  let pStart = Date.now();
  let pRows = 0;
  const { warmupSteps, decaySteps } = s.lrSchedule;
  const scheduled = warmupSteps > 0 || decaySteps > 0;
  const line = (epoch: number, loss: number, rate: number) =>
    `step ${step}${totalSteps !== undefined ? `/${totalSteps}` : ''} epoch ${epoch + 1}/${nEpochs} loss ${loss.toFixed(5)} ${Math.round(rate)} samples/s` +
    (totalSteps !== undefined ? ` ETA ${fmtDuration(((totalSteps - step) * batchSize) / rate)}` : '') +
    (scheduled ? ` lr ${Number(scheduledLr(s.learningRate, step, s.lrSchedule).toPrecision(4))}` : '');
  let inputWaitMs = 0;
  let loopMs = 0;
  for (let epoch = startEpoch; epoch < nEpochs; epoch++) {
    let batchInEpoch = 0;
    const skip = epoch === startEpoch ? skipBatches : 0;
    let asked = performance.now();
    const epochStart = asked;
    for await (const batch of prefetch(epochBatches(epoch), s.prefetch)) {
      inputWaitMs += performance.now() - asked;
      if (batchInEpoch < skip) {
        batchInEpoch++;
        asked = performance.now();
        continue; // replaying the prefix a checkpoint already trained on
      }
      // DLRM's schedule: the rate of step k (1-based) is a function of k alone, so a resume
      // gets the same rates. A run-ahead model (the fused step) takes the rate with the
      // step it queues, so setting it before queueStep is enough.
      if (scheduled) model.setLearningRate?.(scheduledLr(s.learningRate, step + 1, s.lrSchedule));
      if (runAhead) {
        await model.queueStep!(batch);
        lossPending++;
      } else {
        // A non-finite loss throws ERR_NAN_LOSS inside trainStep, before any checkpoint records it.
        const loss = await model.trainStep(batch);
        lossSum += loss;
        lossCount++;
        lastLoss = loss;
      }
      step++;
      batchInEpoch++;
      rowsDone += batch.rows;
      windowRows += batch.rows;
      pRows += batch.rows;
      const progressDue = progressMs !== undefined && Date.now() - lastLine >= progressMs;
      if (step % printFreq === 0 || (testFreq > 0 && step % testFreq === 0) || step % checkpointFreq === 0 || progressDue) await takeLoss(epoch);
      if (step % printFreq === 0) {
        const now = Date.now();
        const rate = windowRows / Math.max(1e-3, (now - windowStart) / 1000);
        const mean = lossSum / lossCount;
        log(line(epoch, mean, rate));
        await metrics.write({ type: 'train', step, epoch: epoch + 1, loss: mean, samplesPerSecond: rate });
        lossSum = 0;
        lossCount = 0;
        windowStart = lastLine = pStart = now;
        windowRows = pRows = 0;
      } else if (progressDue) {
        // The mean loss since the last --print-freq line; the rate since the last line of either kind.
        const now = Date.now();
        log(line(epoch, lossSum / Math.max(1, lossCount), pRows / Math.max(1e-3, (now - pStart) / 1000)));
        lastLine = pStart = now;
        pRows = 0;
      }
      // The last step's evaluation is the final one, below; a stdin stream has no held-out rows until it ends.
      if (testFreq > 0 && step % testFreq === 0 && !source.stdin && step !== totalSteps) await runEval(epoch, false);
      if (step % checkpointFreq === 0) await checkpoint(epoch, batchInEpoch);
      asked = performance.now();
    }
    loopMs += performance.now() - epochStart;
    if (step === 0 && epoch === 0) throw new PipelineError('ERR_EMPTY_INPUT', 'input has no training rows', { file: source.input });
  }
  await takeLoss(nEpochs - 1);

  // Checkpoint before the final evaluation: a run killed during it resumes here and
  // writes the evaluation lines once.
  await checkpoint(nEpochs, 0);
  await runEval(nEpochs - 1, true);
  return { steps: step, epochs: nEpochs, rowsDone, seconds: (Date.now() - t0) / 1000, inputWaitSeconds: +(inputWaitMs / 1000).toFixed(3), trainSeconds: +(loopMs / 1000).toFixed(3), lastLoss, val: lastVal, test: lastTest, metrics };
}
