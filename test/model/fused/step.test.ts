import t from 'tap';
import { FusedDlrm } from '../../../model/fused/step.js';
import { chooseModelImpl, defaultModelImpl, createDlrm } from '../../../model/dlrm.js';
import { selectBackend } from '../../../model/backend.js';
import { buildProgram } from '../../../model/fused/plan.js';
import { hashNetCodes } from '../../../scma/codes.js';
import type { DlrmConfig } from '../../../model/types.js';
import { randomBatch, tinyConfig } from '../fixtures.js';
import { MockGpu } from './mock-gpu.js';

t.test('fused is the default on webgpu only, and refuses other backends clearly', async (t) => {
  t.equal(defaultModelImpl('webgpu'), 'fused');
  t.equal(defaultModelImpl('wasm'), 'auto');
  await selectBackend('cpu', () => {});
  await t.rejects(createDlrm(tinyConfig('hashnet'), { backend: 'cpu', log: () => {}, embeddingImpl: 'fused' }), { code: 'ERR_BACKEND', message: /fused needs the webgpu backend/ });
  await t.rejects(createDlrm(tinyConfig('hashnet'), { backend: 'cpu', log: () => {}, embeddingImpl: 'fast' }), { message: /embedding-impl: must be one of auto, fused, composite, cpu-sparse, webgpu/ });
});

t.test('auto on webgpu picks fused for every option set the tfjs model runs: schedule, dense Adagrad, every kind', async (t) => {
  t.equal(chooseModelImpl('auto', 'webgpu'), 'fused');
  t.equal(chooseModelImpl('auto', 'webgpu', { denseOptimizer: 'adagrad' }), 'fused', 'dense Adagrad no longer falls back on webgpu');
  t.equal(chooseModelImpl('auto', 'wasm'), 'cpu-step', 'on wasm and cpu the CPU step');
  t.equal(chooseModelImpl('auto', 'cpu', { denseOptimizer: 'adagrad' }), 'auto', 'which has SGD only for the MLP: there the tfjs model picks its layer');
  t.equal(chooseModelImpl('auto', 'tensorflow'), 'auto');
  t.throws(() => chooseModelImpl('cpu-step', 'cpu', { denseOptimizer: 'adagrad' }), { code: 'ERR_INVALID_OPTION', message: /cpu-step trains the MLP with SGD/ });
  t.equal(chooseModelImpl('fused', 'webgpu'), 'fused');
  t.equal(chooseModelImpl('webgpu', 'webgpu'), 'webgpu', 'an explicit layer is kept');
  t.equal(chooseModelImpl('composite', 'webgpu'), 'composite');
  t.throws(() => chooseModelImpl('fused', 'wasm'), { code: 'ERR_BACKEND', message: /fused needs the webgpu backend, the current one is wasm/ });
  t.throws(() => chooseModelImpl('fast', 'webgpu'), { message: /embedding-impl: must be one of auto, fused, composite, cpu-sparse, webgpu/ });
  // What used to make auto fall back on webgpu now builds the fused model (on a mock device: no GPU here).
  for (const over of [{ denseOptimizer: 'adagrad' as const }, { embeddingOptimizer: 'adagrad' as const, denseOptimizer: 'adagrad' as const }]) {
    for (const kind of ['full', 'hashnet', 'scma', 'robe'] as const) {
      const mock = new MockGpu();
      const m = new FusedDlrm(tinyConfig(kind, over), mock.device());
      m.setLearningRate(0.05);
      await m.queueStep(randomBatch(32, 6, 1));
      m.dispose();
      t.same(mock.problems, [], `${kind} ${JSON.stringify(over)}`);
    }
  }
});

// The host side of the fused model on a recording device: bind groups match the
// shaders, writes fit their buffers, dispatches are within limits, across batch
// sizes that grow and shrink, prediction, and state round trips.
const cases: [string, DlrmConfig][] = [
  ['full/sgd', tinyConfig('full')],
  ['hashnet (GPU hash)/adagrad', tinyConfig('hashnet', { embedding: { kind: 'hashnet', memoryFloats: 997, codes: hashNetCodes(4, 3) }, embeddingOptimizer: 'adagrad' })],
  ['scma (CPU codes)/sgd', tinyConfig('scma')],
  ['robe (GPU block hash)/adagrad, dense adagrad', tinyConfig('robe', { embeddingOptimizer: 'adagrad', denseOptimizer: 'adagrad' })],
];
for (const [name, cfg] of cases) {
  t.test(`fused host code on a mock device: ${name}`, async (t) => {
    const mock = new MockGpu();
    const m = new FusedDlrm(cfg, mock.device());
    const submits0 = mock.submits; // the constructor submits the initial uploads
    const ops = buildProgram({ d: cfg.embeddingDim, bottom: cfg.bottomMlp, top: cfg.topMlp }, 64, 'train').ops.length;
    await m.queueStep(randomBatch(64, 6, 1));
    t.equal(mock.dispatches, ops, 'one dispatch per op');
    t.equal(mock.submits - submits0, 1, 'one submit per step');
    await m.queueStep(randomBatch(64, 6, 2));
    await m.queueStep(randomBatch(3000, 6, 3)); // grows every buffer
    await m.queueStep(randomBatch(5, 6, 4));
    const { steps } = await m.takeLoss();
    t.equal(steps, 0, 'the mock runs no kernels: the accumulated step count reads back as 0');
    t.equal(m.steps, 4);
    const p = await m.predict(randomBatch(7, 6, 5, false));
    t.equal(p.length, 7);
    const state = await m.exportState();
    m.importState(state);
    t.throws(() => m.importState({ ...state, dense: state.dense.slice(1) }), { code: 'ERR_STATE_MISMATCH' });
    await m.queueStep(randomBatch(64, 6, 6));
    m.dispose();
    t.same(mock.problems, []);
    t.ok(mock.shaders.some((s) => s.includes('var<workgroup> As')), 'the tiled matmul was built');
    if (cfg.embedding.kind === 'robe') {
      t.equal(m.embedding.mode, 'robe', 'ROBE locates on the GPU');
      t.ok(mock.shaders.some((s) => s.includes('let c = j / p.block')), 'with the block hash');
    }
    if (cfg.denseOptimizer === 'adagrad') {
      t.ok(mock.shaders.some((s) => s.includes('accum[i] = a')), 'the dense Adagrad kernel was built');
      t.equal(state.optimizer.filter((o) => o.name.startsWith('dense.adagrad.')).length, state.dense.length, 'one saved Adagrad sum per dense array');
      t.throws(() => m.importState({ ...state, optimizer: state.optimizer.map((o) => (o.name.startsWith('dense.adagrad.') ? { ...o, values: o.values.subarray(1) } : o)) }), { code: 'ERR_STATE_MISMATCH', message: /dense\.adagrad\..* has \d+ values/ });
    }
  });
}

// A schedule's rate reaches the kernels of the step it was set for: the dense updates
// through the set's rate uniform, the embedding update through its params. Big batches
// are deduped on a worker and submitted later; each must keep the rate it was queued with.
for (const workers of [0, 1]) {
  t.test(`each step's updates read the rate set before it was queued (${workers ? 'worker dedupe, submitted later' : 'main thread'})`, async (t) => {
    const cfg = tinyConfig('hashnet', { embedding: { kind: 'hashnet', memoryFloats: 997, codes: hashNetCodes(4, 3) }, denseOptimizer: 'adagrad' });
    const mock = new MockGpu();
    const m = new FusedDlrm(cfg, mock.device(), { dedupeWorkers: workers, dedupeMinRows: 64 });
    const rates = [0.5, 0.25, 0.125, 0.0625, 0.03125];
    for (const [i, lr] of rates.entries()) {
      m.setLearningRate(lr);
      await m.queueStep(randomBatch(64 + i, 6, 20 + i));
    }
    await m.takeLoss();
    m.dispose();
    const updates = buildProgram({ d: 4, bottom: cfg.bottomMlp, top: cfg.topMlp }, 64, 'train', 'adagrad').ops.filter((o) => o.op === 'adagrad').length + 1;
    t.equal(mock.submitted.length, rates.length, 'one step per queued batch');
    mock.submitted.forEach((s, i) => {
      t.equal(s.rates.length, updates, `step ${i + 1}: every update dispatch reads a rate`);
      t.same([...new Set(s.rates)], [Math.fround(rates[i])], `step ${i + 1}: rate ${rates[i]}`);
    });
    t.same(mock.problems, []);
    t.throws(() => m.setLearningRate(0), { message: /learning-rate: must be a positive number/ });
  });
}

t.test('fused step = tfjs model on the GPU, SGD (skipped without an adapter)', async (t) => {
  const backend = await selectBackend('webgpu', () => {});
  if (backend !== 'webgpu') {
    t.plan(0, `skip: no WebGPU adapter here (fell back to ${backend}); bench/fused-check.ts runs the full check on the GPU machine`);
    return;
  }
  const { relativeDiff } = await import('../../../model/fused/reference.js');
  for (const kind of ['full', 'hashnet', 'scma'] as const) {
    const cfg = tinyConfig(kind, { embeddingDim: 8, bottomMlp: [13, 70, 8], topMlp: [130, 1] });
    const ref = await createDlrm(cfg, { backend: 'webgpu', embeddingImpl: 'composite', log: () => {} });
    const fused = await createDlrm(cfg, { backend: 'webgpu', embeddingImpl: 'fused', log: () => {} });
    for (let s = 0; s < 3; s++) {
      const b = randomBatch(300, 6, 10 + s);
      const want = await ref.trainStep(b);
      t.ok(Math.abs((await fused.trainStep(b)) - want) <= 1e-5 * want, `${kind} step ${s} loss`);
    }
    const [rs, fs] = [await ref.exportState(), await fused.exportState()];
    t.ok(relativeDiff(fs.embedding[0].values, rs.embedding[0].values) <= 1e-5, `${kind} memory`);
    for (const a of rs.dense) t.ok(relativeDiff(fs.dense.find((x) => x.name === a.name)!.values, a.values) <= 1e-5, `${kind} ${a.name}`);
    const probe = randomBatch(50, 8, 99, false);
    t.ok(relativeDiff(await fused.predict(probe), await ref.predict(probe)) <= 1e-5, `${kind} predictions`);
    ref.dispose();
    fused.dispose();
  }
  await selectBackend('cpu', () => {});
});
