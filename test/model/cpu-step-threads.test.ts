import t from 'tap';
import { createDlrm } from '../../model/dlrm.js';
import { CpuDlrm, MIN_ROWS_PER_THREAD } from '../../model/cpu/step.js';
import { relativeDiff } from '../../model/fused/reference.js';
import type { DlrmConfig, ModelState } from '../../model/types.js';
import { randomBatch, tinyConfig, type TestKind } from './fixtures.js';

/**
 * The CPU step with its rows split across threads (model/cpu/pass-threads.ts)
 * against the same step on one thread: same init, same batches. The split changes
 * only the order in which the threads' gradients are summed, so the results agree to
 * float rounding (1e-5 relative), and a run repeats bit for bit.
 */
const backend = process.env.CPU_STEP_TEST_BACKEND ?? 'cpu';
const TOL = 1e-5;
const deeper = (kind: TestKind, over: Partial<DlrmConfig> = {}) => tinyConfig(kind, { embeddingDim: 4, bottomMlp: [13, 32, 8, 4], topMlp: [24, 40, 1], ...over });
const make = (cfg: DlrmConfig, threads: number) => createDlrm(cfg, { backend, log: () => {}, embeddingImpl: 'cpu-step', threads }) as Promise<CpuDlrm>;

function maxDiff(a: ModelState, b: ModelState): number {
  let worst = relativeDiff(a.embedding[0].values, b.embedding[0].values);
  for (let i = 0; i < a.dense.length; i++) worst = Math.max(worst, relativeDiff(a.dense[i].values, b.dense[i].values));
  for (let i = 0; i < a.optimizer.length; i++) worst = Math.max(worst, relativeDiff(a.optimizer[i].values, b.optimizer[i].values));
  return worst;
}

const rows = 3 * MIN_ROWS_PER_THREAD + 5; // three threads' worth, unevenly split

for (const kind of ['full', 'hashnet', 'scma', 'robe'] as const) {
  for (const optimizer of ['sgd', 'adagrad'] as const) {
    t.test(`${kind}/${optimizer}: 3 threads agree with 1 after 5 steps`, async (t) => {
      const cfg = deeper(kind, { embeddingOptimizer: optimizer, learningRate: optimizer === 'adagrad' ? 0.05 : 0.2 });
      const one = await make(cfg, 1);
      const three = await make(cfg, 3);
      t.equal(three.threads, 3);
      const la: number[] = [];
      const lb: number[] = [];
      for (let s = 0; s < 5; s++) {
        const batch = randomBatch(rows, 6, 700 + s);
        la.push(await one.trainStep(batch));
        lb.push(await three.trainStep(batch));
      }
      t.ok(relativeDiff(lb, la) < TOL, `losses ${lb.map((x) => x.toFixed(6))} vs ${la.map((x) => x.toFixed(6))}`);
      const a = await one.exportState();
      const b = await three.exportState();
      const d = maxDiff(b, a);
      t.ok(d < TOL, `states: worst rel diff ${d.toExponential(2)}`);
      const init = await (await make(cfg, 1)).exportState();
      t.ok(maxDiff(b, init) > 1e-3, 'training moved the state');
      const probe = randomBatch(rows, 6, 77, false);
      const pa = await one.predict(probe);
      const pb = await three.predict(probe);
      t.ok(relativeDiff(pb, pa) < TOL, `predictions ${relativeDiff(pb, pa).toExponential(2)}`);
      one.dispose();
      three.dispose();
    });
  }
}

t.test('the rows are split: the main thread does a third of the multiply-adds', async (t) => {
  const cfg = deeper('hashnet');
  const one = await make(cfg, 1);
  const three = await make(cfg, 3);
  const batch = randomBatch(3 * MIN_ROWS_PER_THREAD, 6, 5);
  await one.trainStep(batch);
  await three.trainStep(batch);
  t.equal(three.matmulMacs * 3, one.matmulMacs, `main thread ${three.matmulMacs} of ${one.matmulMacs}`);
  one.dispose();
  three.dispose();
});

t.test('the same thread count repeats a run bit for bit', async (t) => {
  const cfg = deeper('scma', { embeddingOptimizer: 'adagrad', learningRate: 0.05 });
  const runs: ModelState[] = [];
  for (let r = 0; r < 2; r++) {
    const m = await make(cfg, 2);
    for (let s = 0; s < 3; s++) await m.trainStep(randomBatch(rows, 6, 40 + s));
    runs.push(await m.exportState());
    m.dispose();
  }
  t.equal(maxDiff(runs[0], runs[1]), 0);
});

t.test('batches of changing size: small ones stay on one thread, big ones grow the shared buffers', async (t) => {
  const cfg = deeper('full');
  const one = await make(cfg, 1);
  const four = await make(cfg, 4);
  for (const [i, n] of [MIN_ROWS_PER_THREAD - 1, 4 * MIN_ROWS_PER_THREAD + 3, 2 * MIN_ROWS_PER_THREAD, 7, 9 * MIN_ROWS_PER_THREAD].entries()) {
    const batch = randomBatch(n, 6, 300 + i);
    const a = await one.trainStep(batch);
    const b = await four.trainStep(batch);
    t.ok(Math.abs(a - b) / Math.abs(a) < TOL, `rows ${n}: loss ${b} vs ${a}`);
  }
  t.ok(maxDiff(await four.exportState(), await one.exportState()) < TOL, 'states agree');
  one.dispose();
  four.dispose();
});

t.test('a state imported into a threaded model is what its workers read', async (t) => {
  const cfg = deeper('hashnet');
  const trained = await make(cfg, 1);
  for (let s = 0; s < 3; s++) await trained.trainStep(randomBatch(rows, 6, 90 + s));
  const fresh = await make({ ...cfg, seed: 5 }, 3);
  await fresh.trainStep(randomBatch(rows, 6, 1)); // workers started on the old weights
  fresh.importState(await trained.exportState());
  const probe = randomBatch(rows, 6, 3, false);
  const d = relativeDiff(await fresh.predict(probe), await trained.predict(probe));
  t.ok(d < TOL, `predictions after import ${d.toExponential(2)}`);
  trained.dispose();
  fresh.dispose();
});

t.test('bad thread counts are refused; a disposed model says so', async (t) => {
  const cfg = deeper('hashnet');
  await t.rejects(make(cfg, 0), { code: 'ERR_INVALID_OPTION', message: /threads/ });
  await t.rejects(make(cfg, 1.5), { code: 'ERR_INVALID_OPTION', message: /threads/ });
  const m = await make(cfg, 2);
  await m.trainStep(randomBatch(rows, 6, 1));
  m.dispose();
  await t.rejects(m.trainStep(randomBatch(rows, 6, 2)), /disposed/);
});

t.test('a row\'s prediction does not depend on its batch or thread (bit for bit)', async (t) => {
  const cfg = deeper('full');
  const one = await make(cfg, 1);
  for (let s = 0; s < 3; s++) await one.trainStep(randomBatch(rows, 6, 20 + s));
  const three = await make(cfg, 3);
  three.importState(await one.exportState());
  const all = randomBatch(200, 6, 99, false);
  const whole = await one.predict(all);
  const slice = (lo: number, hi: number) => ({ rows: hi - lo, dense: all.dense.slice(lo * 13, hi * 13), cats: all.cats.slice(lo * 26, hi * 26) });
  for (const [model, size] of [
    [one, 64],
    [one, 37],
    [three, 200],
    [three, 150],
    [three, 7],
  ] as const) {
    const parts: number[] = [];
    for (let lo = 0; lo < 200; lo += size) parts.push(...(await model.predict(slice(lo, Math.min(200, lo + size)))));
    t.same(parts, Array.from(whole), `${model.threads} thread(s), batches of ${size}`);
  }
  one.dispose();
  three.dispose();
});
