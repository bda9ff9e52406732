/**
 * Location codes: the uint32 words the embedding layer takes mod M. Shared by HashNet
 * (plain hash of (feature, value, j)) and SCMA (MinHash codes for sampled values, the
 * same plain hash for the rest), so both families are defined in one place.
 */
import { fmix32, hash2 } from '../core/hash.js';
import { invalidOption } from '../core/errors.js';

/**
 * Where element j of the embedding of (feature, value) lives: a uint32 code, taken
 * mod M by the embedding layer, so one code table serves every memory size.
 * HashNet computes codes with a plain hash; SCMA looks them up in the MinHash
 * mapping and falls back to the plain hash for values its sample never saw.
 */
export interface LocationCodes {
  readonly dim: number;
  /** Writes `dim` codes for (feature, value) into out[offset .. offset+dim). No allocation. */
  codesInto(feature: number, value: number, out: Uint32Array, offset: number): void;
}

/** Version of the hash definitions below; stored in mapping files. */
export const HASH_FAMILY = 'murmur3-fmix32-salted-v1';

// Distinct seed tweaks so that sampling, row hashes, code mixing and the HashNet
// fallback are independent functions even under one user seed.
const TWEAK_SAMPLE = 0x5a17e5a1;
const TWEAK_ROW = 0x0c0ffee5;
const TWEAK_SALT = 0x7ab1e5ed;
const TWEAK_CODE = 0x3c0de5ed;
const TWEAK_HASHNET = 0x4a54be70;

export function checkDim(dim: unknown, name = 'dim'): number {
  if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1 || dim > 65536) throw invalidOption(name, 'must be an integer in 1..65536', dim);
  return dim;
}

export function checkSeed(seed: unknown, name = 'seed'): number {
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw invalidOption(name, 'must be an integer in 0..4294967295', seed);
  return seed;
}

/** Row index r (a safe integer, possibly >= 2^32) as two uint32 words. */
function lo(r: number): number {
  return r >>> 0;
}
function hi(r: number): number {
  return Math.floor(r / 4294967296) >>> 0;
}

/** The key that orders rows for sampling: the sample is the P rows of smallest (key, r). */
export function sampleKey(r: number, seed: number): number {
  return hash2(lo(r), hi(r), (seed ^ TWEAK_SAMPLE) >>> 0);
}

/** One hash of the row id; h_kj(r) = fmix32(rowBase(r) ^ salt[k*d + j]). */
export function rowBase(r: number, seed: number): number {
  return hash2(lo(r), hi(r), (seed ^ TWEAK_ROW) >>> 0);
}

/** Per-(k, j) salts for the K x d MinHash functions, laid out k-major. */
export function minhashSalts(dim: number, numHash: number, seed: number): Uint32Array {
  const salts = new Uint32Array(dim * numHash);
  for (let k = 0; k < numHash; k++) for (let j = 0; j < dim; j++) salts[k * dim + j] = hash2(k, j, (seed ^ TWEAK_SALT) >>> 0);
  return salts;
}

/** Per-j starting words of g, the hash that turns the K minima of dimension j into a code. */
export function codeSalts(dim: number, seed: number): Uint32Array {
  const salts = new Uint32Array(dim);
  for (let j = 0; j < dim; j++) salts[j] = hash2(j, dim, (seed ^ TWEAK_CODE) >>> 0);
  return salts;
}

/**
 * g: murmur3's body over the K minima of dimension j (minima[k * stride + j]), then
 * its finalizer. Distinct minima tuples give distinct codes except with probability
 * about 2^-32, so equal codes mean equal minima up to the plain-hash collision rate.
 * The reduce passes minima with the sign bit flipped (its int32 form): a fixed bijection,
 * so it changes which code a tuple gets, never whether two tuples collide.
 */
export function combineMinima(minima: Uint32Array | Int32Array, j: number, stride: number, numHash: number, start: number): number {
  let h = start;
  for (let k = 0; k < numHash; k++) {
    let w = Math.imul(minima[k * stride + j], 0xcc9e2d51);
    w = (w << 15) | (w >>> 17);
    h ^= Math.imul(w, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  return fmix32(h ^ (numHash << 2));
}

/** Plain-hash codes: code_j(f, v) = fmix32(hash2(f, v, seed') ^ salt_j). HashNet's locations. */
export class HashNetCodes implements LocationCodes {
  readonly dim: number;
  readonly seed: number;
  private readonly seedWord: number;
  private readonly salts: Uint32Array;

  constructor(dim: number, seed: number) {
    this.dim = checkDim(dim);
    this.seed = checkSeed(seed);
    this.seedWord = (seed ^ TWEAK_HASHNET) >>> 0;
    this.salts = new Uint32Array(dim);
    for (let j = 0; j < dim; j++) this.salts[j] = hash2(j, 0x9e3779b9, this.seedWord);
  }

  codesInto(feature: number, value: number, out: Uint32Array, offset: number): void {
    const base = hash2(feature, value, this.seedWord);
    const salts = this.salts;
    for (let j = 0; j < salts.length; j++) out[offset + j] = fmix32(base ^ salts[j]);
  }
}

export function hashNetCodes(dim: number, seed: number): LocationCodes {
  return new HashNetCodes(dim, seed);
}
