/** The learning rate set per step (DLRM's schedule) and Adagrad for the dense weights (DLRM's --optimizer). */
import t from 'tap';
import { createDlrm } from '../../model/dlrm.js';
import type { ModelState } from '../../model/types.js';
import { randomBatch, tinyConfig } from './fixtures.js';

const quiet = { backend: 'cpu', log: () => {} };
const denseOf = (s: ModelState) => s.dense.flatMap((a) => Array.from(a.values));

for (const impl of ['composite', 'cpu-sparse']) {
  t.test(`${impl}: setLearningRate(lr) steps exactly as a model built with lr`, async (t) => {
    const batch = randomBatch(16, 6, 1);
    const a = await createDlrm(tinyConfig('hashnet', { learningRate: 0.05 }), { ...quiet, embeddingImpl: impl });
    const b = await createDlrm(tinyConfig('hashnet', { learningRate: 0.2 }), { ...quiet, embeddingImpl: impl });
    b.setLearningRate!(0.05);
    await a.trainStep(batch);
    await b.trainStep(batch);
    const sa = await a.exportState();
    const sb = await b.exportState();
    t.same(denseOf(sb), denseOf(sa), 'dense weights');
    t.same(Array.from(sb.embedding[0].values), Array.from(sa.embedding[0].values), 'embedding memory');
    a.dispose();
    b.dispose();
  });
}

t.test("dense Adagrad: the first step moves each weight by lr x g / (|g| + eps), i.e. lr against the gradient's sign", async (t) => {
  const batch = randomBatch(32, 6, 2);
  const lr = 0.01;
  const sgd = await createDlrm(tinyConfig('hashnet', { learningRate: lr }), quiet);
  const ada = await createDlrm(tinyConfig('hashnet', { learningRate: lr, denseOptimizer: 'adagrad' }), quiet);
  const w0 = denseOf(await sgd.exportState());
  t.same(denseOf(await ada.exportState()), w0, 'the same initial weights');
  await sgd.trainStep(batch);
  await ada.trainStep(batch);
  const ws = denseOf(await sgd.exportState());
  const wa = denseOf(await ada.exportState());
  let checked = 0;
  for (let i = 0; i < w0.length; i++) {
    const g = (w0[i] - ws[i]) / lr; // SGD: w1 = w0 - lr g
    if (Math.abs(g) < 1e-4) continue; // float32 rounding dominates tiny gradients
    const step = w0[i] - wa[i];
    if (Math.abs(step - lr * Math.sign(g)) > 2e-5) t.fail(`weight ${i}: Adagrad step ${step}, expected ${lr * Math.sign(g)} (g = ${g})`);
    checked++;
  }
  t.ok(checked > 50, `${checked} weights checked`);
  const state = await ada.exportState();
  const accum = state.optimizer.filter((o) => o.name.startsWith('dense.adagrad.'));
  t.equal(accum.length, state.dense.length, 'one accumulator per dense array, in the state');
  // The state round-trips: a copy continues exactly as the original.
  const copy = await createDlrm(tinyConfig('hashnet', { learningRate: lr, denseOptimizer: 'adagrad' }), quiet);
  copy.importState(state);
  const next = randomBatch(32, 6, 3);
  await ada.trainStep(next);
  await copy.trainStep(next);
  t.same(denseOf(await copy.exportState()), denseOf(await ada.exportState()), 'resumed from the state: identical');
  for (const m of [sgd, ada, copy]) m.dispose();
});
