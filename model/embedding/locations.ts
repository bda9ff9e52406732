/**
 * Where each embedding element of a batch lives, computed on the CPU into reused
 * typed arrays (no allocation per batch once they have grown to the batch size).
 */
import { PipelineError } from '../../core/errors.js';
import type { EmbeddingSpec, Vocabulary } from '../types.js';
import { NUM_FEATURES } from './layer.js';

export class Locator {
  readonly spec: EmbeddingSpec;
  readonly dim: number;
  /** Full tables: first row of each feature's table in the concatenated table. */
  readonly rowOffsets: Int32Array;
  readonly totalRows: number;
  /** Floats of memory addressed: M for shared memory, totalRows x d for full tables. */
  readonly memoryFloats: number;
  /** Shape of the memory in saved state: [rows, d] for full tables, [M] for shared memory. */
  readonly stateShape: number[];
  private codes = new Uint32Array(0);

  constructor(spec: EmbeddingSpec, dim: number) {
    this.spec = spec;
    this.dim = dim;
    this.rowOffsets = new Int32Array(NUM_FEATURES + 1);
    if (spec.kind === 'full') {
      for (let f = 0; f < NUM_FEATURES; f++) this.rowOffsets[f + 1] = this.rowOffsets[f] + spec.vocab.size(f);
      this.totalRows = this.rowOffsets[NUM_FEATURES];
      this.memoryFloats = this.totalRows * dim;
    } else {
      this.totalRows = 0;
      this.memoryFloats = spec.memoryFloats;
    }
    this.stateShape = spec.kind === 'full' ? [this.totalRows, dim] : [this.memoryFloats];
  }

  /** Full tables: row of (batch row b, feature f) for every b, f into out[rows*26]. */
  rowsInto(cats: Uint32Array, rows: number, out: Int32Array): Int32Array {
    const spec = this.spec;
    if (spec.kind !== 'full') throw new Error('rowsInto is for full tables');
    const vocab: Vocabulary = spec.vocab;
    for (let b = 0; b < rows; b++) {
      for (let f = 0; f < NUM_FEATURES; f++) {
        const k = b * NUM_FEATURES + f;
        const idx = vocab.index(f, cats[k]);
        const size = this.rowOffsets[f + 1] - this.rowOffsets[f];
        if (!(idx >= 0 && idx < size) || !Number.isInteger(idx)) {
          throw new PipelineError('ERR_VOCAB_INDEX', `vocabulary index ${idx} for value ${cats[k]} is outside feature c${f + 1}'s table of ${size} rows`, { field: `c${f + 1}` });
        }
        out[k] = this.rowOffsets[f] + idx;
      }
    }
    return out;
  }

  /**
   * Flat memory location of every element (b, f, j) into out[rows*26*d]: for full
   * tables row*d + j, for HashNet/SCMA code mod M.
   */
  flatInto(cats: Uint32Array, rows: number, out: Int32Array): Int32Array {
    const spec = this.spec;
    const d = this.dim;
    const n = rows * NUM_FEATURES;
    if (spec.kind === 'full') {
      this.rowsInto(cats, rows, out); // rows land in out[0..n): expand backwards in place
      for (let k = n - 1; k >= 0; k--) {
        const base = out[k] * d;
        for (let j = d - 1; j >= 0; j--) out[k * d + j] = base + j;
      }
      return out;
    }
    if (this.codes.length < n * d) this.codes = new Uint32Array(n * d);
    const codes = this.codes;
    const m = spec.memoryFloats;
    for (let b = 0; b < rows; b++) {
      for (let f = 0; f < NUM_FEATURES; f++) {
        const k = b * NUM_FEATURES + f;
        spec.codes.codesInto(f, cats[k], codes, k * d);
      }
    }
    for (let i = 0; i < n * d; i++) out[i] = codes[i] % m;
    return out;
  }
}
