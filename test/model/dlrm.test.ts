import t from 'tap';
import * as tf from '@tensorflow/tfjs-core';
import { createDlrm, interactionSize, validateDlrmConfig } from '../../model/dlrm.js';
import type { DlrmConfig, ModelState } from '../../model/types.js';
import { F, randomBatch, specFor, tableCodes, tinyConfig } from './fixtures.js';

const quiet = { backend: 'cpu', log: () => {} };

/** DLRM's forward in float64 from exported state: an independent reading of DESIGN §3. */
function referencePredict(state: ModelState, cfg: DlrmConfig, batch: { rows: number; dense: Float32Array; cats: Uint32Array }): number[] {
  const d = cfg.embeddingDim;
  const get = (name: string) => state.dense.find((a) => a.name === name)!;
  const mem = state.embedding[0].values;
  const mlp = (x: number[], prefix: string, layers: number, lastLinear: boolean) => {
    for (let l = 0; l < layers; l++) {
      const w = get(`${prefix}.${l}.weight`);
      const b = get(`${prefix}.${l}.bias`).values;
      const [n, m] = w.shape;
      const y = new Array(m).fill(0);
      for (let o = 0; o < m; o++) {
        let s = b[o];
        for (let i = 0; i < n; i++) s += x[i] * w.values[i * m + o];
        y[o] = lastLinear && l === layers - 1 ? s : Math.max(0, s);
      }
      x = y;
    }
    return x;
  };
  const out: number[] = [];
  const spec = cfg.embedding;
  const codes = new Uint32Array(d);
  for (let r = 0; r < batch.rows; r++) {
    const x = mlp(Array.from(batch.dense.subarray(r * 13, r * 13 + 13)), 'bottom', cfg.bottomMlp.length - 1, false);
    const vecs: number[][] = [x];
    for (let f = 0; f < F; f++) {
      const v = batch.cats[r * F + f];
      const e: number[] = [];
      if (spec.kind === 'full') {
        let row = 0;
        for (let g = 0; g < f; g++) row += spec.vocab.size(g);
        row += spec.vocab.index(f, v);
        for (let j = 0; j < d; j++) e.push(mem[row * d + j]);
      } else {
        spec.codes.codesInto(f, v, codes, 0);
        for (let j = 0; j < d; j++) e.push(mem[codes[j] % spec.memoryFloats]);
      }
      vecs.push(e);
    }
    const z = [...x];
    for (let i = 0; i < vecs.length; i++) for (let j = 0; j < i; j++) z.push(vecs[i].reduce((s, a, k) => s + a * vecs[j][k], 0));
    const logit = mlp(z, 'top', cfg.topMlp.length, true)[0];
    out.push(1 / (1 + Math.exp(-logit)));
  }
  return out;
}

t.test('config validation gives clear errors', async (t) => {
  const ok = tinyConfig('hashnet');
  t.doesNotThrow(() => validateDlrmConfig(ok));
  const cases: [Partial<DlrmConfig>, RegExp][] = [
    [{ bottomMlp: [12, 8, 4] }, /^Invalid option arch-mlp-bot: must start with 13 \(the dense features\), got "12-8-4"/],
    [{ bottomMlp: [13, 8, 5] }, /^Invalid option arch-mlp-bot: must end with the embedding size d = 4/],
    [{ bottomMlp: [13] }, /^Invalid option arch-mlp-bot: must be at least two positive layer sizes/],
    [{ topMlp: [8, 2] }, /^Invalid option arch-mlp-top: must end with 1/],
    [{ topMlp: [8, 0, 1] }, /^Invalid option arch-mlp-top: must be positive layer sizes/],
    [{ embeddingDim: 0 }, /^Invalid option arch-sparse-feature-size: must be a positive integer/],
    [{ learningRate: -0.1 }, /^Invalid option learning-rate: must be a positive number, got -0.1/],
    [{ learningRate: NaN }, /^Invalid option learning-rate/],
    [{ embeddingOptimizer: 'adam' as 'sgd' }, /^Invalid option embedding-optimizer: must be sgd or adagrad/],
    [{ embedding: { kind: 'hashnet', memoryFloats: 0, codes: tableCodes(4, 6, 1) } }, /^Invalid option memory-floats/],
    [{ embedding: { kind: 'bloom' } as unknown as DlrmConfig['embedding'] }, /^Invalid option embedding: must be full, hashnet, scma or robe, got "bloom"/],
  ];
  for (const [over, re] of cases) t.throws(() => validateDlrmConfig({ ...ok, ...over }), { message: re }, JSON.stringify(Object.keys(over)));
  t.throws(() => validateDlrmConfig({ ...ok, embedding: { kind: 'scma', memoryFloats: 100, codes: tableCodes(8, 6, 1) } }), {
    code: 'ERR_MAPPING_DIM',
    message: /the mapping have d = 8, the model has d = 4/,
  });
  await t.rejects(createDlrm({ ...ok, topMlp: [8, 3] }, quiet), { message: /arch-mlp-top/ });
});

t.test('interaction: 351 pairwise dot products plus x for 26 features', async (t) => {
  t.equal(interactionSize(16), 351 + 16);
  t.equal(interactionSize(128), 351 + 128);
  const cfg = tinyConfig('full');
  const m = await createDlrm(cfg, quiet);
  const s = await m.exportState();
  t.same(s.dense.find((a) => a.name === 'top.0.weight')!.shape, [351 + 4, 8]);
  t.same(s.dense.map((a) => a.name), ['bottom.0.weight', 'bottom.0.bias', 'bottom.1.weight', 'bottom.1.bias', 'top.0.weight', 'top.0.bias', 'top.1.weight', 'top.1.bias']);
  m.dispose();
});

for (const kind of ['full', 'hashnet', 'scma', 'robe'] as const) {
  for (const impl of ['composite', 'cpu-sparse', 'cpu-step']) {
    t.test(`${kind}/${impl}: predictions equal a float64 DLRM computed from the state, before and after training`, async (t) => {
      const cfg = tinyConfig(kind, { embeddingDim: 3, bottomMlp: [13, 5, 3], topMlp: [6, 4, 1] });
      const m = await createDlrm(cfg, { ...quiet, embeddingImpl: impl });
      const batch = randomBatch(7, 6, 21);
      for (let round = 0; round < 2; round++) {
        const got = await m.predict(batch);
        const want = referencePredict(await m.exportState(), cfg, batch);
        t.equal(got.length, 7);
        for (let i = 0; i < 7; i++) t.ok(Math.abs(got[i] - want[i]) < 1e-5, `row ${i}: ${got[i]} vs ${want[i]}`);
        for (let s = 0; s < 3; s++) await m.trainStep(randomBatch(16, 6, 100 + s));
      }
      m.dispose();
    });
  }
}

t.test('initialisation follows DLRM and is deterministic by seed', async (t) => {
  const cfg = tinyConfig('full', { embeddingDim: 16, bottomMlp: [13, 256, 16], topMlp: [300, 1], embedding: { kind: 'full', vocab: { size: () => 400, index: (_f, v) => v % 400 } } });
  const a = await (await createDlrm(cfg, quiet)).exportState();
  const b = await (await createDlrm(cfg, quiet)).exportState();
  const c = await (await createDlrm({ ...cfg, seed: 4 }, quiet)).exportState();
  t.same(a.dense[0].values, b.dense[0].values);
  t.same(a.embedding[0].values, b.embedding[0].values);
  t.notSame(a.dense[0].values, c.dense[0].values);
  const std = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
  // W ~ N(0, sqrt(2/(m+n))), bias ~ N(0, sqrt(1/m)): 3328 and 256 draws.
  t.ok(Math.abs(std(a.dense[0].values) / Math.sqrt(2 / (13 + 256)) - 1) < 0.05, 'bottom.0.weight std');
  t.ok(Math.abs(std(a.dense[1].values) / Math.sqrt(1 / 256) - 1) < 0.15, 'bottom.0.bias std');
  t.ok(Math.abs(std(a.dense[4].values) / Math.sqrt(2 / (interactionSize(16) + 300)) - 1) < 0.05, 'top.0.weight std');
  // Embeddings U(±sqrt(1/n)): max near the bound, std bound/sqrt(3).
  const e = a.embedding[0].values;
  const bound = Math.sqrt(1 / 400);
  t.ok(e.every((x) => Math.abs(x) <= bound));
  t.ok(Math.abs(std(e) / (bound / Math.sqrt(3)) - 1) < 0.02, 'embedding std');
  const shared = await (await createDlrm(tinyConfig('hashnet', { embedding: { kind: 'hashnet', memoryFloats: 5000, codes: tableCodes(4, 6, 1), initRows: 100 } }), quiet)).exportState();
  t.ok(shared.embedding[0].values.every((x) => Math.abs(x) <= 0.1) && shared.embedding[0].values.some((x) => Math.abs(x) > 0.09), 'shared memory U(±sqrt(1/initRows))');
});

for (const impl of ['composite', 'cpu-sparse', 'cpu-step']) {
  t.test(`${impl}: no tensors leak across train and predict steps`, async (t) => {
    for (const kind of ['full', 'scma'] as const) {
      const m = await createDlrm(tinyConfig(kind, { embeddingOptimizer: 'adagrad' }), { ...quiet, embeddingImpl: impl });
      await m.trainStep(randomBatch(8, 6, 1));
      await m.predict(randomBatch(5, 6, 2, false));
      const before = tf.memory().numTensors;
      for (let s = 0; s < 10; s++) {
        await m.trainStep(randomBatch(8 + s, 6, s));
        await m.predict(randomBatch(3, 6, s, false));
      }
      t.equal(tf.memory().numTensors, before, kind);
      m.dispose();
    }
  });
}

for (const opt of ['sgd', 'adagrad'] as const) {
  t.test(`exportState/importState continues training identically (${opt})`, async (t) => {
    for (const impl of ['composite', 'cpu-sparse', 'cpu-step']) {
      const cfg = tinyConfig('scma', { embeddingOptimizer: opt });
      const a = await createDlrm(cfg, { ...quiet, embeddingImpl: impl });
      for (let s = 0; s < 3; s++) await a.trainStep(randomBatch(16, 6, s));
      const saved = await a.exportState();
      t.equal(saved.step, 3);
      t.equal(saved.optimizer.length, opt === 'adagrad' ? 1 : 0);
      // A fresh model from another seed, restored, must follow the same path.
      const b = await createDlrm({ ...cfg, seed: 99 }, { ...quiet, embeddingImpl: impl });
      b.importState(saved);
      for (let s = 3; s < 6; s++) t.equal(await b.trainStep(randomBatch(16, 6, s)), await a.trainStep(randomBatch(16, 6, s)), `${impl} step ${s}`);
      const [sa, sb] = [await a.exportState(), await b.exportState()];
      t.same(sb.embedding[0].values, sa.embedding[0].values);
      t.same(sb.dense.map((x) => Array.from(x.values)), sa.dense.map((x) => Array.from(x.values)));
      t.same(sb.optimizer.map((x) => Array.from(x.values)), sa.optimizer.map((x) => Array.from(x.values)));
      t.equal(sb.step, 6);
      a.dispose();
      b.dispose();
    }
  });
}

t.test('shared memory below d floats per feature is refused with a clear error', async (t) => {
  const d = 4;
  for (const kind of ['hashnet', 'scma', 'robe'] as const) {
    const at = (memoryFloats: number) => tinyConfig(kind, { embedding: { kind, memoryFloats, codes: tableCodes(d, 6, 1) } });
    t.throws(() => validateDlrmConfig(at(26 * d - 1)), { code: 'ERR_MEMORY_TOO_SMALL', message: /103 floats is below the floor of 104 \(d = 4 floats for each of the 26 features\)/ }, kind);
    t.throws(() => validateDlrmConfig(at(1)), { code: 'ERR_MEMORY_TOO_SMALL' }, `${kind}: --memory-floats 1 (it used to train to NaN)`);
    t.doesNotThrow(() => validateDlrmConfig(at(26 * d)), `${kind}: the floor itself is accepted`);
  }
  await t.rejects(createDlrm(tinyConfig('hashnet', { embedding: { kind: 'hashnet', memoryFloats: 1, codes: tableCodes(d, 6, 1) } }), quiet), { code: 'ERR_MEMORY_TOO_SMALL' });
});

t.test('importState refuses a state of another shape and leaves the model unchanged', async (t) => {
  const m = await createDlrm(tinyConfig('hashnet'), quiet);
  const other = await (await createDlrm(tinyConfig('hashnet', { embeddingDim: 4, bottomMlp: [13, 9, 4] }), quiet)).exportState();
  const before = await m.exportState();
  t.throws(() => m.importState(other), { code: 'ERR_STATE_MISMATCH', message: /saved bottom.0.weight has shape \[13,9\], this model needs \[13,8\]/ });
  const noMem = { ...before, embedding: [] };
  t.throws(() => m.importState(noMem), { code: 'ERR_STATE_MISMATCH', message: /no embedding.memory/ });
  t.same((await m.exportState()).dense[0].values, before.dense[0].values);
});

t.test('bad batches and a NaN loss give clear errors', async (t) => {
  const m = await createDlrm(tinyConfig('hashnet'), quiet);
  const b = randomBatch(4, 6, 1);
  await t.rejects(m.trainStep({ ...b, label: undefined }), { code: 'ERR_BATCH', message: /needs a label/ });
  await t.rejects(m.trainStep({ ...b, rows: 0 }), { code: 'ERR_BATCH' });
  const nan = { ...b, dense: b.dense.map((x, i) => (i === 0 ? NaN : x)) };
  await t.rejects(m.trainStep(nan), { code: 'ERR_NAN_LOSS', message: /training loss became NaN at step 1/ });
});

t.test('learns a separable toy problem', async (t) => {
  for (const kind of ['full', 'hashnet', 'scma', 'robe'] as const) {
    // Init U(±sqrt(1/24)), as the fixture's old 97 floats gave by default (M/d): through dot
    // interactions a smaller start learns far slower in 60 steps, whatever the sharing.
    const spec = specFor(kind, 4, 6);
    const m = await createDlrm(tinyConfig(kind, { learningRate: 0.5, embedding: spec.kind === 'full' ? spec : { ...spec, initRows: 24 } }), quiet);
    const batch = randomBatch(64, 6, 5);
    // Click iff feature c1's value is even: only the embeddings can tell.
    for (let r = 0; r < 64; r++) batch.label![r] = batch.cats[r * F] % 2 === 0 ? 1 : 0;
    const first = await m.trainStep(batch);
    let last = first;
    for (let s = 0; s < 60; s++) last = await m.trainStep(batch);
    t.ok(last < first * 0.5, `${kind}: loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
    const p = await m.predict(batch);
    let correct = 0;
    for (let r = 0; r < 64; r++) correct += (p[r] > 0.5 ? 1 : 0) === batch.label![r] ? 1 : 0;
    t.ok(correct >= 60, `${kind}: ${correct}/64 correct`);
    m.dispose();
  }
});
