/**
 * Seeded initialisation as facebookresearch/dlrm does it: dense layers
 * W ~ N(0, sqrt(2/(m+n))), bias ~ N(0, sqrt(1/m)); embedding tables
 * U(-sqrt(1/n), sqrt(1/n)) with n the table's rows. Each parameter draws from its
 * own stream (seed, parameter id), so one parameter's size never shifts another's
 * values, and every embedding implementation starts from identical memory.
 */
import { hash2, mulberry32 } from '../core/hash.js';

export function paramRng(seed: number, paramId: number): () => number {
  return mulberry32(hash2(seed >>> 0, paramId >>> 0, 0x5ca1ab1e));
}

export function fillNormal(out: Float32Array, std: number, rng: () => number): Float32Array {
  for (let i = 0; i < out.length; i += 2) {
    // Box-Muller; 1 - u keeps log's argument in (0, 1].
    const r = Math.sqrt(-2 * Math.log(1 - rng()));
    const a = 2 * Math.PI * rng();
    out[i] = std * r * Math.cos(a);
    if (i + 1 < out.length) out[i + 1] = std * r * Math.sin(a);
  }
  return out;
}

export function fillUniform(out: Float32Array, bound: number, rng: () => number, from = 0, to = out.length): Float32Array {
  for (let i = from; i < to; i++) out[i] = (2 * rng() - 1) * bound;
  return out;
}
