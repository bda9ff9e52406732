/**
 * Synthetic Criteo-like click logs (raw Kaggle TSV: label, 13 integers, 26
 * categorical 8-hex-digit values), deterministic by seed, with a planted latent
 * structure that SCMA can exploit and a recorded true click probability per row.
 *
 * The model behind a row:
 *  - the row draws a hidden group g (Zipf-like group sizes);
 *  - each categorical value v of feature f belongs to group v mod G; a row of group g
 *    picks, per feature, a value of its own group with probability IN_GROUP (Zipf over
 *    the group's values), else a "background" value (Zipf over all values of the
 *    feature, scrambled so the background head is spread over the groups). Values of a
 *    group therefore co-occur in the same rows: their row sets overlap (high Jaccard);
 *  - click logit = b0 + group offset + a few small-feature value effects + dense effects,
 *    so the values of a group move the click probability alike; b0 is calibrated so the
 *    label rate is near LABEL_RATE.
 * Cardinalities follow the Kaggle profile (or Terabyte's, `profile: 'terabyte'`), saturating with the row count
 * (`values: 'uniform'` instead draws every categorical value uniformly over the whole cardinality); integers are
 * Lomax (heavy-tailed) counts with Kaggle-like medians, empty fields come in the same
 * co-missing blocks as in Kaggle.
 *
 * Nothing is kept per row: memory is a few per-feature tables whatever `rows` is.
 */
import { Readable, type Writable } from 'node:stream';
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { fmix32, hash2, mulberry32 } from '../core/hash.js';
import { invalidOption, PipelineError } from '../core/errors.js';
import { NUM_CAT, NUM_DENSE } from '../core/schema.js';
import { LATENT_DEFAULT_GROUPS, LatentClickModel, resolveLatentKnobs, type LatentKnobs } from './synth-latent.js';

/** Kaggle train.txt: rows and the 26 categorical cardinalities (shared/data/criteo/README.md). */
export const KAGGLE_ROWS = 45_840_617;
export const KAGGLE_CARDINALITIES: readonly number[] = [
  1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194, 27, 14992, 5461306, 10, 5652,
  2173, 4, 7046547, 18, 15, 286181, 105, 142572,
];

export const LABEL_RATE = 0.25;

/**
 * Criteo Terabyte (24 day files, ~4.4 billion rows): the 26 categorical cardinalities
 * DLRM and MLPerf use for it with --max-ind-range=40000000 (MLPerf's
 * --arch-embedding-size). Six features have 25.6M to 40M values, past a JS Map's 2^24.
 */
export const TERABYTE_CARDINALITIES: readonly number[] = [
  39884406, 39043, 17289, 7420, 20263, 3, 7120, 1543, 63, 38532951, 2953546, 403346, 10, 2208, 11938, 155, 4, 976, 14, 39979771, 25641295,
  39664984, 585935, 12972, 108, 36,
];
/** Click rate of the first 1,000 rows of Terabyte's day_0 (../shared/data/criteo/README.md): a rough figure from a small sample. */
export const TERABYTE_LABEL_RATE = 0.021;

/** Cardinality and label-rate profiles: 'kaggle' (the default) or 'terabyte'. */
export type SynthProfile = 'kaggle' | 'terabyte';
export const SYNTH_PROFILES: readonly SynthProfile[] = ['kaggle', 'terabyte'];
const PROFILES: Record<SynthProfile, { cardinalities: readonly number[]; labelRate: number }> = {
  kaggle: { cardinalities: KAGGLE_CARDINALITIES, labelRate: LABEL_RATE },
  terabyte: { cardinalities: TERABYTE_CARDINALITIES, labelRate: TERABYTE_LABEL_RATE },
};
/** New values per row while a feature is far from saturation (Kaggle's head shows ~0.5 for c3). */
const NEW_VALUE_RATE = 1;
const IN_GROUP = 0.8;
const GROUP_ZIPF = 0.8;
/**
 * Zipf exponents s of the in-group and background value picks. Ranks come from the
 * bounded power law rank = floor((1 + u a)^(1/(1-s))) - 1; 1/(s-1) is 5 and 20, so the
 * power is a few multiplications (see inv5/inv20), not Math.pow.
 */
const IN_GROUP_ZIPF = 1.2;
const BACKGROUND_ZIPF = 1.05;
const GROUP_SIGMA = 1.0;
const VALUE_EFFECT_SIGMA = 0.4;
/** Small features whose values have their own effect on the click (c6, c9, c14, c17, c20, c23). */
const VALUE_EFFECT_FEATURES = [5, 8, 13, 16, 19, 22];
/** Integers above this are clamped: Kaggle's largest are ~1e7, and parsers may use int32. */
const MAX_INT = 100_000_000;

/**
 * Heavy-tailed counts: floor(scale * ((1 - u)^-tail - 1)), a Lomax with alpha = 1/tail,
 * fitted by eye to the medians and 90th percentiles of Kaggle's first 10k rows. Tails are
 * 0.5, 1 or 2 so sampling needs a sqrt at most (Math.pow is the slowest thing in V8's math).
 */
const DENSE: readonly { tail: 0.5 | 1 | 2; scale: number; empty: number; block: number; weight: number }[] = [
  { tail: 1, scale: 1, empty: 0.45, block: 1, weight: 0.3 }, // i1
  { tail: 2, scale: 1, empty: 0, block: 0, weight: 0 }, // i2 (also -1 at times)
  { tail: 1, scale: 7, empty: 0.2, block: 0, weight: 0 }, // i3
  { tail: 0.5, scale: 9.7, empty: 0.2, block: 2, weight: 0 }, // i4
  { tail: 1, scale: 2469, empty: 0.03, block: 3, weight: -0.08 }, // i5
  { tail: 1, scale: 40, empty: 0.23, block: 0, weight: 0 }, // i6
  { tail: 1, scale: 3, empty: 0.03, block: 3, weight: 0.15 }, // i7
  { tail: 0.5, scale: 17, empty: 0.001, block: 0, weight: 0 }, // i8
  { tail: 1, scale: 41, empty: 0.03, block: 3, weight: 0 }, // i9
  { tail: 0.5, scale: 0.8, empty: 0.45, block: 1, weight: 0 }, // i10
  { tail: 0.5, scale: 3, empty: 0.03, block: 3, weight: 0 }, // i11
  { tail: 1, scale: 0.4, empty: 0.77, block: 0, weight: 0 }, // i12
  { tail: 0.5, scale: 13, empty: 0.2, block: 2, weight: 0 }, // i13
];
const I2_NEGATIVE = 0.04;

/** Empty rates per categorical feature; features of one block are empty in the same rows, as in Kaggle. */
const CAT_EMPTY: readonly number[] = [
  0, 0, 0.035, 0.035, 0, 0.12, 0, 0, 0, 0, 0, 0.035, 0, 0, 0, 0.035, 0, 0, 0.42, 0.42, 0.035, 0.7, 0, 0.035, 0.42, 0.42,
];
const CAT_BLOCK: readonly number[] = [0, 0, 4, 4, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 5, 5, 4, 0, 0, 4, 5, 5];
const NUM_BLOCKS = 6;

/** Longest possible line: label, 13 ints of <= 10 chars, 26 x 8 hex, 39 tabs, newline. */
const MAX_LINE = 1 + NUM_DENSE * 10 + NUM_CAT * 8 + 39 + 1;
const TAB = 9;
const NL = 10;
const HEX = new Uint8Array([...'0123456789abcdef'].map((c) => c.charCodeAt(0)));

/**
 * How categorical values are picked: 'zipf' (the default: a group's values and a
 * background, each with a Zipf head, over cardinalities that saturate with the row
 * count) or 'uniform' (every value uniform over the profile's whole cardinality, no
 * groups: the most distinct values a number of rows can hold, a stress case for
 * counting; with the Terabyte profile, 24M rows put ~18M distinct values in c1, past a
 * JS Map's 2^24).
 */
export type SynthValues = 'zipf' | 'uniform';
export const SYNTH_VALUES: readonly SynthValues[] = ['zipf', 'uniform'];
/** Uniform values: features of more values than this get no value effect (a table of one float per value would be 320 MB for c20). */
const UNIFORM_EFFECT_MAX_VALUES = 1 << 20;

/** 'default': the click sits in the row's group (what `npm start` uses); 'latent': in high-cardinality values' latent vectors (synth-latent.ts). */
export type SynthModelKind = 'default' | 'latent';
export const SYNTH_MODELS: readonly SynthModelKind[] = ['default', 'latent'];

export interface SynthOptions {
  rows: number;
  seed: number;
  /** Click model (default 'default'). */
  model?: SynthModelKind;
  /** Cardinalities and label rate (default 'kaggle'); cardinalities saturate with the row count either way. */
  profile?: SynthProfile;
  /** Value picks (default 'zipf'); 'uniform' is for the default click model only. */
  values?: SynthValues;
  /** Knobs of the latent model (synth-latent.ts); only with model 'latent'. */
  latent?: Partial<LatentKnobs>;
  /** Number of hidden groups (default 256, or 512 for the latent model). */
  groups?: number;
  /** Rows per generated batch / stream chunk (default 4096); never changes the output. */
  batchRows?: number;
}

export interface SynthBatch {
  rows: number;
  /** The rows as TSV bytes, each line ending in '\n'. */
  text: Buffer;
  /** True click probability of each row. */
  probs: Float64Array;
  /** Hidden state, for tests and diagnostics: each row's group and its value index per feature (-1 = empty), row-major. */
  latent: { group: Uint16Array; values: Int32Array };
}

/** Distinct values of a feature with Kaggle cardinality `kaggle` in a data set of `rows` rows. */
export function scaledCardinality(kaggle: number, rows: number): number {
  return Math.max(1, Math.min(kaggle, Math.round(kaggle * -Math.expm1((-NEW_VALUE_RATE * rows) / kaggle))));
}

function validate(opts: SynthOptions): Required<SynthOptions> {
  const { rows, seed, model = 'default', batchRows = 4096, profile = 'kaggle', values = 'zipf' } = opts;
  if (!SYNTH_MODELS.includes(model)) throw invalidOption('model', `must be one of ${SYNTH_MODELS.join(', ')}`, model);
  if (!SYNTH_PROFILES.includes(profile)) throw invalidOption('profile', `must be one of ${SYNTH_PROFILES.join(', ')}`, profile);
  if (!SYNTH_VALUES.includes(values)) throw invalidOption('values', `must be one of ${SYNTH_VALUES.join(', ')}`, values);
  if (values === 'uniform' && model === 'latent') throw invalidOption('values', "'uniform' has no groups for the latent model to use; use model 'default'", values);
  if (opts.latent !== undefined && model !== 'latent') throw invalidOption('latent', "applies to model 'latent' only", model);
  const latent = model === 'latent' ? resolveLatentKnobs(opts.latent) : {};
  const groups = opts.groups ?? (model === 'latent' ? LATENT_DEFAULT_GROUPS : 256);
  if (!Number.isSafeInteger(rows) || rows < 0) throw invalidOption('rows', 'must be a non-negative integer', rows);
  if (!Number.isSafeInteger(seed)) throw invalidOption('seed', 'must be an integer', seed);
  if (!Number.isSafeInteger(groups) || groups < 1 || groups > 65535) throw invalidOption('groups', 'must be an integer in 1..65535', groups);
  if (!Number.isSafeInteger(batchRows) || batchRows < 1) throw invalidOption('batchRows', 'must be a positive integer', batchRows);
  return { rows, seed, model, latent, groups, batchRows, profile, values };
}

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** `a` of the bounded power law on ranks [0, n): rank = floor((1 + u a)^(1/(1-s))) - 1. */
function zipfA(n: number, s: number): number {
  return Math.pow(n + 1, 1 - s) - 1;
}

/** y^-5 and y^-20, the bounded power laws of IN_GROUP_ZIPF and BACKGROUND_ZIPF. */
function inv5(y: number): number {
  const y2 = y * y;
  return 1 / (y2 * y2 * y);
}
function inv20(y: number): number {
  const y5 = y * y * y * y * y;
  const y10 = y5 * y5;
  return 1 / (y10 * y10);
}

/** The fixed part of the generator: everything drawn once from the seed. */
class SynthModel {
  readonly G: number;
  readonly card: Int32Array;
  readonly groupCdf: Float64Array;
  readonly groupEffect: Float64Array;
  /** Per feature x group: how many values the group owns, and their Zipf constant. */
  readonly groupCount: Int32Array;
  readonly groupA: Float64Array;
  readonly backgroundA: Float64Array;
  /** Background rank r -> value (r * mul + add) mod card: a bijection scattering the head over the groups. */
  readonly scrambleMul: Float64Array;
  readonly scrambleAdd: Float64Array;
  readonly valueEffect: (Float64Array | null)[];
  readonly hexKey: number;
  /** The latent click model, or null for the default one. */
  readonly latent: LatentClickModel | null;
  /** Values uniform over `card` (which is then the profile's whole cardinality), ignoring the groups. */
  readonly uniform: boolean;
  b0 = 0;

  readonly labelRate: number;

  constructor(rows: number, seed: number, groups: number, latent: Partial<LatentKnobs> | null = null, profile: SynthProfile = 'kaggle', values: SynthValues = 'zipf') {
    const seedLo = seed >>> 0;
    const seedHi = Math.floor(seed / 4294967296) >>> 0;
    const rand = mulberry32(hash2(seedLo, seedHi, 0x5eed0001));
    this.hexKey = hash2(seedLo, seedHi, 0x5eed0002);
    const G = (this.G = groups);
    this.uniform = values === 'uniform';
    this.card = Int32Array.from(PROFILES[profile].cardinalities, (k) => (this.uniform ? k : scaledCardinality(k, rows)));
    this.labelRate = PROFILES[profile].labelRate;

    this.groupCdf = new Float64Array(G);
    let total = 0;
    for (let g = 0; g < G; g++) this.groupCdf[g] = total += Math.pow(g + 1, -GROUP_ZIPF);
    for (let g = 0; g < G; g++) this.groupCdf[g] /= total;
    this.groupEffect = Float64Array.from({ length: G }, () => GROUP_SIGMA * gaussian(rand));

    this.groupCount = new Int32Array(NUM_CAT * G);
    this.groupA = new Float64Array(NUM_CAT * G);
    this.backgroundA = new Float64Array(NUM_CAT);
    this.scrambleMul = new Float64Array(NUM_CAT);
    this.scrambleAdd = new Float64Array(NUM_CAT);
    for (let f = 0; f < NUM_CAT; f++) {
      const c = this.card[f];
      for (let g = 0; g < G; g++) {
        const n = g < c ? Math.floor((c - 1 - g) / G) + 1 : 0;
        this.groupCount[f * G + g] = n;
        this.groupA[f * G + g] = zipfA(n, IN_GROUP_ZIPF);
      }
      this.backgroundA[f] = zipfA(c, BACKGROUND_ZIPF);
      let mul = Math.floor(rand() * c) + Math.floor(c / 2) + 1;
      while (gcd(mul, c) !== 1) mul++;
      this.scrambleMul[f] = mul;
      this.scrambleAdd[f] = Math.floor(rand() * c);
    }
    this.valueEffect = Array.from({ length: NUM_CAT }, (_, f) =>
      VALUE_EFFECT_FEATURES.includes(f) && !(this.uniform && this.card[f] > UNIFORM_EFFECT_MAX_VALUES)
        ? Float64Array.from({ length: this.card[f] }, () => VALUE_EFFECT_SIGMA * gaussian(rand)) : null,
    );
    // Drawn from its own stream: the default model's tables above are the same in both modes.
    this.latent = latent ? new LatentClickModel(seed, G, this.card, latent) : null;
  }
}

/**
 * The pure core: a sequential row sampler. One PRNG stream, a fixed number of draws per
 * row kind, so the output depends only on (rows, seed, groups), never on batching.
 */
export class SynthGenerator {
  readonly rows: number;
  readonly groups: number;
  private readonly model: SynthModel;
  private state: number;
  private emitted = 0;
  private readonly blockU = new Float64Array(NUM_BLOCKS);
  private readonly dense = new Float64Array(NUM_DENSE);
  private readonly cats = new Int32Array(NUM_CAT);
  private group = 0;

  constructor(opts: SynthOptions) {
    const { rows, seed, groups, model, latent, profile, values } = validate(opts);
    this.rows = rows;
    this.groups = groups;
    this.model = new SynthModel(rows, seed, groups, model === 'latent' ? latent : null, profile, values);
    this.state = hash2(seed >>> 0, Math.floor(seed / 4294967296) >>> 0, 0x5eed0003);
    this.model.b0 = this.calibrate(hash2(this.state, 1, 0x5eed0004));
  }

  get remaining(): number {
    return this.rows - this.emitted;
  }

  /** mulberry32, inlined: this is the hot path. */
  private rand(): number {
    const s = (this.state = (this.state + 0x6d2b79f5) | 0);
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Draws one row into this.group/dense/cats (NaN / -1 = empty) and returns its logit without b0. */
  private drawRow(): number {
    const m = this.model;
    const G = m.G;
    for (let b = 1; b < NUM_BLOCKS; b++) this.blockU[b] = this.rand();

    const u = this.rand();
    let lo = 0;
    let hi = G - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (m.groupCdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    const g = (this.group = lo);
    const lat = m.latent;
    let z = lat ? 0 : m.groupEffect[g];

    for (let j = 0; j < NUM_DENSE; j++) {
      const d = DENSE[j];
      const e = d.block ? this.blockU[d.block] : this.rand();
      const v = this.rand();
      if (e < d.empty) {
        this.dense[j] = NaN;
        continue;
      }
      let x: number;
      if (j === 1 && v < I2_NEGATIVE) x = -1;
      else {
        let w = 1 / (1 - v);
        if (d.tail === 2) w *= w;
        else if (d.tail === 0.5) w = Math.sqrt(w);
        x = Math.min(MAX_INT, Math.floor(d.scale * (w - 1)));
      }
      this.dense[j] = x;
      if (d.weight !== 0) z += d.weight * Math.log1p(Math.max(x, 0));
    }

    for (let f = 0; f < NUM_CAT; f++) {
      const block = CAT_BLOCK[f];
      const e = block ? this.blockU[block] : this.rand();
      const pick = this.rand();
      const r = this.rand();
      if (e < CAT_EMPTY[f]) {
        this.cats[f] = -1;
        continue;
      }
      const k = f * G + g;
      let v: number;
      // pick and r are drawn either way, so each row takes the same number of draws.
      if (m.uniform) v = Math.floor(r * m.card[f]);
      else if (pick < (lat ? lat.inGroupOf(f) : IN_GROUP) && m.groupCount[k] > 0) {
        const rank = Math.min(m.groupCount[k] - 1, Math.floor(inv5(1 + r * m.groupA[k])) - 1);
        v = g + G * rank;
      } else {
        const c = m.card[f];
        const rank = Math.min(c - 1, Math.floor(inv20(1 + r * m.backgroundA[f])) - 1);
        v = (rank * m.scrambleMul[f] + m.scrambleAdd[f]) % c;
      }
      this.cats[f] = v;
      const eff = m.valueEffect[f];
      if (eff !== null && !lat) z += eff[v];
    }
    if (lat) z += lat.logit(this.cats);
    return z;
  }

  /** b0 such that the mean click probability is the profile's label rate, over a probe sample of rows. */
  private calibrate(probeSeed: number): number {
    const saved = this.state;
    this.state = probeSeed;
    const z = Float64Array.from({ length: 8192 }, () => this.drawRow());
    this.state = saved;
    let lo = -20;
    let hi = 20;
    for (let it = 0; it < 60; it++) {
      const b = (lo + hi) / 2;
      let mean = 0;
      for (let i = 0; i < z.length; i++) mean += 1 / (1 + Math.exp(-(b + z[i])));
      if (mean / z.length > this.model.labelRate) hi = b;
      else lo = b;
    }
    return (lo + hi) / 2;
  }

  /** The 8-hex-digit string of value index v of feature f (a bijection: no two values share a string). */
  hexOf(f: number, v: number): string {
    return fmix32(((v * 32 + f) ^ this.model.hexKey) >>> 0)
      .toString(16)
      .padStart(8, '0');
  }

  /** The next up to `maxRows` rows (0 rows when done). */
  next(maxRows: number): SynthBatch {
    const n = Math.max(0, Math.min(maxRows, this.remaining));
    const out = Buffer.allocUnsafe(n * MAX_LINE);
    const probs = new Float64Array(n);
    const group = new Uint16Array(n);
    const values = new Int32Array(n * NUM_CAT);
    const key = this.model.hexKey;
    let p = 0;
    for (let i = 0; i < n; i++) {
      const z = this.drawRow();
      const prob = 1 / (1 + Math.exp(-(this.model.b0 + z)));
      const label = this.rand() < prob ? 1 : 0;
      probs[i] = prob;
      group[i] = this.group;
      out[p++] = 48 + label;
      for (let j = 0; j < NUM_DENSE; j++) {
        out[p++] = TAB;
        const x = this.dense[j];
        if (x !== x) continue; // NaN: empty
        p = writeInt(out, p, x);
      }
      for (let f = 0; f < NUM_CAT; f++) {
        out[p++] = TAB;
        const v = this.cats[f];
        values[i * NUM_CAT + f] = v;
        if (v < 0) continue;
        const h = fmix32(((v * 32 + f) ^ key) >>> 0);
        for (let s = 28; s >= 0; s -= 4) out[p++] = HEX[(h >>> s) & 15];
      }
      out[p++] = NL;
    }
    this.emitted += n;
    return { rows: n, text: out.subarray(0, p), probs, latent: { group, values } };
  }
}

function writeInt(out: Buffer, p: number, x: number): number {
  if (x < 0) {
    out[p++] = 45; // '-'
    x = -x;
  }
  if (x < 10) {
    out[p++] = 48 + x;
    return p;
  }
  let digits = 0;
  for (let y = x; y >= 1; y = Math.floor(y / 10)) digits++;
  for (let k = p + digits - 1; k >= p; k--) {
    out[k] = 48 + (x % 10);
    x = Math.floor(x / 10);
  }
  return p + digits;
}

/** Batches of rows; the concatenated text is the same whatever batchRows is. */
export function* synthBatches(opts: SynthOptions): Generator<SynthBatch> {
  const gen = new SynthGenerator(opts);
  const batchRows = opts.batchRows ?? 4096;
  while (gen.remaining > 0) yield gen.next(batchRows);
}

/** Rows one at a time (convenient, slower than synthBatches): the line without its '\n', and its true click probability. */
export function* synthRows(opts: SynthOptions): Generator<{ line: string; prob: number }> {
  for (const batch of synthBatches(opts)) {
    const lines = batch.text.toString('latin1').split('\n');
    for (let i = 0; i < batch.rows; i++) yield { line: lines[i], prob: batch.probs[i] };
  }
}

/** One probability per line, 9 significant decimals: enough to rank rows for an oracle AUC. */
export function formatProbs(probs: Float64Array): string {
  let s = '';
  for (let i = 0; i < probs.length; i++) s += `${Math.round(probs[i] * 1e9) / 1e9}\n`;
  return s;
}

/** A Readable of TSV bytes; `onProbs` sees each chunk's probabilities in order. */
export function synthStream(opts: SynthOptions & { onProbs?: (probs: Float64Array) => void }): Readable {
  const gen = new SynthGenerator(opts); // validates now, not on first read
  const batchRows = opts.batchRows ?? 4096;
  return new Readable({
    read() {
      // One batch per call: Readable calls again while under its highWaterMark.
      if (gen.remaining === 0) {
        this.push(null);
        return;
      }
      const batch = gen.next(batchRows);
      opts.onProbs?.(batch.probs);
      this.push(batch.text);
    },
  });
}

/** Resolves on 'finish'-style completion, rejects on the stream's first error. */
function watch(stream: Writable, file: string): { failed: Promise<never>; error: () => Error | null } {
  let err: Error | null = null;
  const failed = new Promise<never>((_, reject) =>
    stream.on('error', (e: Error) => {
      err = new PipelineError('ERR_SYNTH_OUTPUT', `cannot write: ${e.message}`, { file, cause: e });
      reject(err);
    }),
  );
  failed.catch(() => {});
  return { failed, error: () => err };
}

function openOut(out: string | Writable): { stream: Writable; close: boolean; name: string } {
  if (typeof out !== 'string') return { stream: out, close: false, name: '(stream)' };
  if (out === '-') return { stream: process.stdout, close: false, name: '(stdout)' };
  return { stream: createWriteStream(out), close: true, name: out };
}

/**
 * Writes `rows` synthetic rows to `out` (a path, '-' for stdout, or a Writable) and,
 * when `probsOut` is given, one true click probability per line to it. Waits for
 * 'drain' whenever a destination is full, so memory stays bounded.
 */
export async function writeSynth(
  opts: SynthOptions & { out: string | Writable; probsOut?: string | Writable },
): Promise<void> {
  const gen = new SynthGenerator(opts);
  const batchRows = opts.batchRows ?? 4096;
  const dests = [openOut(opts.out), ...(opts.probsOut !== undefined ? [openOut(opts.probsOut)] : [])];
  const watches = dests.map((d) => watch(d.stream, d.name));
  const anyFailure = Promise.race(watches.map((w) => w.failed));
  try {
    while (gen.remaining > 0) {
      const batch = gen.next(batchRows);
      const full: Promise<unknown>[] = [];
      if (!dests[0].stream.write(batch.text)) full.push(new Promise((r) => dests[0].stream.once('drain', r)));
      if (dests[1] && !dests[1].stream.write(formatProbs(batch.probs))) full.push(new Promise((r) => dests[1].stream.once('drain', r)));
      if (full.length) await Promise.race([Promise.all(full), anyFailure]);
      for (const w of watches) if (w.error()) throw w.error();
    }
    // Files are ended and must finish (open/write errors surface here); stdout is only flushed.
    await Promise.race([
      Promise.all(
        dests.map((d) =>
          d.close
            ? finished(d.stream.end())
            : new Promise<void>((resolve, reject) => d.stream.write('', (err) => (err ? reject(err) : resolve()))),
        ),
      ),
      anyFailure,
    ]);
  } catch (err) {
    for (const d of dests) if (d.close) d.stream.destroy();
    throw err;
  }
}
