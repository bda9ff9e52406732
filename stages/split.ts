/**
 * Train / validation / test split by global row index, in input order and before
 * any shuffling, as DLRM holds out its last "day": test rows are never trained on,
 * whatever the seed or shuffle buffer.
 *
 * - `dlrm`: the rows form 7 equal "days" (np.array_split sizes: the first N mod 7
 *   days get one extra row); days 0-5 train; day 6 is halved with np.array_split,
 *   the first (larger) half being DLRM's test set and the second its validation
 *   set, exactly as dlrm_data_pytorch.py does.
 * - `dlrm-terabyte`: Criteo Terabyte's day files, as DLRM's memory-map loader
 *   splits them: every day but the last trains; the last day (day_23) is halved,
 *   the first ceil(n/2) rows the test set and the rest validation. `dlrm` on a
 *   shard directory made from two or more day_N files means this split.
 * - fractions: the last round(f N) rows are the test set, the round(v N) rows just
 *   before them the validation set.
 */
import { invalidOption, PipelineError } from '../core/errors.js';
import { emptyFeatureBatch, NUM_CAT, NUM_DENSE, type FeatureBatch } from '../core/schema.js';
import { rowsPerInput, type Manifest } from '../io/manifest.js';
import { dayNumber } from '../input/expand.js';

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

export type SplitSpec =
  | { kind: 'dlrm' }
  /** lastDayRows: rows of the last input file (filled in by resolveDaySplit from the manifest). */
  | { kind: 'dlrm-terabyte'; lastDayRows?: number }
  | { kind: 'fraction'; test: number; val: number }
  | { kind: 'none' };

export function parseSplit({ split, testFraction, valFraction }: { split?: string; testFraction?: string | number; valFraction?: string | number }): SplitSpec {
  if (split !== undefined) {
    if (split !== 'dlrm' && split !== 'dlrm-terabyte') throw invalidOption('split', 'must be "dlrm" or "dlrm-terabyte"', split);
    if (testFraction !== undefined || valFraction !== undefined) throw invalidOption('split', 'cannot be combined with --test-fraction/--val-fraction', split);
    return { kind: split };
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
  if (spec.kind === 'dlrm-terabyte') {
    const last = spec.lastDayRows;
    if (last === undefined || !Number.isInteger(last) || last < 0 || last > total) {
      throw new PipelineError('ERR_SPLIT_NEEDS_COUNT', "--split dlrm-terabyte needs the last day file's row count, which a shard directory's manifest records: preprocess the day files into shards first");
    }
    const trainEnd = total - last;
    const testEnd = trainEnd + Math.ceil(last / 2);
    return { total, train: { start: 0, end: trainEnd }, test: { start: trainEnd, end: testEnd }, val: { start: testEnd, end: total } };
  }
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
  if (total !== undefined || (spec.kind !== 'dlrm' && spec.kind !== 'dlrm-terabyte')) return total;
  throw new PipelineError('ERR_SPLIT_NEEDS_COUNT', `--split ${spec.kind} needs the total row count, which a stdin stream does not carry: preprocess into shards (their manifest records it) or use --test-fraction`, { file: input });
}

/**
 * The day-file form of DLRM's split: `dlrm-terabyte` gets the last day's row count
 * from the manifest, and `dlrm` becomes `dlrm-terabyte` when the shards were made
 * from two or more day_N files (DLRM too splits by its data set: Kaggle's one file
 * into 7 pseudo-days, Terabyte by its day files). `note` says what was chosen.
 */
export function resolveDaySplit(spec: SplitSpec, manifest: Manifest | null | undefined, input: string): { spec: SplitSpec; note?: string } {
  if (spec.kind !== 'dlrm' && spec.kind !== 'dlrm-terabyte') return { spec };
  const inputs = manifest?.config.inputs ?? [];
  const days = inputs.length >= 2 && inputs.every((f) => dayNumber(f) !== null);
  if (spec.kind === 'dlrm' && !days) return { spec };
  if (!manifest) return { spec }; // planSplit / requireTotal say what is missing
  if (inputs.length < 2) {
    throw new PipelineError('ERR_SPLIT', `--split dlrm-terabyte needs shards made from two or more day files (the last is split into test and validation); these come from ${inputs.length} input`, { file: input });
  }
  const rows = rowsPerInput(manifest);
  if (!rows) throw new PipelineError('ERR_SPLIT_NEEDS_COUNT', "--split dlrm-terabyte: the manifest does not give each input file's row count; preprocess the day files again", { file: input });
  const last = rows[rows.length - 1];
  const name = (f: string) => f.slice(f.lastIndexOf('/') + 1);
  const note =
    `split: ${spec.kind === 'dlrm' ? "inputs are day files, so DLRM's Terabyte split (--split dlrm-terabyte)" : "DLRM's Terabyte split"}: ` +
    `${inputs.length - 1} day files train (${name(inputs[0])}..${name(inputs[inputs.length - 2])}, ${manifest.rows - last} rows); ` +
    `${name(inputs[inputs.length - 1])} (${last} rows) is halved into test (${Math.ceil(last / 2)}) and validation (${Math.floor(last / 2)})`;
  return { spec: { kind: 'dlrm-terabyte', lastDayRows: last }, note };
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
