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
 * Hash functions (stages/minhash/codes.ts, HASH_FAMILY): sampleKey(r) and rowBase(r) are
 * murmur3-style hashes of r's two 32-bit words under tweaked seeds; h_kj(r) =
 * fmix32(rowBase(r) ^ salt_kj) with per-(k, j) salts, so one row costs one full hash
 * plus K x d finalizers; g is murmur3 over the K minima started from a per-j word. The
 * statistical tests check that equal codes then occur at rate J^K.
 *
 * Memory grows with P and with the distinct values in the sample, never with the input.
 */
import { NUM_CAT, type FeatureBatch } from '../core/schema.js';
import { PipelineError, invalidOption } from '../core/errors.js';
import { fmix32 } from '../core/hash.js';
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
  /** Memory for the reduce's block of minima (default 64 MB); never changes the result. */
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
    this.checkDisjoint(rows, where);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      const slot = this.admit(sampleKey(r, this.seed), r);
      if (slot >= 0) this.cats.set(cats.subarray(i * f, i * f + f), slot * f);
    }
  }

  /**
   * Refuses bad row indices and rows in both parts (or twice in `rows`). By sorting, not
   * a Set: a JS Set stops at 2^24 entries and a sample may hold up to 2^28 rows.
   */
  private checkDisjoint(rows: Float64Array, where?: string): void {
    const ctx = where ? { file: where } : {};
    const overlap = (r: number) => new PipelineError('ERR_MERGE_OVERLAP', `row ${r} is in two of the merged parts: parts must cover disjoint rows`, ctx);
    for (let i = 0; i < rows.length; i++) if (!Number.isSafeInteger(rows[i]) || rows[i] < 0) throw new PipelineError('ERR_SCHEMA', `bad row index ${rows[i]}`, ctx);
    const theirs = Float64Array.from(rows).sort();
    const mine = this.rows.slice(0, this.size).sort();
    let a = 0;
    for (let i = 0; i < theirs.length; i++) {
      const r = theirs[i];
      if (i > 0 && theirs[i - 1] === r) throw overlap(r);
      while (a < mine.length && mine[a] < r) a++;
      if (a < mine.length && mine[a] === r) throw overlap(r);
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
  toMapping({ dim, numHash = DEFAULT_NUM_HASH, blockBytes = 64 << 20 }: MappingOptions): ScmaMapping {
    checkDim(dim);
    checkNumHash(numHash);
    const n = this.size;
    const f = this.features;
    const seed = this.seed;
    const salts = minhashSalts(dim, numHash, seed);
    const gStart = codeSalts(dim, seed);

    const base = rowBases(this.rows, n, seed);

    // Per feature: sample slots ordered by (value, slot), so equal values are adjacent
    // and the output comes out sorted by (feature, value). Two stable 16-bit radix passes:
    // a comparison sort of 26 x P keys took longer than the whole reduce at d=16.
    const orders: Uint32Array[] = [];
    const distincts: number[] = [];
    let total = 0;
    const col = new Uint32Array(n);
    const tmp = new Uint32Array(n);
    const counts = new Uint32Array(65537);
    for (let c = 0; c < f; c++) {
      gatherColumn(this.cats, f, c, col);
      const order = radixOrder(col, tmp, counts);
      const distinct = countDistinct(order, col);
      orders.push(order);
      distincts.push(distinct);
      total += distinct;
    }

    const features = new Uint8Array(total);
    const values = new Uint32Array(total);
    const codes = new Uint32Array(total * dim);
    // valueIdx[s * f + c]: output row of the value of feature c in sample row s.
    const valueIdx = new Uint32Array(n * f);
    let out = 0;
    for (let c = 0; c < f; c++) {
      gatherColumn(this.cats, f, c, col);
      features.fill(c, out, out + distincts[c]);
      out = indexValues(orders[c], col, values, valueIdx, f, c, out);
    }
    orders.length = 0;

    // Rows outer, values inner: each row's hashes are computed once per block into a
    // small buffer, and the minima of frequent values (most of the updates on skewed
    // data) stay in cache; the value-outer order re-read rows at random and ran ~2x
    // slower. Blocks of dimensions bound the minima table (~blockBytes).
    const w = Math.max(1, Math.min(dim, Math.floor(blockBytes / 4 / Math.max(1, total * numHash))));
    const minima = new Int32Array(total * numHash * w);
    const hrow = new Int32Array(numHash * w);
    for (let j0 = 0; j0 < dim; j0 += w) {
      const wb = Math.min(w, dim - j0);
      const width = numHash * wb;
      minima.fill(0x7fffffff, 0, total * width);
      for (let s = 0; s < n; s++) {
        rowHashes(hrow, base[s], salts, dim, numHash, j0, wb);
        updateMinima(minima, hrow, width, valueIdx, s * f, f);
      }
      minimaToCodes(minima, total, codes, dim, j0, wb, numHash, gStart);
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

// The reduce's loops live in small functions: V8 optimizes those whole, where loops
// inside one long method ran several times slower.

function rowBases(rows: Float64Array, n: number, seed: number): Uint32Array {
  const base = new Uint32Array(n);
  for (let s = 0; s < n; s++) base[s] = rowBase(rows[s], seed);
  return base;
}

function gatherColumn(cats: Uint32Array, f: number, c: number, col: Uint32Array): void {
  for (let s = 0; s < col.length; s++) col[s] = cats[s * f + c];
}

/** Slots 0..n-1 stably ordered by col[slot]: two 16-bit LSD radix passes. */
function radixOrder(col: Uint32Array, tmp: Uint32Array, counts: Uint32Array): Uint32Array {
  const n = col.length;
  const order = new Uint32Array(n);
  for (let s = 0; s < n; s++) order[s] = s;
  for (let shift = 0; shift < 32; shift += 16) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[((col[order[i]] >>> shift) & 0xffff) + 1]++;
    for (let b = 1; b <= 65536; b++) counts[b] += counts[b - 1];
    for (let i = 0; i < n; i++) {
      const s = order[i];
      tmp[counts[(col[s] >>> shift) & 0xffff]++] = s;
    }
    order.set(tmp);
  }
  return order;
}

function countDistinct(order: Uint32Array, col: Uint32Array): number {
  let distinct = 0;
  for (let i = 0; i < order.length; i++) if (i === 0 || col[order[i]] !== col[order[i - 1]]) distinct++;
  return distinct;
}

function minimaToCodes(minima: Int32Array, total: number, codes: Uint32Array, dim: number, j0: number, wb: number, numHash: number, gStart: Uint32Array): void {
  const width = numHash * wb;
  for (let v = 0; v < total; v++) {
    const o = v * dim + j0;
    const m = v * width;
    for (let jj = 0; jj < wb; jj++) codes[o + jj] = combineMinima(minima, m + jj, wb, numHash, gStart[j0 + jj]);
  }
}

/**
 * hrow[k * w + jj] = h_k,(j0+jj)(row), stored with the sign bit flipped as int32: V8
 * compares int32 much faster than uint32 values above 2^31 (boxed as doubles), and the
 * flip keeps the unsigned order, so minima are the same rows either way.
 */
function rowHashes(hrow: Int32Array, b: number, salts: Uint32Array, dim: number, numHash: number, j0: number, w: number): void {
  for (let k = 0; k < numHash; k++) {
    for (let jj = 0; jj < w; jj++) hrow[k * w + jj] = (fmix32(b ^ salts[k * dim + j0 + jj]) ^ 0x80000000) | 0;
  }
}

function updateMinima(minima: Int32Array, hrow: Int32Array, width: number, valueIdx: Uint32Array, at: number, f: number): void {
  for (let c = 0; c < f; c++) {
    const m = valueIdx[at + c] * width;
    for (let t = 0; t < width; t++) {
      const h = hrow[t];
      if (h < minima[m + t]) minima[m + t] = h;
    }
  }
}

/** Numbers feature c's distinct values (ascending) from `out` on; returns the next free number. */
function indexValues(order: Uint32Array, col: Uint32Array, values: Uint32Array, valueIdx: Uint32Array, f: number, c: number, out: number): number {
  const n = order.length;
  for (let i = 0; i < n; i++) {
    const s = order[i];
    if (i === 0 || col[s] !== col[order[i - 1]]) values[out++] = col[s];
    valueIdx[s * f + c] = out - 1;
  }
  return out;
}

export interface SampleOptions extends ReducerOptions {
  /** Rows in the input when known (manifest); only used for progress. */
  totalRows?: number;
  /** Global index of the first row of `source` (for a part of a larger input). */
  firstRowIndex?: number;
  /** Called after each batch with the rows read so far. */
  onProgress?: (rowsRead: number, totalRows?: number) => void;
}

export interface BuildMappingOptions extends MappingOptions, SampleOptions {}

/** Step 1 over a whole source: a reducer holding its sample (write it as a partial, or map it). */
export async function sampleRows(source: AsyncIterable<FeatureBatch> | Iterable<FeatureBatch>, opts: SampleOptions = {}): Promise<MinHashReducer> {
  const { firstRowIndex = 0, totalRows, onProgress } = opts;
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
