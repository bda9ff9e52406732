/**
 * Train / validation / test split by global row index, in input order and before
 * any shuffling, as DLRM holds out its last "day": test rows are never trained on,
 * whatever the seed or shuffle buffer.
 *
 * - `dlrm`: the rows form 7 equal "days" (np.array_split sizes: the first N mod 7
 *   days get one extra row); days 0-5 train; day 6 is halved with np.array_split,
 *   the first (larger) half being DLRM's test set and the second its validation
 *   set, exactly as dlrm_data_pytorch.py does.
 * - fractions: the last round(f N) rows are the test set, the round(v N) rows just
 *   before them the validation set.
 */
import { invalidOption, PipelineError } from '../core/errors.js';
import { emptyFeatureBatch, NUM_CAT, NUM_DENSE, type FeatureBatch } from '../core/schema.js';

export interface RowRange {
  start: number;
  end: number;
}

export interface SplitPlan {
  total: number;
  train: RowRange;
  val: RowRange;
  test: RowRange;
}

export type SplitSpec = { kind: 'dlrm' } | { kind: 'fraction'; test: number; val: number } | { kind: 'none' };

export function parseSplit({ split, testFraction, valFraction }: { split?: string; testFraction?: string | number; valFraction?: string | number }): SplitSpec {
  if (split !== undefined) {
    if (split !== 'dlrm') throw invalidOption('split', 'must be "dlrm"', split);
    if (testFraction !== undefined || valFraction !== undefined) throw invalidOption('split', 'cannot be combined with --test-fraction/--val-fraction', split);
    return { kind: 'dlrm' };
  }
  if (testFraction === undefined && valFraction === undefined) return { kind: 'none' };
  const frac = (name: string, v: string | number | undefined): number => {
    if (v === undefined) return 0;
    const x = typeof v === 'number' ? v : Number(v);
    if (!Number.isFinite(x) || x < 0 || x >= 1 || (typeof v === 'string' && v.trim() === '')) throw invalidOption(name, 'must be a number in [0, 1)', v);
    return x;
  };
  const test = frac('test-fraction', testFraction);
  const val = frac('val-fraction', valFraction);
  if (test + val >= 1) throw invalidOption('val-fraction', 'plus --test-fraction must be below 1', val);
  return { kind: 'fraction', test, val };
}

export function planSplit(spec: SplitSpec, total: number): SplitPlan {
  if (!Number.isInteger(total) || total < 0) throw invalidOption('rows', 'must be a non-negative integer', total);
  if (spec.kind === 'none') return { total, train: { start: 0, end: total }, val: { start: total, end: total }, test: { start: total, end: total } };
  if (spec.kind === 'dlrm') {
    const lastDay = Math.floor(total / 7);
    const trainEnd = total - lastDay;
    const testEnd = trainEnd + Math.ceil(lastDay / 2);
    return { total, train: { start: 0, end: trainEnd }, test: { start: trainEnd, end: testEnd }, val: { start: testEnd, end: total } };
  }
  const testRows = Math.round(spec.test * total);
  const valRows = Math.round(spec.val * total);
  const trainEnd = Math.max(0, total - testRows - valRows);
  return { total, train: { start: 0, end: trainEnd }, val: { start: trainEnd, end: total - testRows }, test: { start: total - testRows, end: total } };
}

/** Errors clearly when a split needs a row count the input cannot give. */
export function requireTotal(spec: SplitSpec, total: number | undefined, input: string): number | undefined {
  if (total !== undefined || spec.kind !== 'dlrm') return total;
  throw new PipelineError('ERR_SPLIT_NEEDS_COUNT', '--split dlrm needs the total row count, which a stdin stream does not carry: preprocess into shards (their manifest records it) or use --test-fraction', { file: input });
}

/** Copies rows [from, to) of a batch (subarray views: no copy of the data). */
export function sliceBatch(b: FeatureBatch, from: number, to: number): FeatureBatch {
  return {
    rows: to - from,
    label: b.label ? b.label.subarray(from, to) : null,
    dense: b.dense.map((c) => c.subarray(from, to)),
    cats: b.cats.map((c) => c.subarray(from, to)),
  };
}

/**
 * The rows of a global index range from a stream of batches; stops pulling (and so
 * closes the reader) as soon as the range is complete.
 */
export async function* selectRows(source: AsyncIterable<FeatureBatch>, range: RowRange, firstRow = 0): AsyncGenerator<FeatureBatch> {
  if (range.end <= range.start) return;
  let offset = firstRow;
  for await (const b of source) {
    const lo = Math.max(range.start, offset);
    const hi = Math.min(range.end, offset + b.rows);
    if (hi > lo) yield lo === offset && hi === offset + b.rows ? b : sliceBatch(b, lo - offset, hi - offset);
    offset += b.rows;
    if (offset >= range.end) return;
  }
}

function concatBatches(parts: FeatureBatch[], labeled: boolean): FeatureBatch {
  const rows = parts.reduce((s, p) => s + p.rows, 0);
  const out = emptyFeatureBatch(rows, labeled);
  let o = 0;
  for (const p of parts) {
    if (out.label && p.label) out.label.set(p.label.subarray(0, p.rows), o);
    for (let k = 0; k < NUM_DENSE; k++) out.dense[k].set(p.dense[k].subarray(0, p.rows), o);
    for (let k = 0; k < NUM_CAT; k++) out.cats[k].set(p.cats[k].subarray(0, p.rows), o);
    o += p.rows;
  }
  return out;
}

/**
 * Fraction split on a stream whose length is unknown (stdin): a row is released for
 * training only once enough rows followed it that it cannot belong to the held-out
 * tail, whatever the final count. Memory: the tail, about (test + val) x N rows.
 */
export class TailHoldback {
  private held: FeatureBatch[] = [];
  private heldRows = 0;
  private seen = 0;
  private released = 0;
  private labeled: boolean | null = null;
  constructor(private readonly spec: { test: number; val: number }) {}

  /** Rows now certain to be training rows. */
  push(b: FeatureBatch): FeatureBatch | null {
    if (this.labeled === null) this.labeled = b.label !== null;
    this.held.push(b);
    this.heldRows += b.rows;
    this.seen += b.rows;
    // trainEnd(N) >= N(1 - t - v) - 1 for every N >= seen, so this many rows are safe.
    const safe = Math.max(0, this.seen - Math.ceil((this.spec.test + this.spec.val) * this.seen) - 2);
    return this.take(safe - this.released);
  }

  /** At the end: the rest of the training rows, and the validation and test sets. */
  finish(): { train: FeatureBatch | null; val: FeatureBatch; test: FeatureBatch; plan: SplitPlan } {
    const plan = planSplit({ kind: 'fraction', ...this.spec }, this.seen);
    const train = this.take(plan.train.end - this.released);
    const labeled = this.labeled !== false;
    const tail = concatBatches(this.held, labeled);
    const valRows = plan.val.end - plan.val.start;
    return { train, val: sliceBatch(tail, 0, valRows), test: sliceBatch(tail, valRows, tail.rows), plan };
  }

  private take(n: number): FeatureBatch | null {
    if (n <= 0) return null;
    const parts: FeatureBatch[] = [];
    let need = n;
    while (need > 0) {
      const head = this.held[0];
      if (head.rows <= need) {
        parts.push(head);
        this.held.shift();
        need -= head.rows;
      } else {
        parts.push(sliceBatch(head, 0, need));
        this.held[0] = sliceBatch(head, need, head.rows);
        need = 0;
      }
    }
    this.heldRows -= n;
    this.released += n;
    return parts.length === 1 ? parts[0] : concatBatches(parts, this.labeled !== false);
  }
}
