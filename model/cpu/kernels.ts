/**
 * The CPU step's element-wise and small kernels: tight loops over typed arrays the
 * caller preallocates (nothing here allocates). Semantics are model/fused/plan.ts's
 * ops (the interaction's pair order, ReLU masks on the post-activation, stable BCE),
 * so the CPU step, the WebGPU step and the tfjs model compute the same thing.
 */
import { NUM_FEATURES } from '../embedding/layer.js';

/** out[c, r] = a[r, c] for a [rows, cols]; blocked so both sides stay in cache. */
export function transpose(a: Float32Array, rows: number, cols: number, out: Float32Array): Float32Array {
  const B = 32;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) {
        const row = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = a[row + c];
      }
    }
  }
  return out;
}

/** y[r, n] = act(c[r, n] + bias[n]): the forward epilogue, out of the matmul's result. */
export function biasAct(c: Float32Array, bias: Float32Array, rows: number, n: number, relu: boolean, y: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    if (relu) {
      for (let j = 0; j < n; j++) {
        const v = c[o + j] + bias[j];
        y[o + j] = v < 0 ? 0 : v; // NaN stays NaN (as tfjs's relu): a diverged step must show in the loss
      }
    } else for (let j = 0; j < n; j++) y[o + j] = c[o + j] + bias[j];
  }
}

/** biasAct from the transposed product: y[r, n] = act(ct[n, r] + bias[n]) for ct [n, rows]. */
export function biasActT(ct: Float32Array, bias: Float32Array, rows: number, n: number, relu: boolean, y: Float32Array): void {
  for (let j = 0; j < n; j++) {
    const o = j * rows;
    const bj = bias[j];
    for (let r = 0; r < rows; r++) {
      const v = ct[o + r] + bj;
      y[r * n + j] = relu && v < 0 ? 0 : v; // NaN stays NaN, as in biasAct
    }
  }
}

/** dx[r, k] = ct[k, r] (where x[r, k] > 0 when masked) for ct [cols, rows]: maskInto from the transposed product. */
export function maskIntoT(ct: Float32Array, x: Float32Array, rows: number, cols: number, masked: boolean, dx: Float32Array): void {
  for (let k = 0; k < cols; k++) {
    const o = k * rows;
    if (masked) for (let r = 0; r < rows; r++) dx[r * cols + k] = x[r * cols + k] > 0 ? ct[o + r] : 0;
    else for (let r = 0; r < rows; r++) dx[r * cols + k] = ct[o + r];
  }
}

/** dx[i] = c[i] where x[i] > 0, else 0: ReLU's gradient, x being the ReLU's output. */
export function maskInto(c: Float32Array, x: Float32Array, size: number, dx: Float32Array): void {
  for (let i = 0; i < size; i++) dx[i] = x[i] > 0 ? c[i] : 0;
}

/** out[n] = sum over rows of g[r, n]. */
export function colsum(g: Float32Array, rows: number, n: number, out: Float32Array): void {
  out.fill(0, 0, n);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    for (let j = 0; j < n; j++) out[j] += g[o + j];
  }
}

/**
 * The dot interaction, forward: z[r] = [x[r], <t_i, t_j> for i = 1..26, j < i] with
 * t_0 = x[r], t_i = e[r, i-1]: DLRM's lower-triangle order (plan.ts pairIndex).
 * t: scratch of 27 x d floats.
 */
export function interact(x: Float32Array, e: Float32Array, rows: number, d: number, z: Float32Array, t: Float32Array): void {
  const w = d + ((NUM_FEATURES + 1) * NUM_FEATURES) / 2;
  const fd = NUM_FEATURES * d;
  for (let r = 0; r < rows; r++) {
    const zo = r * w;
    for (let k = 0; k < d; k++) t[k] = z[zo + k] = x[r * d + k];
    const eo = r * fd;
    for (let k = 0; k < fd; k++) t[d + k] = e[eo + k];
    let p = zo + d;
    for (let i = 1; i <= NUM_FEATURES; i++) {
      const ti = i * d;
      for (let j = 0; j < i; j++) z[p++] = dot(t, ti, j * d, d);
    }
  }
}

/**
 * sum over k < d of t[a + k] t[b + k], in float64. Four partial sums when d is a
 * multiple of 4 (every DLRM size here): independent chains run about 1.4x faster
 * in V8 than one (measured on the Kaggle shape's interaction).
 */
function dot(t: Float32Array, a: number, b: number, d: number): number {
  if ((d & 3) !== 0) {
    let s = 0;
    for (let k = 0; k < d; k++) s += t[a + k] * t[b + k];
    return s;
  }
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let k = 0; k < d; k += 4) {
    s0 += t[a + k] * t[b + k];
    s1 += t[a + k + 1] * t[b + k + 1];
    s2 += t[a + k + 2] * t[b + k + 2];
    s3 += t[a + k + 3] * t[b + k + 3];
  }
  return s0 + s1 + (s2 + s3);
}

/**
 * The interaction, backward: from dz [rows, d + 351], the gradient of x (masked by
 * x > 0: x is the bottom MLP's ReLU output) into dx and of the embeddings into de.
 * Pair (i, j) sends g * t_j to t_i and g * t_i to t_j, i.e. dT = S T with S the
 * pair gradients as a symmetric 27 x 27 matrix (zero diagonal). Row by row, S T is
 * summed four columns of T at a time in float64 locals: 1.6x faster in V8 than
 * adding each pair's two products into dt (measured on the Kaggle shape). t, dt:
 * scratch of 27 x d; sm: scratch of 27 x 27.
 */
export function interactBackward(x: Float32Array, e: Float32Array, dz: Float32Array, rows: number, d: number, dx: Float32Array, de: Float32Array, t: Float32Array, dt: Float32Array, sm: Float32Array): void {
  const n = NUM_FEATURES + 1;
  const w = d + (n * NUM_FEATURES) / 2;
  const fd = NUM_FEATURES * d;
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < d; k++) t[k] = x[r * d + k];
    const eo = r * fd;
    for (let k = 0; k < fd; k++) t[d + k] = e[eo + k];
    let p = r * w + d;
    for (let i = 1; i < n; i++) {
      for (let j = 0; j < i; j++) {
        const g = dz[p++];
        sm[i * n + j] = g;
        sm[j * n + i] = g;
      }
    }
    if ((d & 3) === 0) {
      for (let i = 0; i < n; i++) {
        const si = i * n;
        const ti = i * d;
        for (let k = 0; k < d; k += 4) {
          let a0 = 0;
          let a1 = 0;
          let a2 = 0;
          let a3 = 0;
          for (let j = 0; j < n; j++) {
            if (j === i) continue;
            const g = sm[si + j];
            const tj = j * d + k;
            a0 += g * t[tj];
            a1 += g * t[tj + 1];
            a2 += g * t[tj + 2];
            a3 += g * t[tj + 3];
          }
          dt[ti + k] = a0;
          dt[ti + k + 1] = a1;
          dt[ti + k + 2] = a2;
          dt[ti + k + 3] = a3;
        }
      }
    } else {
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < d; k++) {
          let a = 0;
          for (let j = 0; j < n; j++) if (j !== i) a += sm[i * n + j] * t[j * d + k];
          dt[i * d + k] = a;
        }
      }
    }
    const zo = r * w;
    for (let k = 0; k < d; k++) dx[r * d + k] = t[k] > 0 ? dz[zo + k] + dt[k] : 0;
    for (let k = 0; k < fd; k++) de[eo + k] = dt[d + k];
  }
}

/**
 * Binary cross-entropy of sigmoid(z) against y in its stable form
 * max(z,0) - z*y + log(1 + exp(-|z|)), over `rows` rows of a batch of `total`:
 * writes dL/dz of the batch mean into g and returns the rows' summed loss (float64).
 */
export function bceLoss(z: Float32Array, y: Float32Array, rows: number, g: Float32Array, total = rows): number {
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    const v = z[r];
    const e = Math.exp(-Math.abs(v));
    g[r] = ((v >= 0 ? 1 / (1 + e) : e / (1 + e)) - y[r]) / total;
    sum += Math.max(v, 0) - v * y[r] + Math.log1p(e);
  }
  return sum;
}

export function sigmoidInto(z: Float32Array, rows: number, out: Float32Array): void {
  for (let r = 0; r < rows; r++) out[r] = 1 / (1 + Math.exp(-z[r]));
}
