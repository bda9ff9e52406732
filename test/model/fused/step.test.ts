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
    const ops = buildProgram({ d: cfg.embeddingDim, bottom: cfg.bottomMlp, top: cfg.topMlp }, 64, 'train').ops.length;
    await m.queueStep(randomBatch(64, 6, 1));
    t.equal(mock.dispatches, ops, 'one dispatch per op');
    t.equal(mock.submits, 1, 'one submit per step');
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
