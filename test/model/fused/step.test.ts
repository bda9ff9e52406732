import t from 'tap';
import { FusedDlrm } from '../../../model/fused/step.js';
import { defaultModelImpl, createDlrm } from '../../../model/dlrm.js';
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

// The host side of the fused model on a recording device: bind groups match the
// shaders, writes fit their buffers, dispatches are within limits, across batch
// sizes that grow and shrink, prediction, and state round trips.
const cases: [string, DlrmConfig][] = [
  ['full/sgd', tinyConfig('full')],
  ['hashnet (GPU hash)/adagrad', tinyConfig('hashnet', { embedding: { kind: 'hashnet', memoryFloats: 997, codes: hashNetCodes(4, 3) }, embeddingOptimizer: 'adagrad' })],
  ['scma (CPU codes)/sgd', tinyConfig('scma')],
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
