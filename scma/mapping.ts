/**
 * The SCMA mapping in memory: (feature, value) -> d uint32 codes for the values the
 * sample saw, the HashNet plain hash for every other value, computed on the fly.
 * Lookups go through an open-addressing table over typed arrays: no allocation and
 * no JS objects per value, so millions of values cost a few bytes each beyond codes.
 */
import type { LocationCodes } from './codes.js';
import { fmix32 } from '../core/hash.js';
import { HashNetCodes } from './codes.js';
import { bytesOf, checksumHex, crc32 } from '../core/checksum.js';

/**
 * CRC-32 over the feature, value and code columns, in that order: what a mapping
 * means, whatever its file's Arrow batching. Stored in the file's metadata and
 * checked on load; also the mapping's identity for train --resume.
 */
export function mappingChecksum(features: Uint8Array, values: Uint32Array, codes: Uint32Array): string {
  return checksumHex(crc32(bytesOf(codes), crc32(bytesOf(values), crc32(bytesOf(features)))));
}

export const MAPPING_VERSION = 1;

export interface ScmaMeta {
  dim: number;
  numHash: number;
  /** P, the sample size asked for. */
  sample: number;
  seed: number;
  hashFamily: string;
  version: number;
  /** Distinct (feature, value) pairs with MinHash codes. */
  values: number;
  /** Rows actually sampled (min(P, input rows)). */
  sampledRows: number;
  /** Input rows the sample was drawn from. */
  inputRows: number;
}

function slotHash(feature: number, value: number): number {
  return fmix32(value ^ Math.imul(feature + 1, 0x9e3779b1));
}

export class ScmaMapping implements LocationCodes {
  readonly meta: ScmaMeta;
  readonly dim: number;
  /** Sorted by (feature, value); codes row-major, dim per value. */
  readonly features: Uint8Array;
  readonly values: Uint32Array;
  readonly codes: Uint32Array;
  /** Codes of values the sample never saw (HashNet behaviour). */
  readonly fallback: HashNetCodes;
  private readonly table: Int32Array;
  private readonly mask: number;
  private checksum?: string;

  /** mappingChecksum of this mapping's contents (computed once). */
  get contentChecksum(): string {
    return (this.checksum ??= mappingChecksum(this.features, this.values, this.codes));
  }

  constructor(meta: ScmaMeta, features: Uint8Array, values: Uint32Array, codes: Uint32Array) {
    const n = values.length;
    if (features.length !== n || codes.length !== n * meta.dim) throw new RangeError(`mapping arrays disagree: ${features.length} features, ${n} values, ${codes.length} codes at dim ${meta.dim}`);
    this.meta = { ...meta, values: n };
    this.dim = meta.dim;
    this.features = features;
    this.values = values;
    this.codes = codes;
    this.fallback = new HashNetCodes(meta.dim, meta.seed);
    let cap = 16;
    while (cap < n * 2) cap *= 2;
    this.mask = cap - 1;
    this.table = new Int32Array(cap).fill(-1);
    for (let i = 0; i < n; i++) {
      let p = slotHash(features[i], values[i]) & this.mask;
      while (this.table[p] !== -1) p = (p + 1) & this.mask;
      this.table[p] = i;
    }
  }

  /** Row of (feature, value) in features/values/codes, or -1 when the sample never saw it. */
  indexOf(feature: number, value: number): number {
    const table = this.table;
    const mask = this.mask;
    let p = slotHash(feature, value) & mask;
    for (;;) {
      const i = table[p];
      if (i === -1) return -1;
      if (this.values[i] === value && this.features[i] === feature) return i;
      p = (p + 1) & mask;
    }
  }

  codesInto(feature: number, value: number, out: Uint32Array, offset: number): void {
    const i = this.indexOf(feature, value);
    if (i < 0) {
      this.fallback.codesInto(feature, value, out, offset);
      return;
    }
    const codes = this.codes;
    const d = this.dim;
    const o = i * d;
    for (let j = 0; j < d; j++) out[offset + j] = codes[o + j];
  }

  /** Convenience (allocates): the codes of (feature, value). Hot paths use codesInto. */
  codesOf(feature: number, value: number): Uint32Array {
    const out = new Uint32Array(this.dim);
    this.codesInto(feature, value, out, 0);
    return out;
  }

  /** Bytes of the codes and keys (what the reference stores as N x d int64). */
  get byteLength(): number {
    return this.codes.byteLength + this.values.byteLength + this.features.byteLength;
  }
}
