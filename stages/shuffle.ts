/**
 * Seeded streaming shuffle buffer (tf.data's shuffle): rows enter a buffer of
 * bounded capacity; once it is full, each incoming row replaces a uniformly chosen
 * resident, which is emitted. At the end the residents leave in a Fisher-Yates
 * order. Memory is capacity rows whatever the input size; the order depends only on
 * the seed and the input order, so a run can be replayed exactly, and the whole
 * state (buffer + generator) can be exported and imported for a resume.
 */
import { Transform } from 'node:stream';
import { NUM_CAT, NUM_DENSE, emptyFeatureBatch, type FeatureBatch } from '../core/schema.js';
import { invalidOption } from '../core/errors.js';

/** mulberry32 with its state exposed, so checkpoints can carry it. */
export class SeededRandom {
  state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = Math.imul(this.state ^ (this.state >>> 15), 1 | this.state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

export interface ShuffleOptions {
  /** Rows held at most; 0 or 1 passes rows through in order. */
  capacity?: number;
  seed?: number;
}

export interface ShuffleState {
  capacity: number;
  rngState: number;
  size: number;
  labeled: boolean | null;
  label: Uint8Array;
  dense: Float32Array;
  cats: Uint32Array;
}

/** The pure core: push FeatureBatches in, get shuffled FeatureBatches out. */
export class ShuffleBuffer {
  readonly capacity: number;
  private rng: SeededRandom;
  private size = 0;
  /** Unknown until the first batch: shuffling labeled and unlabeled rows together is an error. */
  private labeled: boolean | null = null;
  // Row-major storage: one row's 13 dense / 26 cats are contiguous, so a swap is two short copies.
  private label: Uint8Array;
  private dense: Float32Array;
  private cats: Uint32Array;

  constructor({ capacity = 10_000, seed = 0 }: ShuffleOptions = {}) {
    if (!Number.isInteger(capacity) || capacity < 0) throw invalidOption('shuffle-buffer', 'must be a non-negative integer', capacity);
    if (!Number.isInteger(seed)) throw invalidOption('seed', 'must be an integer', seed);
    this.capacity = capacity;
    this.rng = new SeededRandom(seed);
    this.label = new Uint8Array(capacity);
    this.dense = new Float32Array(capacity * NUM_DENSE);
    this.cats = new Uint32Array(capacity * NUM_CAT);
  }

  get buffered(): number {
    return this.size;
  }

  /** Returns the rows evicted by this batch (possibly an empty batch while the buffer fills). */
  push(batch: FeatureBatch): FeatureBatch {
    const labeled = batch.label !== null;
    if (this.labeled === null) this.labeled = labeled;
    else if (this.labeled !== labeled) throw invalidOption('input', 'must be all labeled or all unlabeled', labeled ? 'a labeled batch after unlabeled ones' : 'an unlabeled batch after labeled ones');
    if (this.capacity <= 1) return batch;
    const evicted = Math.max(0, batch.rows - (this.capacity - this.size));
    const out = emptyFeatureBatch(evicted, labeled);
    let o = 0;
    for (let i = 0; i < batch.rows; i++) {
      if (this.size < this.capacity) {
        this.store(this.size++, batch, i);
        continue;
      }
      const j = this.rng.int(this.capacity);
      this.emit(j, out, o++);
      this.store(j, batch, i);
    }
    return out;
  }

  /** Empties the buffer in a random order (the remainder at the end of an epoch). */
  flush(): FeatureBatch {
    const n = this.size;
    const out = emptyFeatureBatch(n, this.labeled !== false);
    for (let k = n - 1; k >= 0; k--) {
      // Fisher-Yates from the back: pick any of the k+1 still resident rows.
      const j = this.rng.int(k + 1);
      this.emit(j, out, n - 1 - k);
      if (j !== k) this.move(k, j);
    }
    this.size = 0;
    return out;
  }

  exportState(): ShuffleState {
    return {
      capacity: this.capacity,
      rngState: this.rng.state,
      size: this.size,
      labeled: this.labeled,
      label: this.label.slice(0, this.size),
      dense: this.dense.slice(0, this.size * NUM_DENSE),
      cats: this.cats.slice(0, this.size * NUM_CAT),
    };
  }

  importState(s: ShuffleState): void {
    if (s.capacity !== this.capacity) throw invalidOption('shuffle-buffer', `must equal the checkpoint's (${s.capacity})`, this.capacity);
    this.rng.state = s.rngState;
    this.size = s.size;
    this.labeled = s.labeled;
    this.label.set(s.label);
    this.dense.set(s.dense);
    this.cats.set(s.cats);
  }

  private store(slot: number, b: FeatureBatch, i: number): void {
    this.label[slot] = b.label ? b.label[i] : 0;
    for (let k = 0; k < NUM_DENSE; k++) this.dense[slot * NUM_DENSE + k] = b.dense[k][i];
    for (let k = 0; k < NUM_CAT; k++) this.cats[slot * NUM_CAT + k] = b.cats[k][i];
  }

  private emit(slot: number, out: FeatureBatch, o: number): void {
    if (out.label) out.label[o] = this.label[slot];
    for (let k = 0; k < NUM_DENSE; k++) out.dense[k][o] = this.dense[slot * NUM_DENSE + k];
    for (let k = 0; k < NUM_CAT; k++) out.cats[k][o] = this.cats[slot * NUM_CAT + k];
  }

  private move(from: number, to: number): void {
    this.label[to] = this.label[from];
    this.dense.copyWithin(to * NUM_DENSE, from * NUM_DENSE, (from + 1) * NUM_DENSE);
    this.cats.copyWithin(to * NUM_CAT, from * NUM_CAT, (from + 1) * NUM_CAT);
  }
}

/** Async-iterable stage: pulls only when the consumer asks, so backpressure is the consumer's pace. */
export async function* shuffleBatches(source: AsyncIterable<FeatureBatch> | Iterable<FeatureBatch>, opts: ShuffleOptions = {}): AsyncGenerator<FeatureBatch> {
  const buf = new ShuffleBuffer(opts);
  for await (const b of source) {
    const out = buf.push(b);
    if (out.rows > 0) yield out;
  }
  const rest = buf.flush();
  if (rest.rows > 0) yield rest;
}

/** Node stream stage (object mode, FeatureBatch in and out). */
export function shuffleStream(opts: ShuffleOptions = {}): Transform {
  const buf = new ShuffleBuffer(opts);
  return new Transform({
    objectMode: true,
    transform(b: FeatureBatch, _enc, cb) {
      try {
        const out = buf.push(b);
        cb(null, out.rows > 0 ? out : undefined);
      } catch (err) {
        cb(err as Error);
      }
    },
    flush(cb) {
      const rest = buf.flush();
      cb(null, rest.rows > 0 ? rest : undefined);
    },
  });
}
