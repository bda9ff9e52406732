/**
 * WGSL for the fused DLRM step (plan.ts says what each op computes; reference.ts
 * computes the same in JS). Binding 0 is always the op's uniform block; storage
 * bindings follow in the order the runner (step.ts) lists them. Every declared
 * binding is used, so 'auto' pipeline layouts contain exactly these.
 */
import { NUM_FEATURES } from '../embedding/layer.js';
import { MATMUL_TILE, NUM_PAIRS, type Epilogue } from './plan.js';

/** Rows of K staged in workgroup memory per iteration of the matmul's main loop. */
const KT = 16;
/** Threads per tile side; each thread computes (MATMUL_TILE / SIDE)^2 = 16 outputs. */
const SIDE = 16;
const PER = MATMUL_TILE / SIDE;

/**
 * C[M, N] = op(A) op(B) (+ epilogue), tiled: a workgroup of 16x16 threads owns a
 * 64x64 output tile, stages 16-deep slices of A and B in workgroup memory (stride 65
 * so the transposing stores do not all hit one bank) and each thread accumulates a
 * 4x4 block, rows lid.y + 16i and columns lid.x + 16j (so reads of B's slice and
 * writes of C are contiguous across a warp). workgroup_id.z selects a K range
 * (split-K); its product goes to C + z * cStride.
 */
export function matmulShader(transA: boolean, transB: boolean, epilogue: Epilogue): string {
  const T = MATMUL_TILE;
  const S = T + 1;
  const loadA = transA
    ? `let kk = e / ${T}u; let mm = e % ${T}u; let gm = m0 + mm; let gk = k0 + kk;
      var v = 0.0; if (gm < p.M && gk < kEnd) { v = A[gk * p.M + gm]; }`
    : `let mm = e / ${KT}u; let kk = e % ${KT}u; let gm = m0 + mm; let gk = k0 + kk;
      var v = 0.0; if (gm < p.M && gk < kEnd) { v = A[gm * p.K + gk]; }`;
  const loadB = transB
    ? `let nn = e / ${KT}u; let kk = e % ${KT}u; let gn = n0 + nn; let gk = k0 + kk;
      var v = 0.0; if (gn < p.N && gk < kEnd) { v = B[gn * p.K + gk]; }`
    : `let kk = e / ${T}u; let nn = e % ${T}u; let gn = n0 + nn; let gk = k0 + kk;
      var v = 0.0; if (gn < p.N && gk < kEnd) { v = B[gk * p.N + gn]; }`;
  const extra = epilogue === 'none' ? '' : '@group(0) @binding(4) var<storage, read> X: array<f32>;';
  let epi = '';
  if (epilogue === 'bias' || epilogue === 'bias-relu') epi = 'v = v + X[n];';
  if (epilogue === 'bias-relu') epi += ' v = max(v, 0.0);';
  if (epilogue === 'mask') epi = 'if (!(X[m * p.N + n] > 0.0)) { v = 0.0; }';
  return /* wgsl */ `
struct P { M: u32, N: u32, K: u32, kChunk: u32, cStride: u32, _p0: u32, _p1: u32, _p2: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
${extra}
var<workgroup> As: array<f32, ${KT * S}>;
var<workgroup> Bs: array<f32, ${KT * S}>;
@compute @workgroup_size(${SIDE}, ${SIDE})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let m0 = wg.y * ${T}u;
  let n0 = wg.x * ${T}u;
  let kBegin = wg.z * p.kChunk;
  let kEnd = min(p.K, kBegin + p.kChunk);
  var acc: array<vec4<f32>, ${PER}>;
  for (var i = 0u; i < ${PER}u; i++) { acc[i] = vec4<f32>(0.0); }
  var k0 = kBegin;
  loop {
    if (k0 >= kEnd) { break; }
    for (var r = 0u; r < ${(T * KT) / (SIDE * SIDE)}u; r++) {
      let e = tid + r * ${SIDE * SIDE}u;
      {
        ${loadA}
        As[kk * ${S}u + mm] = v;
      }
      {
        ${loadB}
        Bs[kk * ${S}u + nn] = v;
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${KT}u; kk++) {
      let b = vec4<f32>(Bs[kk * ${S}u + lid.x], Bs[kk * ${S}u + lid.x + 16u], Bs[kk * ${S}u + lid.x + 32u], Bs[kk * ${S}u + lid.x + 48u]);
      for (var i = 0u; i < ${PER}u; i++) {
        acc[i] = acc[i] + As[kk * ${S}u + lid.y + 16u * i] * b;
      }
    }
    workgroupBarrier();
    k0 = k0 + ${KT}u;
  }
  for (var i = 0u; i < ${PER}u; i++) {
    let m = m0 + lid.y + 16u * i;
    if (m >= p.M) { continue; }
    for (var j = 0u; j < ${PER}u; j++) {
      let n = n0 + lid.x + 16u * j;
      if (n >= p.N) { continue; }
      var v = acc[i][j];
      ${epi}
      C[wg.z * p.cStride + m * p.N + n] = v;
    }
  }
}
`;
}

/** One workgroup per batch row (rows spread over x and y: r = y * nx + x). */
const ROW_PARAMS = /* wgsl */ `
struct P { rows: u32, nx: u32, _p0: u32, _p1: u32 };
@group(0) @binding(0) var<uniform> p: P;
`;

/** T = [x, e_1..e_26] of row r into workgroup memory (row stride d + 1 against bank conflicts). */
function loadT(d: number): string {
  return `for (var e = tid; e < ${(NUM_FEATURES + 1) * d}u; e += 64u) {
    let i = e / ${d}u;
    let k = e - i * ${d}u;
    var v: f32;
    if (i == 0u) { v = x[r * ${d}u + k]; } else { v = E[(r * ${NUM_FEATURES}u + i - 1u) * ${d}u + k]; }
    T[i * ${d + 1}u + k] = v;
  }`;
}

/** Z[r] = [x, <t_i, t_j> for the 351 pairs in DLRM's order (pairs[q] = i << 8 | j)]. */
export function interactShader(d: number): string {
  const w = d + NUM_PAIRS;
  return /* wgsl */ `${ROW_PARAMS}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> E: array<f32>;
@group(0) @binding(3) var<storage, read_write> Z: array<f32>;
@group(0) @binding(4) var<storage, read> pairs: array<u32>;
var<workgroup> T: array<f32, ${(NUM_FEATURES + 1) * (d + 1)}>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let r = wg.y * p.nx + wg.x;
  if (r >= p.rows) { return; }
  ${loadT(d)}
  for (var k = tid; k < ${d}u; k += 64u) { Z[r * ${w}u + k] = x[r * ${d}u + k]; }
  workgroupBarrier();
  for (var q = tid; q < ${NUM_PAIRS}u; q += 64u) {
    let ij = pairs[q];
    let i = ij >> 8u;
    let j = ij & 255u;
    var s = 0.0;
    for (var k = 0u; k < ${d}u; k++) { s = s + T[i * ${d + 1}u + k] * T[j * ${d + 1}u + k]; }
    Z[r * ${w}u + ${d}u + q] = s;
  }
}
`;
}

/**
 * dT_i = sum over j != i of dZ[pair(i, j)] t_j; dx = (dZ[:d] + dT_0) where x > 0
 * (x is the bottom MLP's ReLU output), else 0; dE_f = dT_f.
 */
export function interactBackwardShader(d: number): string {
  const w = d + NUM_PAIRS;
  return /* wgsl */ `${ROW_PARAMS}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> E: array<f32>;
@group(0) @binding(3) var<storage, read> dZ: array<f32>;
@group(0) @binding(4) var<storage, read_write> dX: array<f32>;
@group(0) @binding(5) var<storage, read_write> dE: array<f32>;
var<workgroup> T: array<f32, ${(NUM_FEATURES + 1) * (d + 1)}>;
var<workgroup> G: array<f32, ${NUM_PAIRS}>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let r = wg.y * p.nx + wg.x;
  if (r >= p.rows) { return; }
  ${loadT(d)}
  for (var q = tid; q < ${NUM_PAIRS}u; q += 64u) { G[q] = dZ[r * ${w}u + ${d}u + q]; }
  workgroupBarrier();
  for (var e = tid; e < ${(NUM_FEATURES + 1) * d}u; e += 64u) {
    let i = e / ${d}u;
    let k = e - i * ${d}u;
    var s = 0.0;
    for (var j = 0u; j < ${NUM_FEATURES + 1}u; j++) {
      if (j == i) { continue; }
      let hi = max(i, j);
      let lo = min(i, j);
      s = s + G[(hi * (hi - 1u)) / 2u + lo] * T[j * ${d + 1}u + k];
    }
    if (i == 0u) {
      var v = 0.0;
      if (T[k] > 0.0) { v = dZ[r * ${w}u + k] + s; }
      dX[r * ${d}u + k] = v;
    } else {
      dE[(r * ${NUM_FEATURES}u + i - 1u) * ${d}u + k] = s;
    }
  }
}
`;
}

const SCALAR_PARAMS = /* wgsl */ `
struct P { rows: u32, invRows: f32, _p0: u32, _p1: u32 };
@group(0) @binding(0) var<uniform> p: P;
`;

/** Per row: d(mean BCE)/d(logit) = (sigmoid(z) - y) / rows, and the row's BCE in its stable form. */
export const LOSS_SHADER = /* wgsl */ `${SCALAR_PARAMS}
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> label: array<f32>;
@group(0) @binding(3) var<storage, read_write> dlogit: array<f32>;
@group(0) @binding(4) var<storage, read_write> rowLoss: array<f32>;
fn log1p(v: f32) -> f32 {
  let u = 1.0 + v;
  if (u == 1.0) { return v; }
  return log(u) * v / (u - 1.0);
}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  if (r >= p.rows) { return; }
  let z = logits[r];
  let y = label[r];
  let e = exp(-abs(z));
  var s: f32;
  if (z >= 0.0) { s = 1.0 / (1.0 + e); } else { s = e / (1.0 + e); }
  dlogit[r] = (s - y) * p.invRows;
  rowLoss[r] = max(z, 0.0) - z * y + log1p(e);
}
`;

/** One workgroup: acc[0] += mean of rowLoss, acc[1] += 1 (steps). Read only when asked. */
export const LOSS_SUM_SHADER = /* wgsl */ `${SCALAR_PARAMS}
@group(0) @binding(1) var<storage, read> rowLoss: array<f32>;
@group(0) @binding(2) var<storage, read_write> acc: array<f32>;
var<workgroup> s: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var t = 0.0;
  for (var r = lid; r < p.rows; r += 256u) { t = t + rowLoss[r]; }
  s[lid] = t;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w >> 1u) {
    if (lid < w) { s[lid] = s[lid] + s[lid + w]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    acc[0] = acc[0] + s[0] * p.invRows;
    acc[1] = acc[1] + 1.0;
  }
}
`;

export const SIGMOID_SHADER = /* wgsl */ `${SCALAR_PARAMS}
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> prob: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  if (r >= p.rows) { return; }
  prob[r] = 1.0 / (1.0 + exp(-logits[r]));
}
`;

/** part[s, n] = sum of g[r, n] over the rows r of split s (chunk rows each); 64 columns x 4 row lanes per workgroup. */
export const COLSUM_SHADER = /* wgsl */ `
struct P { rows: u32, width: u32, chunk: u32, _p0: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;
var<workgroup> s: array<f32, 256>;
@compute @workgroup_size(64, 4)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = wg.x * 64u + lid.x;
  let r0 = wg.y * p.chunk;
  let r1 = min(p.rows, r0 + p.chunk);
  var t = 0.0;
  if (n < p.width) {
    for (var r = r0 + lid.y; r < r1; r += 4u) { t = t + g[r * p.width + n]; }
  }
  s[lid.y * 64u + lid.x] = t;
  workgroupBarrier();
  if (lid.y == 0u && n < p.width) {
    part[wg.y * p.width + n] = ((s[lid.x] + s[64u + lid.x]) + s[128u + lid.x]) + s[192u + lid.x];
  }
}
`;

/** The step's rate: a uniform of its buffer set, written with the batch (a schedule changes it per step). */
const STEP_RATE = /* wgsl */ `
struct P { size: u32, splits: u32, _p0: u32, _p1: u32 };
struct Step { lr: f32, _s0: f32, _s1: f32, _s2: f32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> part: array<f32>;
@group(0) @binding(3) var<uniform> step: Step;
`;

/** param -= lr * (sum of its split partial gradients). */
export const SGD_SHADER = /* wgsl */ `${STEP_RATE}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= p.size) { return; }
  var g = 0.0;
  for (var s = 0u; s < p.splits; s++) { g = g + part[s * p.size + i]; }
  param[i] = param[i] - g * step.lr;
}
`;

/**
 * Dense Adagrad, as torch.optim.Adagrad and the tfjs model (model/dlrm.ts) step:
 * G += g^2; param -= (g lr) / (sqrt(G) + eps), G from 0, eps outside the sqrt.
 */
export function adagradShader(eps: number): string {
  return /* wgsl */ `${STEP_RATE}
@group(0) @binding(4) var<storage, read_write> accum: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= p.size) { return; }
  var g = 0.0;
  for (var s = 0u; s < p.splits; s++) { g = g + part[s * p.size + i]; }
  let a = accum[i] + g * g;
  accum[i] = a;
  param[i] = param[i] - (g * step.lr) / (sqrt(a) + ${eps.toExponential()});
}
`;
}
