/**
 * The CPU step's products on tfjs (model/cpu/matmul.ts), both ways round: plain
 * Y = X W (XNNPACK packs W [in, out] on every call) against transposed Y^T = W^T X^T
 * (it packs X^T [in, rows]; the JS transposes of X and of the result counted in).
 * For each layer shape of the Kaggle MLPs and each row count, one JSON line with
 * ms per product and GFLOP/s of each form, and which one model/cpu/pass.ts picks;
 * beside them the same product through OpenBLAS (model/cpu/openblas.ts) where its
 * addon is built, the engine the CPU step then uses.
 *
 *   npx tsc -p . && node dist/bench/matmul.js [--backend wasm] [--rows 64,128,1024,2048] [--reps 30]
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { selectBackend } from '../model/backend.js';
import { transpose } from '../model/cpu/kernels.js';
import { BlasMatMul, TfMatMul } from '../model/cpu/matmul.js';
import { openBlas } from '../model/cpu/openblas.js';
import { smallSlice } from '../model/cpu/pass.js';

const { values: o } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    rows: { type: 'string', default: '64,128,1024,2048' },
    reps: { type: 'string', default: '30' },
    /** in x out of each layer; default: the Kaggle shape's bottom and top MLPs. */
    layers: { type: 'string', default: '13x512,512x256,256x64,64x16,367x512,512x256,256x1' },
  },
});

const backend = await selectBackend(o.backend, () => {});
const reps = Number(o.reps);
const mm = new TfMatMul();
const blasAddon = openBlas();
const blas = blasAddon ? new BlasMatMul(blasAddon) : undefined;
const random = (n: number) => Float32Array.from({ length: n }, () => Math.random() - 0.5);

/** Median ms of fn over reps runs, after two warm-up runs. */
function time(fn: () => void): number {
  fn();
  fn();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b)[ms.length >> 1];
}

for (const rows of o.rows!.split(',').map(Number)) {
  for (const layer of o.layers!.split(',')) {
    const [inn, out] = layer.split('x').map(Number);
    const x = random(rows * inn);
    const w = random(inn * out);
    const wt = transpose(w, inn, out, new Float32Array(inn * out)); // once per step in the pass
    const xt = new Float32Array(rows * inn);
    const y = new Float32Array(rows * out);
    const plain = time(() => mm.run(x, w, rows, out, inn, (c) => y.set(c.subarray(0, rows * out))));
    const transposed = time(() => {
      transpose(x, rows, inn, xt);
      mm.run(wt, xt, out, rows, inn, (ct) => transpose(ct, out, rows, y));
    });
    const viaBlas = blas ? time(() => blas.run(x, w, rows, out, inn, (c) => y.set(c.subarray(0, rows * out)))) : undefined;
    const gflop = (ms: number) => +((2 * rows * inn * out) / ms / 1e6).toFixed(1);
    process.stdout.write(
      JSON.stringify({
        backend,
        rows,
        in: inn,
        out,
        plain_ms: +plain.toFixed(3),
        transposed_ms: +transposed.toFixed(3),
        plain_gflops: gflop(plain),
        transposed_gflops: gflop(transposed),
        faster: transposed < plain ? 'transposed' : 'plain',
        pass_picks: smallSlice(rows, out) ? 'transposed' : 'plain',
        ...(viaBlas !== undefined ? { openblas_ms: +viaBlas.toFixed(3), openblas_gflops: gflop(viaBlas) } : { openblas: 'not built' }),
      }) + '\n',
    );
  }
}
tf.disposeVariables();
