/** Scores the model on held-out rows: logloss, AUC and accuracy over all of them at once. */
import { evaluate, type EvalMetrics } from '../../core/metrics.js';
import type { FeatureBatch } from '../../core/schema.js';
import type { Dlrm } from '../../model/types.js';
import { batchRows } from '../../stages/batcher.js';

/** `rows` holds at most `count` labeled rows; null when there are none. */
export async function evaluateRows(model: Dlrm, rows: AsyncIterable<FeatureBatch>, count: number, batchSize: number): Promise<EvalMetrics | null> {
  if (count <= 0) return null;
  const labels = new Float32Array(count);
  const probs = new Float32Array(count);
  let o = 0;
  for await (const b of batchRows(rows, { batchSize })) {
    const p = await model.predict(b);
    labels.set(b.label!, o);
    probs.set(p.subarray(0, b.rows), o);
    o += b.rows;
  }
  return o === 0 ? null : evaluate(labels.subarray(0, o), probs.subarray(0, o));
}
