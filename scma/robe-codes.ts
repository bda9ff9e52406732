/**
 * ROBE-Z location codes (Random Offset Block Embedding, Desai, Chou and Shrivastava,
 * MLSys 2022; reference apd10/dlrm). One shared array of M floats serves every
 * feature, as for HashNet and SCMA, but the d elements of an embedding are read as
 * ceil(d / Z) blocks of Z contiguous floats: block c of (feature, value) starts at a
 * hashed offset o_c and covers o_c .. o_c + Z - 1, wrapping around the end of the
 * array. Contiguous blocks make lookups cache- and coalescing-friendly, and two values
 * that collide share a whole block, not scattered single floats.
 *
 * As codes: code_j = o_c + (j - c Z) for j in block c. The layer takes codes mod M, and
 * o_c < 2^31 keeps o_c + Z - 1 below 2^32, so (o_c + i) mod M = ((o_c mod M) + i) mod M:
 * the block is contiguous modulo M for every M, and one code table serves every size.
 */
import { fmix32, hash2 } from '../core/hash.js';
import { invalidOption } from '../core/errors.js';
import { checkDim, checkSeed, type LocationCodes } from './codes.js';

const TWEAK_ROBE = 0x60be0b1c;

export class RobeCodes implements LocationCodes {
  readonly dim: number;
  /** Z, the block size (d: one block per embedding, ROBE-Z with Z = d). */
  readonly block: number;
  readonly seed: number;
  private readonly seedWord: number;
  private readonly salts: Uint32Array;

  constructor(dim: number, seed: number, block: number = dim) {
    this.dim = checkDim(dim);
    this.seed = checkSeed(seed);
    if (!Number.isSafeInteger(block) || block < 1 || block > dim) throw invalidOption('robe-block', `must be an integer in 1..${dim} (the embedding size)`, block);
    this.block = block;
    this.seedWord = (seed ^ TWEAK_ROBE) >>> 0;
    const blocks = Math.ceil(dim / block);
    this.salts = Uint32Array.from({ length: blocks }, (_, c) => hash2(c, 0x2545f491, this.seedWord));
  }

  /** The offset o_c of block c of (feature, value): 31 bits, so o_c + Z never wraps 2^32. */
  offset(feature: number, value: number, c: number): number {
    return fmix32(hash2(feature, value, this.seedWord) ^ this.salts[c]) >>> 1;
  }

  codesInto(feature: number, value: number, out: Uint32Array, offset: number): void {
    const base = hash2(feature, value, this.seedWord);
    const z = this.block;
    const d = this.dim;
    for (let c = 0, j = 0; j < d; c++) {
      const o = fmix32(base ^ this.salts[c]) >>> 1;
      for (let i = 0; i < z && j < d; i++, j++) out[offset + j] = o + i;
    }
  }
}

export function robeCodes(dim: number, seed: number, block?: number): LocationCodes {
  return new RobeCodes(dim, seed, block);
}
