/**
 * How far embeddings moved during training, per frequency band of values (issue 11).
 *
 * For each (feature, value) of the training rows, its embedding is the d floats the
 * model reads for it: a row of the full tables, or d locations (code mod M) of the
 * shared memory. Its movement is final - initial of those d floats. Per band of
 * training-row counts we report RMS(movement) and RMS(initial) over all elements of
 * the band's values, and their ratio: a band whose ratio is ~0 still sits at its
 * random start. bench/torch_dlrm_movement.py computes the same figures for PyTorch
 * (same band edges, same definitions), so the two sides compare line by line.
 */
import type { EmbeddingSpec } from '../model/types.js';
import type { ValueCounter } from '../stages/vocab.js';
import { NUM_FEATURES } from '../model/embedding/layer.js';

/** Lower edges of the bands: counts 1-9, 10-99, 100-999, >= 1000 training rows. */
export const BAND_EDGES: readonly number[] = [1, 10, 100, 1000];

export function bandLabel(i: number, edges: readonly number[] = BAND_EDGES): string {
  return i + 1 < edges.length ? `${edges[i]}-${edges[i + 1] - 1}` : `>=${edges[i]}`;
}

/** Index of the band holding `count` (-1 below the first edge). */
export function bandOf(count: number, edges: readonly number[] = BAND_EDGES): number {
  let b = -1;
  for (let i = 0; i < edges.length && count >= edges[i]; i++) b = i;
  return b;
}

export interface BandStats {
  band: string;
  /** Distinct (feature, value) pairs in the band. */
  values: number;
  /** Their training rows (sum of counts): the share of lookups the band gets. */
  occurrences: number;
  rmsInit: number;
  rmsMove: number;
  /** rmsMove / rmsInit. */
  ratio: number;
}

export interface MovementStats {
  bands: BandStats[];
  /** Over the whole memory array (every float once), as the issue quoted it. */
  memoryRmsInit: number;
  memoryRmsMove: number;
}

/** Every (feature, value, count) of the training rows, feature-major. */
export interface ValueList {
  features: Uint8Array;
  values: Uint32Array;
  counts: Uint32Array;
}

export function valueList(counter: ValueCounter): ValueList {
  const n = counter.counts.reduce((s, m) => s + m.size, 0);
  const out: ValueList = { features: new Uint8Array(n), values: new Uint32Array(n), counts: new Uint32Array(n) };
  let i = 0;
  for (let f = 0; f < counter.counts.length; f++) {
    // Slot order of the typed-array table (stages/vocab.ts), fixed for a given input.
    counter.counts[f].forEach((v, c) => {
      out.features[i] = f;
      out.values[i] = v;
      out.counts[i] = c;
      i++;
    });
  }
  return out;
}

/**
 * The d flat memory locations of (feature, value) under `spec`, the same arithmetic as
 * model/embedding/locations.ts (test/bench/movement.test.ts checks them against it).
 */
export function locator(spec: EmbeddingSpec, d: number): (feature: number, value: number, out: Int32Array) => void {
  if (spec.kind === 'full') {
    const offsets = new Int32Array(NUM_FEATURES + 1);
    for (let f = 0; f < NUM_FEATURES; f++) offsets[f + 1] = offsets[f] + spec.vocab.size(f);
    return (f, v, out) => {
      const base = (offsets[f] + spec.vocab.index(f, v)) * d;
      for (let j = 0; j < d; j++) out[j] = base + j;
    };
  }
  const codes = new Uint32Array(d);
  const m = spec.memoryFloats;
  return (f, v, out) => {
    spec.codes.codesInto(f, v, codes, 0);
    for (let j = 0; j < d; j++) out[j] = codes[j] % m;
  };
}

function rms(sumSq: number, n: number): number {
  return n > 0 ? Math.sqrt(sumSq / n) : NaN;
}

export function movementStats(
  initial: Float32Array,
  final: Float32Array,
  list: ValueList,
  locate: (feature: number, value: number, out: Int32Array) => void,
  d: number,
  edges: readonly number[] = BAND_EDGES,
): MovementStats {
  if (initial.length !== final.length) throw new Error(`initial memory has ${initial.length} floats, final ${final.length}`);
  const k = edges.length;
  const values = new Float64Array(k);
  const occ = new Float64Array(k);
  const init2 = new Float64Array(k);
  const move2 = new Float64Array(k);
  const loc = new Int32Array(d);
  for (let i = 0; i < list.values.length; i++) {
    const b = bandOf(list.counts[i], edges);
    if (b < 0) continue;
    locate(list.features[i], list.values[i], loc);
    values[b]++;
    occ[b] += list.counts[i];
    for (let j = 0; j < d; j++) {
      const a = initial[loc[j]];
      const m = final[loc[j]] - a;
      init2[b] += a * a;
      move2[b] += m * m;
    }
  }
  let all2 = 0;
  let allMove2 = 0;
  for (let i = 0; i < initial.length; i++) {
    all2 += initial[i] * initial[i];
    const m = final[i] - initial[i];
    allMove2 += m * m;
  }
  const bands: BandStats[] = [];
  for (let b = 0; b < k; b++) {
    const rmsInit = rms(init2[b], values[b] * d);
    const rmsMove = rms(move2[b], values[b] * d);
    bands.push({ band: bandLabel(b, edges), values: values[b], occurrences: occ[b], rmsInit, rmsMove, ratio: rmsMove / rmsInit });
  }
  return { bands, memoryRmsInit: rms(all2, initial.length), memoryRmsMove: rms(allMove2, initial.length) };
}
