/**
 * WGSL for the WebGPU embedding layer. One thread per element; a 1-D index spread
 * over a 2-D dispatch (x at most 65535 workgroups), i = gid.y * stride + gid.x.
 *
 *  locate:  locs[u*d + j] for each distinct pair u (memory location of element j)
 *  gather:  out[k*d + j] = memory[locs[idx[k]*d + j]]
 *  scatter: gsum[locs[u*d+j]] += sum of grad[k*d + j] over the lookups k of u: the
 *           lookups in pair order (occ) cut into chunks of SCATTER_CHUNK, one thread
 *           per chunk and j, which adds each run of one pair to its location
 *  apply:   each touched location takes its summed gradient once (atomicExchange
 *           with 0 leaves gsum zeroed for the next batch) and steps SGD / Adagrad.
 * Distinct pairs can share a location (SCMA shares memory by design), so the scatter
 * adds floats with a compare-and-swap loop on atomic<u32>; summing per location
 * before the step keeps Adagrad identical to the composite layer's dense update.
 */

export const WORKGROUP = 256;

/** Where codes come from: full-table rows, the HashNet hash, the SCMA mapping, the ROBE block hash, or CPU codes. */
export type LocateMode = 'rows' | 'hash' | 'scma' | 'robe' | 'codes';

/** Modes whose locate reads the pair's (feature, value) from keyA / keyB and salts from binding 3. */
export function hashesOnGpu(mode: LocateMode): boolean {
  return mode === 'hash' || mode === 'scma' || mode === 'robe';
}

const PARAMS = /* wgsl */ `
struct Params {
  n: u32,        // lookups (rows x 26)
  nu: u32,       // distinct pairs
  d: u32,
  m: u32,        // memory floats (locations are code mod m)
  nkeys: u32,    // SCMA mapping entries
  strideU: u32,  // threads per gid.y step of the nu*d dispatches
  strideN: u32,  // same for the n*d dispatch
  lr: f32,
  seedWord: u32, // HashNet / SCMA fallback / ROBE seed word
  block: u32,    // ROBE: Z, floats per contiguous block
  strideC: u32,  // threads per gid.y step of the scatter's chunks x d dispatch
  _p2: u32,
};
@group(0) @binding(0) var<uniform> p: Params;
`;

/** pipeline/hash.ts's fmix32 and hash2, word for word (u32 arithmetic wraps like Math.imul). */
const HASH = /* wgsl */ `
fn rotl(x: u32, r: u32) -> u32 { return (x << r) | (x >> (32u - r)); }
fn fmix32(h0: u32) -> u32 {
  var h = h0;
  h ^= h >> 16u;
  h *= 0x85ebca6bu;
  h ^= h >> 13u;
  h *= 0xc2b2ae35u;
  h ^= h >> 16u;
  return h;
}
fn hash2(a: u32, b: u32, seed: u32) -> u32 {
  var h = seed;
  var k = rotl(a * 0xcc9e2d51u, 15u);
  h ^= k * 0x1b873593u;
  h = rotl(h, 13u) * 5u + 0xe6546b64u;
  k = rotl(b * 0xcc9e2d51u, 15u);
  h ^= k * 0x1b873593u;
  h = rotl(h, 13u) * 5u + 0xe6546b64u;
  return fmix32(h ^ 8u);
}
`;

export function locateShader(mode: LocateMode): string {
  let bindings: string;
  let body: string;
  switch (mode) {
    case 'rows':
      bindings = `@group(0) @binding(1) var<storage, read> keyA: array<u32>;`; // row of pair u
      body = `locs[i] = keyA[u] * p.d + j;`;
      break;
    case 'codes':
      bindings = `@group(0) @binding(1) var<storage, read> keyA: array<u32>;`; // codes [nu*d]
      body = `locs[i] = keyA[i] % p.m;`;
      break;
    case 'hash':
      bindings = `@group(0) @binding(1) var<storage, read> keyA: array<u32>;
@group(0) @binding(2) var<storage, read> keyB: array<u32>;
@group(0) @binding(3) var<storage, read> salts: array<u32>;`;
      body = `locs[i] = fmix32(hash2(keyA[u], keyB[u], p.seedWord) ^ salts[j]) % p.m;`;
      break;
    case 'robe':
      // scma/robe-codes.ts: block c = j / Z starts at o_c = fmix32(hash2(f, v) ^ salt_c) >> 1
      // (31 bits, so o_c + Z - 1 cannot wrap 2^32); element j is o_c + (j - cZ), mod M.
      bindings = `@group(0) @binding(1) var<storage, read> keyA: array<u32>;
@group(0) @binding(2) var<storage, read> keyB: array<u32>;
@group(0) @binding(3) var<storage, read> salts: array<u32>;`;
      body = `let c = j / p.block;
  let o = fmix32(hash2(keyA[u], keyB[u], p.seedWord) ^ salts[c]) >> 1u;
  locs[i] = (o + (j - c * p.block)) % p.m;`;
      break;
    case 'scma':
      bindings = `@group(0) @binding(1) var<storage, read> keyA: array<u32>;
@group(0) @binding(2) var<storage, read> keyB: array<u32>;
@group(0) @binding(3) var<storage, read> salts: array<u32>;
@group(0) @binding(5) var<storage, read> mapF: array<u32>;
@group(0) @binding(6) var<storage, read> mapV: array<u32>;
@group(0) @binding(7) var<storage, read> mapCodes: array<u32>;`;
      // Mapping keys are sorted by (feature, value): binary search, else the HashNet fallback.
      body = `let f = keyA[u];
  let v = keyB[u];
  var lo = 0u;
  var hi = p.nkeys;
  loop {
    if (lo >= hi) { break; }
    let mid = (lo + hi) / 2u;
    let mf = mapF[mid];
    if (mf < f || (mf == f && mapV[mid] < v)) { lo = mid + 1u; } else { hi = mid; }
  }
  var code: u32;
  if (lo < p.nkeys && mapF[lo] == f && mapV[lo] == v) {
    code = mapCodes[lo * p.d + j];
  } else {
    code = fmix32(hash2(f, v, p.seedWord) ^ salts[j]);
  }
  locs[i] = code % p.m;`;
      break;
  }
  return `${PARAMS}${HASH}
${bindings}
@group(0) @binding(4) var<storage, read_write> locs: array<u32>;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.strideU + gid.x;
  if (i >= p.nu * p.d) { return; }
  let u = i / p.d;
  let j = i - u * p.d;
  ${body}
}
`;
}

export const GATHER_SHADER = `${PARAMS}
@group(0) @binding(1) var<storage, read> memory: array<f32>;
@group(0) @binding(2) var<storage, read> locs: array<u32>;
@group(0) @binding(3) var<storage, read> idx: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.strideN + gid.x;
  if (i >= p.n * p.d) { return; }
  let k = i / p.d;
  let j = i - k * p.d;
  out[i] = memory[locs[idx[k] * p.d + j]];
}
`;

/**
 * Lookups per scatter thread. A thread per pair (the old kernel) summed a hot pair's
 * lookups one after another: with Zipf-skewed ids a small feature's top value is half
 * of a 65,536-row batch, 36k dependent loads in one thread, and the scatter took 15 of
 * the step's 27 GPU ms. Chunks bound that chain at 64 loads; a pair cut by chunk
 * boundaries gets one atomic add per piece.
 */
export const SCATTER_CHUNK = 64;

/** Threads of the scatter dispatch for n lookups: one per chunk and element. */
export function scatterThreads(n: number, d: number): number {
  return Math.ceil(n / SCATTER_CHUNK) * d;
}

export const SCATTER_SHADER = `${PARAMS}
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read> locs: array<u32>;
@group(0) @binding(3) var<storage, read> idx: array<u32>;
@group(0) @binding(4) var<storage, read> occ: array<u32>;
@group(0) @binding(5) var<storage, read_write> gsum: array<atomic<u32>>;
fn addTo(l: u32, g: f32) {
  var old = atomicLoad(&gsum[l]);
  loop {
    let r = atomicCompareExchangeWeak(&gsum[l], old, bitcast<u32>(bitcast<f32>(old) + g));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.strideC + gid.x;
  let chunks = (p.n + ${SCATTER_CHUNK}u - 1u) / ${SCATTER_CHUNK}u;
  if (i >= chunks * p.d) { return; }
  let c = i / p.d;
  let j = i - c * p.d;
  let start = c * ${SCATTER_CHUNK}u;
  let end = min(start + ${SCATTER_CHUNK}u, p.n);
  // occ lists the lookups pair by pair; idx names each lookup's pair.
  var u = idx[occ[start]];
  var g = 0.0;
  for (var q = start; q < end; q++) {
    let k = occ[q];
    let v = idx[k];
    if (v != u) {
      addTo(locs[u * p.d + j], g);
      u = v;
      g = 0.0;
    }
    g += grad[k * p.d + j];
  }
  addTo(locs[u * p.d + j], g);
}
`;

export function applyShader(adagrad: boolean, eps: number): string {
  const step = adagrad
    ? `accum[l] = accum[l] + g * g;
  memory[l] = memory[l] - (g * p.lr) / (sqrt(accum[l]) + ${eps.toExponential()});`
    : `memory[l] = memory[l] - g * p.lr;`;
  return `${PARAMS}
@group(0) @binding(1) var<storage, read_write> memory: array<f32>;
@group(0) @binding(2) var<storage, read> locs: array<u32>;
@group(0) @binding(5) var<storage, read_write> gsum: array<atomic<u32>>;
${adagrad ? '@group(0) @binding(6) var<storage, read_write> accum: array<f32>;' : ''}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.strideU + gid.x;
  if (i >= p.nu * p.d) { return; }
  let l = locs[i];
  // The first (u, j) of a location takes its whole sum; the others see 0 and skip
  // (a sum that is exactly +0 changes nothing either way).
  let bits = atomicExchange(&gsum[l], 0u);
  if (bits == 0u) { return; }
  let g = bitcast<f32>(bits);
  ${step}
}
`;
}
