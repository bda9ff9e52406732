/**
 * Shuffle and batch in one pass: the same TrainBatches, in the same order, as
 * `batchRows(shuffleBatches(source, { capacity, seed }), { batchSize })`, without the
 * columnar batch between the two stages.
 *
 * Why: training's input path runs on the thread that drives the model, and the two
 * stages apart copied every value three times through arrays of columns (into the
 * buffer, out to a columnar batch, into the row-major TrainBatch), which profiled as
 * most of the input path's time. Here each incoming batch is transposed once to
 * row-major with column-at-a-time loops, and rows then move as short contiguous runs:
 * into a buffer slot, and from the slot straight into the mini-batch.
 *
 * The order is ShuffleBuffer's exactly (same generator, same draws): a resume that
 * replays an epoch's prefix gets the batches an uninterrupted run got.
 */
import { NUM_CAT, NUM_DENSE, type FeatureBatch, type TrainBatch } from '../core/schema.js';
import { invalidOption } from '../core/errors.js';
import { SeededRandom } from './shuffle.js';

export interface ShuffleBatcherOptions {
  /** Rows held by the shuffle buffer; 0 or 1 keeps the input order. */
  capacity?: number;
  seed?: number;
  batchSize: number;
}

/** Row-major rows: label, 13 dense and 26 categorical values per row. */
interface Rows {
  label: Uint8Array;
  dense: Float32Array;
  cats: Uint32Array;
}

function rowsOf(n: number): Rows {
  return { label: new Uint8Array(n), dense: new Float32Array(n * NUM_DENSE), cats: new Uint32Array(n * NUM_CAT) };
}

/** Columns -> row-major, a column at a time (each inner loop reads one typed array in order). */
function transposeInto(fb: FeatureBatch, out: Rows): void {
  const n = fb.rows;
  const { dense, cats } = out;
  for (let k = 0; k < NUM_DENSE; k++) {
    const col = fb.dense[k];
    for (let r = 0, o = k; r < n; r++, o += NUM_DENSE) dense[o] = col[r];
  }
  for (let k = 0; k < NUM_CAT; k++) {
    const col = fb.cats[k];
    for (let r = 0, o = k; r < n; r++, o += NUM_CAT) cats[o] = col[r];
  }
  if (fb.label) out.label.set(fb.label.subarray(0, n));
}

export class ShuffleBatcher {
  readonly capacity: number;
  readonly batchSize: number;
  private readonly rng: SeededRandom;
  private readonly slots: Rows;
  private size = 0;
  private scratch: Rows = rowsOf(0);
  private labeled: boolean | null = null;
  private current: TrainBatch | null = null;
  private filled = 0;
  private out: TrainBatch[] = [];

  constructor({ capacity = 10_000, seed = 0, batchSize }: ShuffleBatcherOptions) {
    if (!Number.isInteger(capacity) || capacity < 0) throw invalidOption('shuffle-buffer', 'must be a non-negative integer', capacity);
    if (!Number.isInteger(seed)) throw invalidOption('seed', 'must be an integer', seed);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw invalidOption('mini-batch-size', 'must be a positive integer', batchSize);
    this.capacity = capacity;
    this.batchSize = batchSize;
    this.rng = new SeededRandom(seed);
    this.slots = rowsOf(capacity > 1 ? capacity : 0);
  }

  /** The full mini-batches this input completes (rows may stay buffered). */
  push(fb: FeatureBatch): TrainBatch[] {
    const labeled = fb.label !== null;
    if (this.labeled === null) this.labeled = labeled;
    else if (this.labeled !== labeled) throw invalidOption('input', 'must be all labeled or all unlabeled', labeled ? 'a labeled batch after unlabeled ones' : 'an unlabeled batch after labeled ones');
    const n = fb.rows;
    if (this.scratch.label.length < n) this.scratch = rowsOf(n);
    const src = this.scratch;
    transposeInto(fb, src);
    if (this.capacity <= 1) {
      for (let i = 0; i < n; i++) this.emit(src, i);
    } else {
      const cap = this.capacity;
      for (let i = 0; i < n; i++) {
        if (this.size < cap) {
          copyRow(src, i, this.slots, this.size++);
          continue;
        }
        const j = this.rng.int(cap);
        this.emit(this.slots, j);
        copyRow(src, i, this.slots, j);
      }
    }
    return this.take();
  }

  /** End of input: the buffered rows in ShuffleBuffer.flush's order, then the partial last batch. */
  flush(): TrainBatch[] {
    const n = this.size;
    for (let k = n - 1; k >= 0; k--) {
      const j = this.rng.int(k + 1);
      this.emit(this.slots, j);
      if (j !== k) copyRow(this.slots, k, this.slots, j);
    }
    this.size = 0;
    const b = this.current;
    if (b && this.filled > 0) {
      const m = this.filled;
      this.out.push({ rows: m, dense: b.dense.subarray(0, m * NUM_DENSE), cats: b.cats.subarray(0, m * NUM_CAT), ...(b.label ? { label: b.label.subarray(0, m) } : {}) });
    }
    this.current = null;
    this.filled = 0;
    return this.take();
  }

  private take(): TrainBatch[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  /** Row `i` of `from` becomes the next row of the current mini-batch. */
  private emit(from: Rows, i: number): void {
    let b = this.current;
    if (!b) {
      const s = this.batchSize;
      b = this.current = { rows: s, dense: new Float32Array(s * NUM_DENSE), cats: new Uint32Array(s * NUM_CAT), ...(this.labeled ? { label: new Float32Array(s) } : {}) };
    }
    const r = this.filled++;
    const d = b.dense, fd = from.dense, c = b.cats, fc = from.cats;
    for (let k = 0, o = r * NUM_DENSE, p = i * NUM_DENSE; k < NUM_DENSE; k++) d[o + k] = fd[p + k];
    for (let k = 0, o = r * NUM_CAT, p = i * NUM_CAT; k < NUM_CAT; k++) c[o + k] = fc[p + k];
    if (b.label) b.label[r] = from.label[i];
    if (this.filled === this.batchSize) {
      this.out.push(b);
      this.current = null;
      this.filled = 0;
    }
  }
}

function copyRow(from: Rows, i: number, to: Rows, j: number): void {
  to.label[j] = from.label[i];
  const fd = from.dense, td = to.dense, fc = from.cats, tc = to.cats;
  for (let k = 0, p = i * NUM_DENSE, o = j * NUM_DENSE; k < NUM_DENSE; k++) td[o + k] = fd[p + k];
  for (let k = 0, p = i * NUM_CAT, o = j * NUM_CAT; k < NUM_CAT; k++) tc[o + k] = fc[p + k];
}

/** Async-iterable stage: pulls only when the consumer asks for the next mini-batch. */
export async function* shuffledTrainBatches(source: AsyncIterable<FeatureBatch> | Iterable<FeatureBatch>, opts: ShuffleBatcherOptions): AsyncGenerator<TrainBatch> {
  const sb = new ShuffleBatcher(opts);
  for await (const fb of source) yield* sb.push(fb);
  yield* sb.flush();
}
