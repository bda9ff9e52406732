/**
 * The optional OpenBLAS addon (native/openblas-gemm, built at `npm ci` when the
 * system has OpenBLAS's headers; native/build.mjs). Its single-precision GEMM runs at
 * 66-90 GFLOP/s on one thread of the dev machine against 25-28 for tfjs-wasm's
 * XNNPACK on the same products (bench/matmul.ts), so the CPU step uses it when it is
 * there. CPU_STEP_MATMUL=xnnpack forces tfjs; CPU_STEP_MATMUL=openblas makes a
 * missing addon an error instead of a fallback.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { PipelineError } from '../../core/errors.js';

export interface OpenBlas {
  /** C[M, N] = op(A) op(B), row-major; op(A): A [M, K], or A stored [K, M] when transA (B likewise). */
  sgemm(a: Float32Array, b: Float32Array, c: Float32Array, M: number, N: number, K: number, transA?: boolean, transB?: boolean): void;
}

/** Where the addon lies from this module: compiled (dist/model/cpu) or bundled beside the repository root. */
const CANDIDATES = ['../../../native/openblas-gemm/build/Release/openblas_gemm.node', '../../native/openblas-gemm/build/Release/openblas_gemm.node'];

let loaded: { addon?: OpenBlas; why?: string } | undefined;

/** The addon, or undefined (with the reason in openBlasMissing()) when it is not built or not wanted. */
export function openBlas(): OpenBlas | undefined {
  if (!loaded) {
    const want = process.env.CPU_STEP_MATMUL ?? 'auto';
    if (!['auto', 'openblas', 'xnnpack'].includes(want)) throw new PipelineError('ERR_INVALID_OPTION', `CPU_STEP_MATMUL must be auto, openblas or xnnpack, got ${JSON.stringify(want)}`);
    loaded = want === 'xnnpack' ? { why: 'off (CPU_STEP_MATMUL=xnnpack)' } : load();
    if (want === 'openblas' && !loaded.addon) throw new PipelineError('ERR_INVALID_OPTION', `CPU_STEP_MATMUL=openblas, but the OpenBLAS addon is not available (${loaded.why}); install libopenblas-dev and rerun npm ci`);
  }
  return loaded.addon;
}

export function openBlasMissing(): string | undefined {
  openBlas();
  return loaded?.why;
}

function load(): { addon?: OpenBlas; why?: string } {
  const require = createRequire(import.meta.url);
  let why = 'not built (native/build.mjs at npm ci: needs OpenBLAS headers, e.g. Debian libopenblas-dev)';
  for (const rel of CANDIDATES) {
    const file = fileURLToPath(new URL(rel, import.meta.url));
    try {
      const addon = require(file) as OpenBlas;
      if (typeof addon.sgemm === 'function') return { addon };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'MODULE_NOT_FOUND') why = `${file} did not load: ${(e as Error).message}`;
    }
  }
  return { why };
}
