import t from 'tap';
import { DedupePool } from '../../../model/fused/dedupe-pool.js';
import { FusedDlrm } from '../../../model/fused/step.js';
import { BatchDedupe } from '../../../model/embedding/webgpu-dedupe.js';
import { buildProgram } from '../../../model/fused/plan.js';
import { randomBatch, tinyConfig } from '../fixtures.js';
import { MockGpu } from './mock-gpu.js';

t.test('the worker dedupe gives what BatchDedupe gives, batch after batch', async (t) => {
  const pool = new DedupePool(2);
  const local = new BatchDedupe();
  const batches = [randomBatch(300, 50, 1), randomBatch(17, 3, 2), randomBatch(1000, 400, 3), randomBatch(1, 5, 4)];
  const results = await Promise.all(batches.map((b) => pool.dedupe(b.cats, b.rows)));
  for (const [i, b] of batches.entries()) {
    const nu = local.build(b.cats, b.rows);
    const r = results[i];
    t.equal(r.unique, nu, `batch ${i}: distinct pairs`);
    t.equal(r.lookups, b.rows * 26);
    t.same([...r.uf], [...local.uf.subarray(0, nu)]);
    t.same([...r.uv], [...local.uv.subarray(0, nu)]);
    t.same([...r.idx], [...local.idx.subarray(0, b.rows * 26)]);
    t.same([...r.occ], [...local.occ.subarray(0, b.rows * 26)]);
  }
  t.equal(batches[0].cats.length, 300 * 26, "the caller's ids stay with the caller");
  pool.dispose();
  await t.rejects(pool.dedupe(batches[0].cats, 1), /disposed/);
});

t.test('fused steps with the dedupe on workers, on a mock device: in order, one submit each', async (t) => {
  for (const kind of ['full', 'hashnet', 'scma'] as const) {
    const cfg = tinyConfig(kind);
    const mock = new MockGpu();
    const m = new FusedDlrm(cfg, mock.device(), { dedupeWorkers: 2, dedupeMinRows: 1 });
    const ops = buildProgram({ d: cfg.embeddingDim, bottom: cfg.bottomMlp, top: cfg.topMlp }, 64, 'train').ops.length;
    for (let i = 0; i < 6; i++) await m.queueStep(randomBatch(i === 3 ? 700 : 64, 6, i + 1));
    t.equal(m.steps, 6, `${kind}: steps counted as queued`);
    await m.takeLoss();
    t.equal(mock.submits >= 6, true, `${kind}: every step submitted before the loss is read`);
    t.ok(mock.dispatches >= 6 * ops - 1, `${kind}: dispatches`);
    const p = await m.predict(randomBatch(7, 6, 9, false));
    t.equal(p.length, 7);
    m.dispose();
    t.same(mock.problems, [], `${kind}: no problems`);
  }
});
