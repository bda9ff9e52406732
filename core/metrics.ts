/**
 * Evaluation metrics for click prediction. AUC is exact (the Mann-Whitney U
 * statistic with tied scores counted half), not a histogram approximation: CTR
 * models produce many near-equal scores, and binning would blur exactly the
 * differences between embedding kinds that we want to measure.
 */
import { invalidOption } from './errors.js';

function checkLengths(labels: ArrayLike<number>, scores: ArrayLike<number>): void {
  if (labels.length !== scores.length) throw invalidOption('scores', `must have one score per label (${labels.length})`, scores.length);
}

/**
 * Area under the ROC curve: the probability that a random positive scores above a
 * random negative, ties counted half. O(n log n): sort once, give every group of
 * tied scores its average rank, sum the positives' ranks. NaN when a class is absent.
 */
export function exactAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  checkLengths(labels, scores);
  const n = labels.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  // Float64 copy so the comparator sees exactly the scores given, and NaN sorts first.
  const s = Float64Array.from(scores as ArrayLike<number>, (x) => (Number.isNaN(x) ? -Infinity : x));
  order.sort((a, b) => s[a] - s[b]);
  let positives = 0;
  let rankSumPos = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && s[order[j + 1]] === s[order[i]]) j++;
    // Ranks i+1 .. j+1 share their mean.
    const meanRank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]] > 0.5) {
        positives++;
        rankSumPos += meanRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSumPos - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean binary cross-entropy, probabilities clamped to [eps, 1 - eps] so a confident miss is finite. */
export function logLoss(labels: ArrayLike<number>, probs: ArrayLike<number>, eps = 1e-7): number {
  checkLengths(labels, probs);
  const n = labels.length;
  if (n === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(1 - eps, Math.max(eps, probs[i]));
    sum -= labels[i] > 0.5 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / n;
}

/**
 * Fraction of rows whose rounded probability equals the label. A probability of
 * exactly 0.5 counts as 0, as numpy's round-half-to-even does in DLRM's evaluation.
 */
export function accuracy(labels: ArrayLike<number>, probs: ArrayLike<number>): number {
  checkLengths(labels, probs);
  const n = labels.length;
  if (n === 0) return NaN;
  let hits = 0;
  for (let i = 0; i < n; i++) if ((probs[i] > 0.5 ? 1 : 0) === (labels[i] > 0.5 ? 1 : 0)) hits++;
  return hits / n;
}

export interface EvalMetrics {
  rows: number;
  logloss: number;
  auc: number;
  accuracy: number;
}

export function evaluate(labels: ArrayLike<number>, probs: ArrayLike<number>): EvalMetrics {
  return { rows: labels.length, logloss: logLoss(labels, probs), auc: exactAuc(labels, probs), accuracy: accuracy(labels, probs) };
}
