/**
 * The SCMA MinHash reduce (DESIGN.md §3), in two steps:
 *
 * 1. Sample. The sample is the P input rows with the smallest (sampleKey(r), r), where
 *    r is the row's global index (input order: manifest order for shards, stream order
 *    for stdin). That is a uniform sample without replacement, fixed by the seed, and it
 *    depends on nothing but r, so it is the same whatever the batching, and it needs no
 *    row count up front (stdin works). One pass keeps a bounded max-heap of candidates
 *    with their categorical values (P x 26 uint32: 13 MB at P=125k).
 *    Split-then-merge is exact: the P smallest keys of a union are the P smallest of the
 *    per-part P smallest, so parts (disjoint row ranges with their global indices)
 *    merge into the very sample one pass would draw.
 * 2. Reduce over the sample. For every (feature, value) seen, its rows S(v), the K x d
 *    minima m_kj(v) = min over r in S(v) of h_kj(r), and the codes
 *    code_j(v) = g(m_0j(v) .. m_(K-1)j(v), j). Minima over a union are the elementwise
 *    min of minima over its parts, so computing them once from the merged sample equals
 *    merging per-part minima, but partials stay small and independent of d and K.
 *
 * Memory grows with P and with the distinct values in the sample, never with the input.
 */
import { NUM_CAT, type FeatureBatch } from '../../pipeline/schema.js';
import { PipelineError, invalidOption } from '../../pipeline/errors.js';
import { fmix32 } from '../../pipeline/hash.js';
import { checkDim, checkSeed, codeSalts, combineMinima, HASH_FAMILY, minhashSalts, rowBase, sampleKey } from './codes.js';
import { ScmaMapping, MAPPING_VERSION } from './mapping.js';

export { ScmaMapping, MAPPING_VERSION, type ScmaMeta } from './mapping.js';

export const DEFAULT_NUM_HASH = 2;
export const DEFAULT_SAMPLE = 125_000;
export const DEFAULT_DIM = 16;
export const DEFAULT_SEED = 0;

export interface ReducerOptions {
  /** P, the number of rows sampled. */
  sample?: number;
  seed?: number;
  /** Categorical columns per row (26 for Criteo). */
  features?: number;
}

export interface MappingOptions {
  dim: number;
  numHash?: number;
  /** Memory for the per-row hash block of the reduce (default 32 MB); never changes the result. */
  blockBytes?: number;
}

function checkSample(p: unknown): number {
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 2 ** 28) throw invalidOption('sample', 'must be an integer in 1..268435456', p);
  return p;
}

function checkNumHash(k: unknown): number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > 64) throw invalidOption('numHash', 'must be an integer in 1..64', k);
  return k;
}

export function noCategoricalError(where?: string): PipelineError {
  return new PipelineError('ERR_NO_CATEGORICAL', 'input has no categorical columns (c1..c26): the MinHash mapping needs them', where ? { file: where } : {});
}

/** Streaming bottom-P row sample; `add` batches in input order, `merge` partials. */
export class MinHashReducer {
  readonly sample: number;
  readonly seed: number;
  readonly features: number;
  /** Input rows offered so far (over all merged parts). */
  inputRows = 0;
  /** Global index of the row after the last one added (the default firstRowIndex). */
  nextRow = 0;

  private capacity = 0;
  private size = 0;
  private keys = new Uint32Array(0);
  private rows = new Float64Array(0);
  private cats = new Uint32Array(0);
  /** Max-heap of slots by (key, row): the root is the first candidate to evict. */
  private heap = new Int32Array(0);

  constructor({ sample = DEFAULT_SAMPLE, seed = DEFAULT_SEED, features = NUM_CAT }: ReducerOptions = {}) {
    this.sample = checkSample(sample);
    this.seed = checkSeed(seed);
    if (!Number.isInteger(features) || features < 1 || features > 255) throw invalidOption('features', 'must be an integer in 1..255', features);
    this.features = features;
  }

  /** Rows currently in the sample. */
  get sampledRows(): number {
    return this.size;
  }

  private grow(): void {
    const cap = Math.min(this.sample, Math.max(1024, this.capacity * 2));
    const f = this.features;
    const keys = new Uint32Array(cap);
    keys.set(this.keys);
    const rows = new Float64Array(cap);
    rows.set(this.rows);
    const cats = new Uint32Array(cap * f);
    cats.set(this.cats);
    const heap = new Int32Array(cap);
    heap.set(this.heap);
    this.keys = keys;
    this.rows = rows;
    this.cats = cats;
    this.heap = heap;
    this.capacity = cap;
  }

  /** (key a, row ra) > (key b, row rb) */
  private static above(ka: number, ra: number, kb: number, rb: number): boolean {
    return ka > kb || (ka === kb && ra > rb);
  }

  private siftUp(i: number): void {
    const { heap, keys, rows } = this;
    const s = heap[i];
    const k = keys[s];
    const r = rows[s];
    while (i > 0) {
      const p = (i - 1) >> 1;
      const ps = heap[p];
      if (!MinHashReducer.above(k, r, keys[ps], rows[ps])) break;
      heap[i] = ps;
      i = p;
    }
    heap[i] = s;
  }

  private siftDown(i: number): void {
    const { heap, keys, rows, size } = this;
    const s = heap[i];
    const k = keys[s];
    const r = rows[s];
    for (;;) {
      let c = 2 * i + 1;
      if (c >= size) break;
      let cs = heap[c];
      if (c + 1 < size) {
        const c2 = heap[c + 1];
        if (MinHashReducer.above(keys[c2], rows[c2], keys[cs], rows[cs])) {
          c++;
          cs = c2;
        }
      }
      if (!MinHashReducer.above(keys[cs], rows[cs], k, r)) break;
      heap[i] = cs;
      i = c;
    }
    heap[i] = s;
  }

  /** Slot to write a candidate with (key, r) into, or -1 when it is not in the bottom P. */
  private admit(key: number, r: number): number {
    if (this.size < this.sample) {
      if (this.size === this.capacity) this.grow();
      const slot = this.size++;
      this.keys[slot] = key;
      this.rows[slot] = r;
      this.heap[slot] = slot;
      this.siftUp(slot);
      return slot;
    }
    const top = this.heap[0];
    if (!MinHashReducer.above(this.keys[top], this.rows[top], key, r)) return -1;
    this.keys[top] = key;
    this.rows[top] = r;
    this.siftDown(0);
    return top;
  }

  /** Offers every row of `batch`; row i has global index firstRowIndex + i. */
  add(batch: FeatureBatch, firstRowIndex: number = this.nextRow): void {
    const f = this.features;
    if (batch.cats.length === 0) throw noCategoricalError();
    if (batch.cats.length !== f) {
      throw new PipelineError('ERR_SCHEMA', `batch has ${batch.cats.length} categorical columns, expected ${f}`);
    }
    if (!Number.isSafeInteger(firstRowIndex) || firstRowIndex < 0) throw invalidOption('firstRowIndex', 'must be a non-negative integer', firstRowIndex);
    const n = batch.rows;
    const seed = this.seed;
    const cols = batch.cats;
    for (let i = 0; i < n; i++) {
      const r = firstRowIndex + i;
      const key = sampleKey(r, seed);
      // Fast reject once full: most rows of a long input end here.
      if (this.size === this.sample) {
        const top = this.heap[0];
        const tk = this.keys[top];
        if (key > tk || (key === tk && r > this.rows[top])) continue;
      }
      const slot = this.admit(key, r);
      if (slot < 0) continue;
      const base = slot * f;
      for (let c = 0; c < f; c++) this.cats[base + c] = cols[c][i];
    }
    this.inputRows += n;
    this.nextRow = Math.max(this.nextRow, firstRowIndex + n);
  }

  /** The sample as arrays sorted by row index (for partial files and tests). */
  rowsSorted(): { rows: Float64Array; cats: Uint32Array } {
    const n = this.size;
    const f = this.features;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => this.rows[a] - this.rows[b]);
    const rows = new Float64Array(n);
    const cats = new Uint32Array(n * f);
    order.forEach((s, i) => {
      rows[i] = this.rows[s];
      cats.set(this.cats.subarray(s * f, s * f + f), i * f);
    });
    return { rows, cats };
  }

  /** Adds already-sampled rows (a partial's sample); rows keep their global indices. */
  addSampledRows(rows: Float64Array, cats: Uint32Array, where?: string): void {
    const f = this.features;
    if (cats.length !== rows.length * f) throw new PipelineError('ERR_SCHEMA', `sample has ${cats.length} values for ${rows.length} rows of ${f} features`, where ? { file: where } : {});
    const present = new Set<number>();
    for (let s = 0; s < this.size; s++) present.add(this.rows[s]);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (!Number.isSafeInteger(r) || r < 0) throw new PipelineError('ERR_SCHEMA', `bad row index ${r}`, where ? { file: where } : {});
      if (present.has(r)) {
        throw new PipelineError('ERR_MERGE_OVERLAP', `row ${r} is in two of the merged parts: parts must cover disjoint rows`, where ? { file: where } : {});
      }
      present.add(r);
      const slot = this.admit(sampleKey(r, this.seed), r);
      if (slot >= 0) this.cats.set(cats.subarray(i * f, i * f + f), slot * f);
    }
  }

  /** Folds another reducer's sample in; the result is the sample of both parts' rows. */
  merge(other: MinHashReducer, where?: string): this {
    if (other.seed !== this.seed || other.sample !== this.sample || other.features !== this.features) {
      throw new PipelineError(
        'ERR_MERGE_MISMATCH',
        `cannot merge samples drawn with different settings: seed ${other.seed} vs ${this.seed}, sample ${other.sample} vs ${this.sample}, features ${other.features} vs ${this.features}`,
        where ? { file: where } : {},
      );
    }
    const { rows, cats } = other.rowsSorted();
    this.addSampledRows(rows, cats, where);
    this.inputRows += other.inputRows;
    this.nextRow = Math.max(this.nextRow, other.nextRow);
    return this;
  }

  /** Step 2: MinHash codes for every (feature, value) in the sample. */
  toMapping({ dim, numHash = DEFAULT_NUM_HASH, blockBytes = 32 << 20 }: MappingOptions): ScmaMapping {
    checkDim(dim);
    checkNumHash(numHash);
    const n = this.size;
    const f = this.features;
    const seed = this.seed;
    const salts = minhashSalts(dim, numHash, seed);
    const gStart = codeSalts(dim, seed);

    const base = new Uint32Array(n);
    for (let s = 0; s < n; s++) base[s] = rowBase(this.rows[s], seed);

    // Per feature: sample slots ordered by (value, slot), so equal values are adjacent
    // and the output comes out sorted by (feature, value).
    const orders: Uint32Array[] = [];
    let total = 0;
    const packed = n <= 2 ** 21 ? new Float64Array(n) : null;
    for (let c = 0; c < f; c++) {
      const order = new Uint32Array(n);
      if (packed) {
        for (let s = 0; s < n; s++) packed[s] = this.cats[s * f + c] * 2097152 + s;
        packed.sort();
        for (let i = 0; i < n; i++) order[i] = packed[i] % 2097152;
      } else {
        for (let s = 0; s < n; s++) order[s] = s;
        const cats = this.cats;
        order.sort((a, b) => cats[a * f + c] - cats[b * f + c] || a - b);
      }
      let distinct = 0;
      for (let i = 0; i < n; i++) if (i === 0 || this.cats[order[i] * f + c] !== this.cats[order[i - 1] * f + c]) distinct++;
      orders.push(order);
      total += distinct;
    }

    const features = new Uint8Array(total);
    const values = new Uint32Array(total);
    const codes = new Uint32Array(total * dim);
    // h_kj(r) for every sampled row, a block of dimensions at a time: each row's hashes
    // are computed once, not once per value in the row, while the block stays small
    // (~32 MB) and the minima of a block's dimensions become codes before the next.
    const block = Math.max(1, Math.min(dim, Math.floor(blockBytes / 4 / Math.max(1, n * numHash))));
    const rowH = new Uint32Array(n * numHash * block);
    const minima = new Uint32Array(numHash * block);
    for (let j0 = 0; j0 < dim; j0 += block) {
      const w = Math.min(block, dim - j0);
      const width = numHash * w;
      for (let s = 0; s < n; s++) {
        const b = base[s];
        const o = s * width;
        for (let k = 0; k < numHash; k++) {
          for (let jj = 0; jj < w; jj++) rowH[o + k * w + jj] = fmix32(b ^ salts[k * dim + j0 + jj]);
        }
      }
      let out = 0;
      for (let c = 0; c < f; c++) {
        const order = orders[c];
        let i = 0;
        while (i < n) {
          const v = this.cats[order[i] * f + c];
          minima.fill(0xffffffff);
          do {
            const o = order[i] * width;
            for (let t = 0; t < width; t++) {
              const h = rowH[o + t];
              if (h < minima[t]) minima[t] = h;
            }
            i++;
          } while (i < n && this.cats[order[i] * f + c] === v);
          if (j0 === 0) {
            features[out] = c;
            values[out] = v;
          }
          const o = out * dim + j0;
          for (let jj = 0; jj < w; jj++) codes[o + jj] = combineMinima(minima, jj, w, numHash, gStart[j0 + jj]);
          out++;
        }
      }
    }
    return new ScmaMapping(
      {
        dim,
        numHash,
        sample: this.sample,
        seed,
        hashFamily: HASH_FAMILY,
        version: MAPPING_VERSION,
        values: total,
        sampledRows: n,
        inputRows: this.inputRows,
      },
      features,
      values,
      codes,
    );
  }
}

export interface BuildMappingOptions extends MappingOptions, ReducerOptions {
  /** Rows in the input when known (manifest); only used for progress. */
  totalRows?: number;
  /** Global index of the first row of `source` (for a part of a larger input). */
  firstRowIndex?: number;
  /** Called now and then with rows read so far. */
  onProgress?: (rowsRead: number, totalRows?: number) => void;
}

/** Samples `source` and reduces it to the rows of a MinHashReducer (no codes yet). */
export async function sampleRows(source: AsyncIterable<FeatureBatch> | Iterable<FeatureBatch>, opts: BuildMappingOptions | ReducerOptions & { firstRowIndex?: number; totalRows?: number; onProgress?: BuildMappingOptions['onProgress'] } = {}): Promise<MinHashReducer> {
  const { firstRowIndex = 0, totalRows, onProgress } = opts as BuildMappingOptions;
  const reducer = new MinHashReducer(opts);
  reducer.nextRow = firstRowIndex;
  for await (const batch of source) {
    reducer.add(batch);
    onProgress?.(reducer.inputRows, totalRows);
  }
  return reducer;
}

/** One pass over `source`: sample, reduce, and the mapping. */
export async function buildMapping(source: AsyncIterable<FeatureBatch> | Iterable<FeatureBatch>, opts: BuildMappingOptions): Promise<ScmaMapping> {
  checkDim(opts.dim);
  checkNumHash(opts.numHash ?? DEFAULT_NUM_HASH);
  const reducer = await sampleRows(source, opts);
  return reducer.toMapping(opts);
}
