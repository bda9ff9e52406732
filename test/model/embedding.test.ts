import t from 'tap';
import * as tf from '@tensorflow/tfjs-core';
import { createDlrm } from '../../model/dlrm.js';
import { selectBackend } from '../../model/backend.js';
import { createEmbedding, EMBEDDING_IMPLS } from '../../model/embedding/index.js';
import type { DlrmConfig, ModelState, TrainBatch } from '../../model/types.js';
import { F, randomBatch, specFor, tinyConfig } from './fixtures.js';

const quiet = { backend: 'cpu', log: () => {} };
const KINDS = ['full', 'hashnet', 'scma', 'robe'] as const;

function bce(p: Float32Array, y: Float32Array): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) s -= y[i] ? Math.log(p[i]) : Math.log(1 - p[i]);
  return s / p.length;
}

function withMemory(state: ModelState, l: number, delta: number): ModelState {
  const values = state.embedding[0].values.slice();
  values[l] += delta;
  return { ...state, embedding: [{ ...state.embedding[0], values }] };
}

for (const kind of KINDS) {
  t.test(`${kind}: the embedding gradient matches finite differences of the loss`, async (t) => {
    // lr = 1 with SGD: memory_before - memory_after is exactly d(loss)/d(memory).
    const cfg: DlrmConfig = tinyConfig(kind, { learningRate: 1, embeddingDim: 3, bottomMlp: [13, 6, 3], topMlp: [5, 1] });
    const batch = randomBatch(6, 6, 42);
    const m = await createDlrm(cfg, { ...quiet, embeddingImpl: 'composite' });
    const start = await m.exportState();
    await m.trainStep(batch);
    const after = (await m.exportState()).embedding[0].values;
    const grad = start.embedding[0].values.map((v, i) => v - after[i]);
    const order = Array.from(grad.keys()).sort((a, b) => Math.abs(grad[b]) - Math.abs(grad[a]));
    const untouched = order.filter((i) => grad[i] === 0).slice(0, 2);
    const probe = await createDlrm(cfg, quiet);
    const h = 1e-3;
    let checked = 0;
    for (const l of [...order.slice(0, 6), ...untouched]) {
      probe.importState(withMemory(start, l, h));
      const up = bce(await probe.predict(batch), batch.label!);
      probe.importState(withMemory(start, l, -h));
      const down = bce(await probe.predict(batch), batch.label!);
      const fd = (up - down) / (2 * h);
      t.ok(Math.abs(fd - grad[l]) <= 3e-4 + 0.03 * Math.abs(grad[l]), `location ${l}: autodiff ${grad[l].toExponential(3)}, finite difference ${fd.toExponential(3)}`);
      checked++;
    }
    t.ok(Math.abs(grad[order[0]]) > 1e-3, 'the gradient is not trivially zero');
    t.ok(checked >= 6);
    m.dispose();
    probe.dispose();
  });
}

t.test('HashNet/SCMA/ROBE lookups equal memory[code mod M], full lookups the vocabulary row', async (t) => {
  await selectBackend('cpu', () => {});
  for (const kind of KINDS) {
    for (const impl of EMBEDDING_IMPLS) {
      const d = 5;
      const spec = specFor(kind, d, 6, 151);
      const layer = createEmbedding(impl, 'cpu', { spec, dim: d, learningRate: 0.1, optimizer: 'sgd', seed: 9 });
      const mem = (await layer.exportState()).embedding[0].values;
      const rows = 4;
      const { cats } = randomBatch(rows, 6, 8);
      const out = tf.tidy(() => layer.embed(layer.begin(cats, rows)));
      t.same(out.shape, [rows, F, d]);
      const got = out.dataSync();
      out.dispose();
      layer.end();
      const codes = new Uint32Array(d);
      let mismatches = 0;
      let modMattered = false;
      for (let r = 0; r < rows; r++) {
        for (let f = 0; f < F; f++) {
          const v = cats[r * F + f];
          for (let j = 0; j < d; j++) {
            let want: number;
            if (spec.kind === 'full') {
              let row = 0;
              for (let g = 0; g < f; g++) row += spec.vocab.size(g);
              want = mem[(row + spec.vocab.index(f, v)) * d + j];
            } else {
              spec.codes.codesInto(f, v, codes, 0);
              if (codes[j] >= spec.memoryFloats) modMattered = true;
              want = mem[codes[j] % spec.memoryFloats];
            }
            if (got[(r * F + f) * d + j] !== want) mismatches++;
          }
        }
      }
      t.equal(mismatches, 0, `${kind}/${impl}`);
      if (kind !== 'full') t.ok(modMattered, 'codes exceed M, so the mod is exercised');
      layer.dispose();
    }
  }
});

t.test('vocabulary rows out of range are refused clearly and leave no batch begun', async (t) => {
  const m = await createDlrm(tinyConfig('full', { embedding: { kind: 'full', vocab: { size: () => 3, index: () => 7 } } }), quiet);
  await t.rejects(m.trainStep(randomBatch(2, 6, 1)), { code: 'ERR_VOCAB_INDEX', message: /field c1: vocabulary index 7 for value \d+ is outside feature c1's table of 3 rows/ });
  // The failed step must not leave a batch half begun.
  const n = tf.memory().numTensors;
  await t.rejects(m.trainStep(randomBatch(2, 6, 1)));
  t.equal(tf.memory().numTensors, n);
});

function batches(n: number, rows: number): TrainBatch[] {
  return Array.from({ length: n }, (_, i) => randomBatch(rows, 6, 500 + i));
}

for (const opt of ['sgd', 'adagrad'] as const) {
  t.test(`every implementation matches the composite one after several steps (${opt})`, async (t) => {
    for (const kind of KINDS) {
      const cfg = tinyConfig(kind, { embeddingOptimizer: opt, learningRate: 0.3 });
      const ref = await createDlrm(cfg, { ...quiet, embeddingImpl: 'composite' });
      const data = batches(4, 24);
      const refLoss: number[] = [];
      for (const b of data) refLoss.push(await ref.trainStep(b));
      const refState = await ref.exportState();
      const refPred = await ref.predict(data[0]);
      for (const impl of EMBEDDING_IMPLS.filter((i) => i !== 'composite')) {
        const m = await createDlrm(cfg, { ...quiet, embeddingImpl: impl });
        t.equal(m.embedding.impl, impl);
        for (let s = 0; s < data.length; s++) {
          const loss = await m.trainStep(data[s]);
          t.ok(Math.abs(loss - refLoss[s]) < 1e-5, `${kind}/${impl} step ${s}: loss ${loss} vs ${refLoss[s]}`);
        }
        const state = await m.exportState();
        const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((mx, v, i) => Math.max(mx, Math.abs(v - b[i])), 0);
        t.ok(maxDiff(state.embedding[0].values, refState.embedding[0].values) < 1e-5, `${kind}/${impl}: same updated memory`);
        if (opt === 'adagrad') t.ok(maxDiff(state.optimizer[0].values, refState.optimizer[0].values) < 1e-5, `${kind}/${impl}: same Adagrad accumulators`);
        for (let i = 0; i < state.dense.length; i++) t.ok(maxDiff(state.dense[i].values, refState.dense[i].values) < 1e-5, `${kind}/${impl}: same ${state.dense[i].name}`);
        t.ok(maxDiff(await m.predict(data[0]), refPred) < 1e-5, `${kind}/${impl}: same predictions`);
        // The memory did move: the comparison is not between two untouched arrays.
        const init = (await (await createDlrm(cfg, quiet)).exportState()).embedding[0].values;
        t.ok(maxDiff(state.embedding[0].values, init) > 1e-3, `${kind}/${impl}: memory was updated`);
        m.dispose();
      }
      ref.dispose();
    }
  });
}
