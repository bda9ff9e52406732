/**
 * The rows of a quality experiment, in memory: the synthetic generator's TSV (with
 * its true click probabilities) or a Criteo TSV file, parsed and featurized by the
 * same code as `preprocess`, then split into the train prefix and the test tail
 * (input order, as `train --test-fraction` does).
 */
import { readFileSync } from 'node:fs';
import { synthBatches, type SynthOptions } from '../input/synth.js';
import { TsvParser, type RawBatch } from '../stages/parse.js';
import { featurizeBatch } from '../stages/featurize.js';
import { NUM_CAT, NUM_DENSE, emptyFeatureBatch, type FeatureBatch, type TrainBatch } from '../core/schema.js';

export interface Dataset {
  name: string;
  train: FeatureBatch;
  test: FeatureBatch;
  /** True click probability of each test row, when the data is synthetic. */
  testProbs: Float64Array | null;
}

function concat(batches: FeatureBatch[]): FeatureBatch {
  const rows = batches.reduce((s, b) => s + b.rows, 0);
  const out = emptyFeatureBatch(rows, true);
  let o = 0;
  for (const b of batches) {
    out.label!.set(b.label!.subarray(0, b.rows), o);
    for (let k = 0; k < NUM_DENSE; k++) out.dense[k].set(b.dense[k].subarray(0, b.rows), o);
    for (let k = 0; k < NUM_CAT; k++) out.cats[k].set(b.cats[k].subarray(0, b.rows), o);
    o += b.rows;
  }
  return out;
}

export function sliceRows(b: FeatureBatch, start: number, end: number): FeatureBatch {
  return {
    rows: end - start,
    label: b.label ? b.label.slice(start, end) : null,
    dense: b.dense.map((c) => c.slice(start, end)),
    cats: b.cats.map((c) => c.slice(start, end)),
  };
}

function parseText(text: Buffer, file: string): FeatureBatch {
  const parser = new TsvParser({ file, batchRows: 65536 });
  const out: FeatureBatch[] = [];
  const emit = (raw: RawBatch) => out.push(featurizeBatch(raw));
  parser.write(text, emit);
  parser.end(emit);
  return concat(out);
}

function split(name: string, all: FeatureBatch, testFraction: number, probs: Float64Array | null): Dataset {
  const testStart = all.rows - Math.round(all.rows * testFraction);
  return { name, train: sliceRows(all, 0, testStart), test: sliceRows(all, testStart, all.rows), testProbs: probs ? probs.slice(testStart) : null };
}

export function synthDataset(name: string, opts: SynthOptions, testFraction: number): Dataset {
  const texts: Buffer[] = [];
  const probs = new Float64Array(opts.rows);
  let o = 0;
  for (const b of synthBatches(opts)) {
    texts.push(Buffer.from(b.text));
    probs.set(b.probs, o);
    o += b.rows;
  }
  return split(name, parseText(Buffer.concat(texts), `synth:${name}`), testFraction, probs);
}

export function tsvDataset(name: string, file: string, testFraction: number): Dataset {
  return split(name, parseText(readFileSync(file), file), testFraction, null);
}

/** Row-major TrainBatches of `b` in a seeded order (the same for every kind that sees this seed). */
export function* trainBatches(b: FeatureBatch, batchSize: number, order: Uint32Array): Generator<TrainBatch> {
  for (let s = 0; s < order.length; s += batchSize) {
    const n = Math.min(batchSize, order.length - s);
    const dense = new Float32Array(n * NUM_DENSE);
    const cats = new Uint32Array(n * NUM_CAT);
    const label = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const r = order[s + i];
      for (let k = 0; k < NUM_DENSE; k++) dense[i * NUM_DENSE + k] = b.dense[k][r];
      for (let k = 0; k < NUM_CAT; k++) cats[i * NUM_CAT + k] = b.cats[k][r];
      label[i] = b.label![r];
    }
    yield { rows: n, dense, cats, label };
  }
}

/** Fisher-Yates permutation of 0..n-1 from a seeded PRNG. */
export function permutation(n: number, rand: () => number): Uint32Array {
  const p = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
