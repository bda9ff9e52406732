/**
 * The click model of `synth --model latent`: data whose click signal sits in the
 * embeddings of high-cardinality values, so that compressing their memory costs AUC
 * and the way memory is shared matters (issue 11).
 *
 *  - The high-cardinality features (c3, c4, c12, c16, c21 in the Kaggle profile) pick
 *    a value of the row's hidden group with probability `inGroup`; every other feature
 *    is drawn independently of the group (so only those five reveal it).
 *  - Each high-cardinality value v of feature f has a latent vector
 *      u(f, v) = sqrt(1 - dev^2) * w(group(v)) + dev * delta(f, v)
 *    with w ~ N(0, I_r) per group and delta ~ N(0, I_r) per value: its semantic group's
 *    vector plus its own deviation. Component 0 doubles as the value's scalar effect.
 *  - A few small "context" features (c6, c9, c14, c17, c20, c23) have latent vectors
 *    q(f, v) ~ N(0, I_r) per value.
 *  - logit = b0 + dense effects + main * sum_f u_f[0] / sqrt(5)
 *            + pair * sum over pairs {a, b} of present latent vectors <a, b> / sqrt(r * pairs)
 *    The pair term is what DLRM's dot interaction models; the main term is linear.
 *
 * Values of a group co-occur (they are picked together in rows of that group), and
 * values of a group move the click alike (their vectors share w): the structure SCMA
 * is meant to exploit. delta is a hash of (seed, f, v), so nothing is stored per value.
 */
import { fmix32, hash2, mulberry32 } from '../core/hash.js';
import { invalidOption } from '../core/errors.js';
import { NUM_CAT } from '../core/schema.js';

/** c3, c4, c12, c16, c21: the features with millions of values in Kaggle. */
export const HIGH_CARD_FEATURES: readonly number[] = [2, 3, 11, 15, 20];
/** c6, c9, c14, c17, c20, c23: small features whose values interact with the high-cardinality ones. */
export const CONTEXT_FEATURES: readonly number[] = [5, 8, 13, 16, 19, 22];

export interface LatentKnobs {
  /** r, the size of the true latent vectors. */
  latentDim: number;
  /** Probability that a high-cardinality feature picks a value of the row's group. */
  inGroup: number;
  /** Share of a value's vector that is its own (0: values of a group are identical; 1: groups mean nothing). */
  deviation: number;
  /** Weight of the linear (scalar) value effects. */
  main: number;
  /** Weight of the pairwise latent interactions. */
  pair: number;
}

export const LATENT_DEFAULTS: Readonly<LatentKnobs> = { latentDim: 4, inGroup: 0.9, deviation: 0.3, main: 0.5, pair: 0.6 };
/**
 * Groups of the latent model. Calibrated on an H200 (1M rows, Kaggle model, one epoch,
 * Adagrad 0.05): with 2048 groups full tables reached 0.716 against an oracle of 0.796
 * (64% of the lift), with 512 groups and deviation 0.3 0.771 against 0.836 (81%).
 */
export const LATENT_DEFAULT_GROUPS = 512;

export function resolveLatentKnobs(k: Partial<LatentKnobs> = {}): LatentKnobs {
  const o = { ...LATENT_DEFAULTS, ...k };
  if (!Number.isSafeInteger(o.latentDim) || o.latentDim < 1 || o.latentDim > 64) throw invalidOption('latentDim', 'must be an integer in 1..64', o.latentDim);
  for (const [name, v] of [['inGroup', o.inGroup], ['deviation', o.deviation]] as const) {
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw invalidOption(name, 'must be a number in [0, 1]', v);
  }
  for (const [name, v] of [['main', o.main], ['pair', o.pair]] as const) {
    if (typeof v !== 'number' || !(v >= 0 && v <= 100)) throw invalidOption(name, 'must be a number in [0, 100]', v);
  }
  return o;
}

const isHigh = new Uint8Array(NUM_CAT);
for (const f of HIGH_CARD_FEATURES) isHigh[f] = 1;
const contextIndex = new Int8Array(NUM_CAT).fill(-1);
CONTEXT_FEATURES.forEach((f, i) => (contextIndex[f] = i));

/** Standard normal from a hash word pair (Box-Muller); deterministic, no PRNG state. */
function hashGaussian(a: number, b: number): number {
  const u1 = (a + 1) / 4294967297; // (0, 1)
  const u2 = b / 4294967296;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

export class LatentClickModel {
  readonly knobs: LatentKnobs;
  readonly groups: number;
  /** w: groups x r. */
  readonly groupVectors: Float64Array;
  /** q: per context feature, card x r. */
  readonly contextVectors: Float64Array[];
  private readonly key: number;
  private readonly shared: number;
  /** Scratch: the row's present latent vectors, stacked. */
  private readonly stack: Float64Array;

  constructor(seed: number, groups: number, card: ArrayLike<number>, knobs: Partial<LatentKnobs> = {}) {
    this.knobs = resolveLatentKnobs(knobs);
    const r = this.knobs.latentDim;
    this.groups = groups;
    const rand = mulberry32(hash2(seed >>> 0, Math.floor(seed / 4294967296) >>> 0, 0x1a7e0001));
    this.key = hash2(seed >>> 0, Math.floor(seed / 4294967296) >>> 0, 0x1a7e0002);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    this.groupVectors = Float64Array.from({ length: groups * r }, gauss);
    this.contextVectors = CONTEXT_FEATURES.map((f) => Float64Array.from({ length: card[f] * r }, gauss));
    this.shared = Math.sqrt(1 - this.knobs.deviation ** 2);
    this.stack = new Float64Array((HIGH_CARD_FEATURES.length + CONTEXT_FEATURES.length) * r);
  }

  /** Probability that feature f picks from the row's group (the rest draw independently of it). */
  inGroupOf(f: number): number {
    return isHigh[f] ? this.knobs.inGroup : 0;
  }

  /** u(f, v) into out[at .. at+r). */
  valueVector(f: number, v: number, out: Float64Array, at = 0): void {
    const r = this.knobs.latentDim;
    const g = v % this.groups;
    const dev = this.knobs.deviation;
    const base = hash2(f, v, this.key);
    for (let k = 0; k < r; k++) {
      const a = fmix32(base ^ Math.imul(k + 1, 0x9e3779b9));
      const b = fmix32(a ^ 0x85ebca6b);
      out[at + k] = this.shared * this.groupVectors[g * r + k] + dev * hashGaussian(a, b);
    }
  }

  /** The categorical part of the logit for one row's value indices (-1 = empty). */
  logit(cats: Int32Array): number {
    const { latentDim: r, main, pair } = this.knobs;
    const s = this.stack;
    let n = 0;
    let linear = 0;
    for (const f of HIGH_CARD_FEATURES) {
      const v = cats[f];
      if (v < 0) continue;
      this.valueVector(f, v, s, n * r);
      linear += s[n * r];
      n++;
    }
    for (let i = 0; i < CONTEXT_FEATURES.length; i++) {
      const v = cats[CONTEXT_FEATURES[i]];
      if (v < 0) continue;
      s.set(this.contextVectors[i].subarray(v * r, v * r + r), n * r);
      n++;
    }
    let dots = 0;
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        let d = 0;
        for (let k = 0; k < r; k++) d += s[a * r + k] * s[b * r + k];
        dots += d;
      }
    }
    const maxPairs = ((HIGH_CARD_FEATURES.length + CONTEXT_FEATURES.length) * (HIGH_CARD_FEATURES.length + CONTEXT_FEATURES.length - 1)) / 2;
    return (main * linear) / Math.sqrt(HIGH_CARD_FEATURES.length) + (pair * dots) / Math.sqrt(r * maxPairs);
  }
}
