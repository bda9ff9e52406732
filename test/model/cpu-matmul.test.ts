import t from 'tap';
import { spawnSync } from 'node:child_process';
import { selectBackend } from '../../model/backend.js';
import { BlasMatMul, TfMatMul, type MatMul } from '../../model/cpu/matmul.js';
import { openBlas, openBlasMissing } from '../../model/cpu/openblas.js';
import { relativeDiff } from '../../model/fused/reference.js';

/**
 * The CPU step's products (model/cpu/matmul.ts): tfjs (XNNPACK on wasm) and, where
 * native/build.mjs built it at npm ci, OpenBLAS, each against a float64 product, with
 * every transpose combination, odd sizes and arrays on shared memory (the worker
 * threads' case).
 */
function reference(a: Float32Array, b: Float32Array, M: number, N: number, K: number, ta: boolean, tb: boolean): Float64Array {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (ta ? a[k * M + i] : a[i * K + k]) * (tb ? b[j * K + k] : b[k * N + j]);
      c[i * N + j] = s;
    }
  return c;
}

let seed = 7;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
const shared = (n: number) => new Float32Array(new SharedArrayBuffer(4 * n));

/** The assertions check uses (tap's Test type is not exported simply). */
interface Tap {
  ok(v: unknown, msg: string): unknown;
  equal(a: unknown, b: unknown, msg: string): unknown;
}

async function check(t: Tap, mm: MatMul): Promise<void> {
  for (const [M, N, K] of [
    [1, 1, 1],
    [7, 13, 5],
    [64, 33, 129],
    [130, 17, 64],
  ]) {
    for (const ta of [false, true])
      for (const tb of [false, true]) {
        const a = shared(M * K).map(rand);
        const b = new Float32Array(K * N).map(rand);
        let got: Float32Array | undefined;
        mm.run(a, b, M, N, K, (c) => (got = c.slice(0, M * N)), ta, tb);
        const d = relativeDiff(got!, reference(a, b, M, N, K, ta, tb));
        t.ok(d < 1e-5, `${mm.engine} ${M}x${N}x${K} transA=${ta} transB=${tb}: rel diff ${d.toExponential(2)}`);
      }
  }
  t.equal(mm.calls, 16, 'calls counted');
  t.equal(mm.macs, 4 * (1 + 7 * 13 * 5 + 64 * 33 * 129 + 130 * 17 * 64), 'multiply-adds counted');
}

t.test('tfjs products against float64', async (t) => {
  await selectBackend(process.env.CPU_STEP_TEST_BACKEND ?? 'cpu', () => {});
  await check(t, new TfMatMul());
});

const blas = openBlas();
t.test('OpenBLAS products against float64', { skip: blas ? false : `OpenBLAS addon: ${openBlasMissing()}` }, async (t) => {
  await check(t, new BlasMatMul(blas!));
  t.throws(() => blas!.sgemm(new Float32Array(5), new Float32Array(6), new Float32Array(4), 2, 2, 3), { name: 'RangeError', message: /shorter/ }, 'a short array is refused, not read past');
  t.throws(() => blas!.sgemm(new Float64Array(6) as unknown as Float32Array, new Float32Array(6), new Float32Array(4), 2, 2, 3), { name: 'TypeError', message: /a must be a Float32Array/ });
  t.throws(() => blas!.sgemm(new Float32Array(6), new Float32Array(6), new Float32Array(4), 0, 2, 3), { name: 'RangeError', message: /M must be a positive integer/ });
});

t.test('CPU_STEP_MATMUL: xnnpack forces tfjs; a bad value or a missing addon asked for by name is an error', async (t) => {
  const probe = (value: string) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(new URL('../../model/cpu/matmul.js', import.meta.url).href)}); await (await import(${JSON.stringify(new URL('../../model/backend.js', import.meta.url).href)})).selectBackend('cpu', () => {}); try { console.log(m.createMatMul().engine); } catch (e) { console.log('error ' + e.code + ' ' + e.message); }`], {
      env: { ...process.env, CPU_STEP_MATMUL: value },
      encoding: 'utf8',
    }).stdout.trim();
  t.equal(probe('xnnpack'), 'tfjs');
  t.match(probe('fast'), /^error ERR_INVALID_OPTION CPU_STEP_MATMUL must be auto, openblas or xnnpack/);
  t.equal(probe('auto'), blas ? 'openblas' : 'tfjs');
  if (blas) t.equal(probe('openblas'), 'openblas');
  else t.match(probe('openblas'), /^error ERR_INVALID_OPTION CPU_STEP_MATMUL=openblas, but the OpenBLAS addon is not available/);
});
