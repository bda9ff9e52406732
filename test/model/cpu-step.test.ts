import t from 'tap';

/** The assertions compareStates uses (tap's Test type is not exported simply). */
interface Tap {
  ok(v: unknown, msg: string): unknown;
  same(a: unknown, b: unknown, msg: string): unknown;
  equal(a: unknown, b: unknown, msg: string): unknown;
}
import { autoModelImpl, createDlrm } from '../../model/dlrm.js';
import { relativeDiff } from '../../model/fused/reference.js';
import type { Dlrm, DlrmConfig, ModelState } from '../../model/types.js';
import { randomBatch, tinyConfig, type TestKind } from './fixtures.js';

/**
 * The CPU step (model/cpu/) against the tfjs model with the cpu-sparse layer, its
 * oracle: same init, same batches, N steps, then losses, predictions, every dense
 * weight and the embedding memory (and Adagrad sums) compared.
 * Tolerance 1e-5 relative (max |a - b| / max |b|): both run float32 matmuls, but
 * sum in different orders (explicit transposes; the JS loops of the interaction and
 * the loss add in float64), so results differ in the last bits and drift a little
 * over the steps.
 */
const backend = process.env.CPU_STEP_TEST_BACKEND ?? 'cpu';
const quiet = { backend, log: () => {} };
const TOL = 1e-5;

/** A shape with layers that widen (13 -> 32) and narrow, so both dW transposes run. */
const deeper = (kind: TestKind, over: Partial<DlrmConfig> = {}) => tinyConfig(kind, { embeddingDim: 4, bottomMlp: [13, 32, 8, 4], topMlp: [24, 40, 1], ...over });

function compareStates(t: Tap, a: ModelState, b: ModelState, label: string): void {
  t.same(
    a.dense.map((x) => x.name),
    b.dense.map((x) => x.name),
    `${label}: dense names`,
  );
  for (let i = 0; i < b.dense.length; i++) {
    const r = relativeDiff(a.dense[i].values, b.dense[i].values);
    t.ok(r < TOL, `${label}: ${b.dense[i].name} rel diff ${r.toExponential(2)}`);
  }
  t.same(a.embedding[0].shape, b.embedding[0].shape, `${label}: memory shape`);
  const r = relativeDiff(a.embedding[0].values, b.embedding[0].values);
  t.ok(r < TOL, `${label}: embedding memory rel diff ${r.toExponential(2)}`);
  t.equal(a.optimizer.length, b.optimizer.length, `${label}: optimizer arrays`);
  for (let i = 0; i < b.optimizer.length; i++) {
    const ro = relativeDiff(a.optimizer[i].values, b.optimizer[i].values);
    t.ok(ro < TOL, `${label}: ${b.optimizer[i].name} rel diff ${ro.toExponential(2)}`);
  }
}

async function trainBoth(ours: Dlrm, oracle: Dlrm, steps: number, rows: number, seed: number): Promise<[number[], number[]]> {
  const la: number[] = [];
  const lb: number[] = [];
  for (let s = 0; s < steps; s++) {
    const batch = randomBatch(rows, 6, seed + s);
    la.push(await ours.trainStep(batch));
    lb.push(await oracle.trainStep(batch));
  }
  return [la, lb];
}

for (const kind of ['full', 'hashnet', 'scma', 'robe'] as const) {
  for (const optimizer of ['sgd', 'adagrad'] as const) {
    t.test(`${kind}/${optimizer}: the CPU step agrees with the tfjs model after 6 steps`, async (t) => {
      const cfg = deeper(kind, { embeddingOptimizer: optimizer, learningRate: optimizer === 'adagrad' ? 0.05 : 0.2 });
      const ours = await createDlrm(cfg, { ...quiet, embeddingImpl: 'cpu-step' });
      const oracle = await createDlrm(cfg, { ...quiet, embeddingImpl: 'cpu-sparse' });
      t.equal(ours.embedding.impl, 'cpu-step');
      t.equal(oracle.embedding.impl, 'cpu-sparse');
      t.equal(ours.backend, backend, 'the backend asked for (wasm: XNNPACK and the heap views)');
      compareStates(t, await ours.exportState(), await oracle.exportState(), 'initial');
      const [la, lb] = await trainBoth(ours, oracle, 6, 24, 500);
      t.ok(relativeDiff(la, lb) < TOL, `losses ${la.map((x) => x.toFixed(5))} vs ${lb.map((x) => x.toFixed(5))}`);
      // Training moved the weights (a step that did nothing would also "agree").
      const init = await (await createDlrm(cfg, { ...quiet, embeddingImpl: 'cpu-sparse' })).exportState();
      const after = await ours.exportState();
      t.ok(after.dense.every((a, i) => relativeDiff(a.values, init.dense[i].values) > 1e-4), 'every dense array changed');
      t.ok(relativeDiff(after.embedding[0].values, init.embedding[0].values) > 1e-4, 'embedding memory changed');
      compareStates(t, after, await oracle.exportState(), 'after 6 steps');
      const probe = randomBatch(9, 6, 77, false);
      const pa = await ours.predict(probe);
      const pb = await oracle.predict(probe);
      t.equal(pa.length, 9);
      t.ok(relativeDiff(pa, pb) < TOL, `predictions ${relativeDiff(pa, pb).toExponential(2)}`);
      t.equal((ours as Dlrm & { steps: number }).steps, 6);
      ours.dispose();
      oracle.dispose();
    });
  }
}

t.test('batch sizes change between steps (buffers grow; a smaller batch after a bigger one)', async (t) => {
  const cfg = deeper('hashnet');
  const ours = await createDlrm(cfg, { ...quiet, embeddingImpl: 'cpu-step' });
  const oracle = await createDlrm(cfg, { ...quiet, embeddingImpl: 'cpu-sparse' });
  for (const [i, rows] of [5, 40, 3, 17].entries()) {
    const batch = randomBatch(rows, 6, 900 + i);
    const a = await ours.trainStep(batch);
    const b = await oracle.trainStep(batch);
    t.ok(Math.abs(a - b) / Math.abs(b) < TOL, `rows ${rows}: loss ${a} vs ${b}`);
  }
  compareStates(t, await ours.exportState(), await oracle.exportState(), 'after mixed batches');
});

t.test('state moves between the tfjs model and the CPU step (checkpoints, saved models)', async (t) => {
  const cfg = deeper('scma', { embeddingOptimizer: 'adagrad', learningRate: 0.05 });
  const oracle = await createDlrm(cfg, { ...quiet, embeddingImpl: 'cpu-sparse' });
  await trainBoth(oracle, oracle, 2, 16, 40); // 4 steps of the oracle alone
  const ours = await createDlrm({ ...cfg, seed: 99 }, { ...quiet, embeddingImpl: 'cpu-step' });
  ours.importState(await oracle.exportState());
  compareStates(t, await ours.exportState(), await oracle.exportState(), 'imported');
  t.equal((ours as Dlrm & { steps: number }).steps, 4);
  await trainBoth(ours, oracle, 3, 16, 60);
  compareStates(t, await ours.exportState(), await oracle.exportState(), 'trained on after import');
  const bad = await ours.exportState();
  bad.dense[2] = { ...bad.dense[2], shape: [3, 3], values: new Float32Array(9) };
  const before = await ours.exportState();
  t.throws(() => ours.importState(bad), { code: 'ERR_STATE_MISMATCH', message: /bottom\.1\.weight/ });
  compareStates(t, await ours.exportState(), before, 'unchanged after a refused import');
});

t.test('auto picks the CPU step on wasm and cpu, the tfjs model where the step cannot run the config', async (t) => {
  t.equal(autoModelImpl('wasm', {}), 'cpu-step');
  t.equal(autoModelImpl('cpu', { denseOptimizer: 'sgd' }), 'cpu-step', 'a schedule needs nothing of the choice: the rate is a number per step');
  t.equal(autoModelImpl('cpu', { denseOptimizer: 'adagrad' }), 'auto');
  t.equal(autoModelImpl('webgpu', {}), 'fused');
  t.equal(autoModelImpl('webgpu', { denseOptimizer: 'adagrad' }), 'fused', 'the fused step runs dense Adagrad');
  t.equal(autoModelImpl('tensorflow', {}), 'auto');
  const m = await createDlrm(tinyConfig('full'), quiet);
  t.equal(m.embedding.impl, 'cpu-step');
  const a = await createDlrm(tinyConfig('full', { denseOptimizer: 'adagrad' }), quiet);
  t.equal(a.embedding.impl, 'cpu-sparse');
  await t.rejects(createDlrm(tinyConfig('full', { denseOptimizer: 'adagrad' }), { ...quiet, embeddingImpl: 'cpu-step' }), { code: 'ERR_INVALID_OPTION', message: /cpu-step trains the MLP with SGD/ });
});

t.test('a learning-rate change applies to the MLP and the embedding alike', async (t) => {
  const cfg = deeper('full');
  const ours = await createDlrm(cfg, { ...quiet, embeddingImpl: 'cpu-step' });
  const oracle = await createDlrm(cfg, { ...quiet, embeddingImpl: 'cpu-sparse' });
  for (const [i, lr] of [0.3, 0.01, 0.1].entries()) {
    ours.setLearningRate!(lr);
    oracle.setLearningRate!(lr);
    await trainBoth(ours, oracle, 1, 12, 300 + i);
  }
  compareStates(t, await ours.exportState(), await oracle.exportState(), 'after rate changes');
  t.throws(() => ours.setLearningRate!(0), { code: 'ERR_INVALID_OPTION' });
});

t.test('bad batches and a diverged loss fail clearly', async (t) => {
  const m = await createDlrm(deeper('hashnet'), { ...quiet, embeddingImpl: 'cpu-step' });
  const b = randomBatch(4, 6, 1);
  await t.rejects(m.trainStep({ ...b, label: undefined }), { code: 'ERR_BATCH', message: /label per row/ });
  await t.rejects(m.trainStep({ ...b, rows: 0 }), { code: 'ERR_BATCH' });
  await t.rejects(m.predict({ ...b, cats: new Uint32Array(3) }), { code: 'ERR_BATCH', message: /cats/ });
  const nan = { ...b, dense: b.dense.slice() };
  nan.dense[0] = NaN;
  await t.rejects(m.trainStep(nan), { code: 'ERR_NAN_LOSS', message: /at step 1/ });
});

t.test('an embedding size that is not a multiple of 4 (the kernels\' general loops)', async (t) => {
  const cfg = deeper('hashnet', { embeddingDim: 3, bottomMlp: [13, 16, 3], topMlp: [20, 1] });
  const ours = await createDlrm(cfg, { ...quiet, embeddingImpl: 'cpu-step' });
  const oracle = await createDlrm(cfg, { ...quiet, embeddingImpl: 'cpu-sparse' });
  const [la, lb] = await trainBoth(ours, oracle, 4, 20, 800);
  t.ok(relativeDiff(la, lb) < TOL, `losses ${la.map((x) => x.toFixed(5))} vs ${lb.map((x) => x.toFixed(5))}`);
  compareStates(t, await ours.exportState(), await oracle.exportState(), 'd = 3 after 4 steps');
});
