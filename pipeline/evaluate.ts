/**
 * evaluateModel(): AUC (exact, ties count half), logloss and accuracy of a model
 * saved by `train --out` on labelled rows: shards, raw TSV (featurized with the
 * model's training settings) or stdin, the same inputs predict reads.
 */
import type { Readable } from 'node:stream';
import { PipelineError, invalidOption } from '../core/errors.js';
import { evaluate, type EvalMetrics } from '../core/metrics.js';
import { Progress } from '../core/progress.js';
import { restoreDlrm } from '../model/saved-model.js';
import { batchRows } from '../stages/batcher.js';
import { openPredictSource } from './predict.js';

export interface EvaluateOptions {
  model: string;
  input: string;
  batchSize?: number;
  backend?: string;
  stdin?: Readable;
  log?: (l: string) => void;
  progress?: { write: (line: string) => void; intervalMs?: number };
}

export async function evaluateModel(opts: EvaluateOptions): Promise<EvalMetrics & { positives: number }> {
  const { batchSize = 4096, log = (l: string) => process.stderr.write(l + '\n') } = opts;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw invalidOption('mini-batch-size', 'must be a positive integer', batchSize);
  const { model, featurize } = await restoreDlrm(opts.model, { backend: opts.backend ?? 'auto', log });
  const progress = opts.progress ? new Progress({ label: 'evaluate', ...opts.progress }) : undefined;
  try {
    const source = await openPredictSource({ input: opts.input, labeled: true, stdin: opts.stdin }, featurize);
    // Growing arrays: the row count of a TSV or a stream is known only at its end.
    let labels = new Uint8Array(1 << 16);
    let probs = new Float32Array(1 << 16);
    let n = 0;
    for await (const b of batchRows(source, { batchSize })) {
      if (!b.label) throw new PipelineError('ERR_INPUT', 'rows have no label: evaluate needs labelled rows (use predict for unlabelled ones)', { file: opts.input });
      const p = await model.predict(b);
      if (n + b.rows > labels.length) {
        const cap = Math.max(labels.length * 2, n + b.rows);
        const l2 = new Uint8Array(cap);
        l2.set(labels.subarray(0, n));
        const p2 = new Float32Array(cap);
        p2.set(probs.subarray(0, n));
        labels = l2;
        probs = p2;
      }
      labels.set(b.label.subarray(0, b.rows), n);
      probs.set(p.subarray(0, b.rows), n);
      n += b.rows;
      progress?.tick(n);
    }
    if (n === 0) throw new PipelineError('ERR_EMPTY_INPUT', 'input has no rows', { file: opts.input });
    let positives = 0;
    for (let i = 0; i < n; i++) positives += labels[i];
    return { ...evaluate(labels.subarray(0, n), probs.subarray(0, n)), positives };
  } finally {
    model.dispose();
  }
}
