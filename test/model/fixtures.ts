/** Tiny batches, vocabularies and location codes for the model tests. */
import type { DlrmConfig, EmbeddingSpec, LocationCodes, TrainBatch, Vocabulary } from '../../model/types.js';
import { mulberry32 } from '../../core/hash.js';
import { RobeCodes } from '../../scma/robe-codes.js';

export const F = 26;

/** Values 0..size-1 per feature; anything else maps to the last row (the "unknown" row). */
export function smallVocab(size: number | ((f: number) => number)): Vocabulary {
  const sz = typeof size === 'number' ? () => size : size;
  return { size: sz, index: (f, v) => (v < sz(f) - 1 ? v : sz(f) - 1) };
}

/**
 * Hand-built codes: a table per (feature, value) of arbitrary uint32 words, far
 * above M so that "mod M" matters, with deliberate sharing between some values
 * (as SCMA's similar values share) to exercise summed gradients.
 */
export function tableCodes(dim: number, values: number, seed: number): LocationCodes & { table: Uint32Array } {
  const rng = mulberry32(seed);
  const table = new Uint32Array(F * values * dim);
  for (let i = 0; i < table.length; i++) table[i] = (rng() * 4294967296) >>> 0;
  // value 1 of every feature shares all its locations with value 0 of feature 0.
  for (let f = 0; f < F; f++) for (let j = 0; j < dim; j++) table[(f * values + 1) * dim + j] = table[j];
  return {
    dim,
    table,
    codesInto(feature, value, out, offset) {
      const base = (feature * values + (value % values)) * dim;
      for (let j = 0; j < dim; j++) out[offset + j] = table[base + j];
    },
  };
}

export function randomBatch(rows: number, values: number, seed: number, labelled = true): TrainBatch {
  const rng = mulberry32(seed);
  const dense = new Float32Array(rows * 13);
  const cats = new Uint32Array(rows * F);
  const label = new Float32Array(rows);
  for (let i = 0; i < dense.length; i++) dense[i] = Math.log1p(Math.floor(rng() * 20));
  for (let i = 0; i < cats.length; i++) cats[i] = Math.floor(rng() * values);
  for (let r = 0; r < rows; r++) label[r] = rng() < 0.5 ? 1 : 0;
  return labelled ? { rows, dense, cats, label } : { rows, dense, cats };
}

export type TestKind = 'full' | 'hashnet' | 'scma' | 'robe';

/** memoryFloats: a prime above the floor of 26 x d floats for d <= 8, small enough that collisions are many. */
export function specFor(kind: TestKind, dim: number, values: number, memoryFloats = 211): EmbeddingSpec {
  if (kind === 'full') return { kind, vocab: smallVocab((f) => values + (f % 3)) };
  // ROBE's own codes (blocks of 2, so a block boundary falls inside d): they are what make it ROBE.
  if (kind === 'robe') return { kind, memoryFloats, codes: new RobeCodes(dim, 13, Math.min(2, dim)) };
  return { kind, memoryFloats, codes: tableCodes(dim, values, kind === 'scma' ? 7 : 11) };
}

export function tinyConfig(kind: TestKind, over: Partial<DlrmConfig> = {}): DlrmConfig {
  const d = over.embeddingDim ?? 4;
  return {
    embeddingDim: d,
    bottomMlp: [13, 8, d],
    topMlp: [8, 1],
    embedding: specFor(kind, d, 6),
    learningRate: 0.1,
    embeddingOptimizer: 'sgd',
    seed: 3,
    ...over,
  };
}
