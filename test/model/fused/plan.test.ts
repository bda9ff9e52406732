import t from 'tap';
import { createDlrm } from '../../../model/dlrm.js';
import { buildProgram, denseParams, initialDense, MIN_ROWS_PER_SPLIT, NUM_PAIRS, pairIndex, pairTable, rowSplits, type Op } from '../../../model/fused/plan.js';
import { FusedReference, relativeDiff } from '../../../model/fused/reference.js';
import type { DlrmConfig } from '../../../model/types.js';
import { randomBatch, tinyConfig } from '../fixtures.js';

// The tfjs model (its cpu-sparse layer) is the oracle: 'auto' on cpu would pick the CPU step, which runs this same op list.
const quiet = { backend: 'cpu', log: () => {}, embeddingImpl: 'cpu-sparse' };

t.test('pairs: DLRM order (row i = 1..26, j < i), symmetric, each index once', async (t) => {
  const table = pairTable();
  t.equal(table.length, NUM_PAIRS);
  t.equal(NUM_PAIRS, 351);
  let k = 0;
  const problems: string[] = [];
  for (let i = 1; i <= 26; i++) {
    for (let j = 0; j < i; j++, k++) {
      if (pairIndex(i, j) !== k) problems.push(`(${i},${j}) -> ${pairIndex(i, j)}, expected ${k}`);
      if (pairIndex(j, i) !== k) problems.push(`(${j},${i}) not symmetric`);
      if (table[k] !== ((i << 8) | j)) problems.push(`table[${k}] = ${table[k]}`);
    }
  }
  t.same(problems, []);
});

t.test('rowSplits: at least one, never below the rows floor, never decreasing with rows', async (t) => {
  t.equal(rowSplits(100, 1), 1, 'small batches: no split');
  t.equal(rowSplits(2048, 1), 2048 / MIN_ROWS_PER_SPLIT, 'one output tile: as many splits as the row floor allows');
  t.equal(rowSplits(65536, 1000), 1, 'plenty of output tiles: no split');
  for (const blocks of [1, 3, 16, 300]) {
    let prev = 0;
    for (let rows = 1; rows < 70000; rows = Math.ceil(rows * 1.7)) {
      const s = rowSplits(rows, blocks);
      t.ok(s >= prev && s >= 1 && (s === 1 || rows / s >= MIN_ROWS_PER_SPLIT), `rows ${rows} blocks ${blocks}: ${s}`);
      prev = s;
    }
  }
});

/** Buffers an op reads and writes (embedding ops touch E / dE and the layer's own state). */
function reads(op: Op): string[] {
  switch (op.op) {
    case 'matmul':
      return [op.a, op.b, ...(op.extra ? [op.extra] : [])];
    case 'interact':
      return [op.x, op.e];
    case 'interact-backward':
      return [op.x, op.e, op.dz];
    case 'loss':
      return [op.logits, op.label];
    case 'loss-sum':
      return [op.rowLoss, op.acc];
    case 'sigmoid':
      return [op.logits];
    case 'colsum':
      return [op.g];
    case 'sgd':
      return [op.param, op.part, op.lr];
    case 'adagrad':
      return [op.param, op.accum, op.part, op.lr];
    case 'scatter':
      return [op.grad];
    default:
      return [];
  }
}
function writes(op: Op): string[] {
  switch (op.op) {
    case 'gather':
      return [op.out];
    case 'matmul':
      return [op.c];
    case 'interact':
      return [op.z];
    case 'interact-backward':
      return [op.dx, op.de];
    case 'loss':
      return [op.dlogit, op.rowLoss];
    case 'sigmoid':
      return [op.out];
    case 'colsum':
      return [op.part];
    default:
      return [];
  }
}

t.test('buildProgram: every buffer is written before it is read, weights change only after their last read', async (t) => {
  const shape = { d: 16, bottom: [13, 512, 256, 64, 16], top: [512, 256, 1] };
  for (const [mode, opt] of [['train', 'sgd'], ['train', 'adagrad'], ['predict', 'sgd']] as const) {
    const { ops, sizes } = buildProgram(shape, 2048, mode, opt);
    const inputs = new Set(['dense', 'label', 'loss', 'lr', ...denseParams(shape).flatMap((p) => [`param:${p.name}`, `accum:${p.name}`])]);
    const written = new Set<string>();
    const problems: string[] = [];
    ops.forEach((op, i) => {
      for (const r of reads(op)) if (!inputs.has(r) && !written.has(r)) problems.push(`op ${i} (${op.op}) reads ${r} before anything wrote it`);
      for (const w of writes(op)) written.add(w);
      for (const name of [...reads(op), ...writes(op)]) if (!sizes.has(name)) problems.push(`${name} has no size`);
      if (op.op === 'sgd' || op.op === 'adagrad') {
        const later = ops.slice(i + 1).some((o) => reads(o).includes(op.param) && o.op !== op.op);
        if (later) problems.push(`${op.param} is read after its update`);
      }
    });
    t.same(problems, [], `${mode} ${opt}`);
    const updates = ops.filter((o) => o.op === opt).length;
    t.equal(updates, mode === 'train' ? denseParams(shape).length : 0, `${mode}: one ${opt} update per dense parameter`);
    t.equal(ops.filter((o) => o.op === (opt === 'sgd' ? 'adagrad' : 'sgd')).length, 0, `${mode}: no update of the other kind`);
  }
  const big = buildProgram({ d: 128, bottom: [13, 512, 256, 128], top: [1024, 1024, 512, 256, 1] }, 65536, 'train');
  const split = big.ops.filter((o) => o.op === 'matmul' && o.splits > 1);
  t.ok(split.length > 0, 'weight gradients over 65536 rows are split over rows');
});

t.test('initialDense draws what the tfjs model draws for the same seed', async (t) => {
  const cfg = tinyConfig('hashnet', { bottomMlp: [13, 7, 4], topMlp: [9, 5, 1] });
  const m = await createDlrm(cfg, quiet);
  const state = await m.exportState();
  m.dispose();
  const ours = initialDense({ d: 4, bottom: cfg.bottomMlp, top: cfg.topMlp }, cfg.seed);
  t.same(ours.map(([p]) => p.name), state.dense.map((a) => a.name), 'same names, same order');
  for (const [p, v] of ours) {
    const ref = state.dense.find((a) => a.name === p.name)!;
    t.same(ref.shape, p.shape, `${p.name} shape`);
    t.equal(relativeDiff(v, ref.values), 0, `${p.name} values`);
  }
});

// The fused program (run in JS) against the tfjs model (cpu backend, cpu-sparse
// embedding) on the same batches from the same init. HashNet at 520 rows, so the
// weight and bias gradients are split in two; the others at 96 rows (the tfjs cpu
// backend is slow).
for (const kind of ['full', 'hashnet', 'scma'] as const) {
  for (const optimizer of ['sgd', 'adagrad'] as const) {
    t.test(`fused program = tfjs model: ${kind}, ${optimizer}`, { timeout: 120_000 }, async (t) => {
      const cfg: DlrmConfig = tinyConfig(kind, { embeddingDim: 4, bottomMlp: [13, 10, 4], topMlp: [12, 6, 1], embeddingOptimizer: optimizer, learningRate: 0.2 });
      const rows = kind === 'hashnet' ? 520 : 96;
      const split = buildProgram({ d: 4, bottom: cfg.bottomMlp, top: cfg.topMlp }, rows, 'train').ops.some((o) => o.op === 'matmul' && o.splits > 1);
      t.equal(split, kind === 'hashnet', `split-K ${split ? '' : 'not '}exercised at ${rows} rows`);
      const tfModel = await createDlrm(cfg, quiet);
      const ref = new FusedReference(cfg);
      const batches = [0, 1, 2].map((s) => randomBatch(rows, 6, 100 + s));
      for (const [s, b] of batches.entries()) {
        const want = await tfModel.trainStep(b);
        const got = ref.trainStep(b);
        t.ok(Math.abs(got - want) <= 1e-5 * Math.abs(want), `step ${s} loss ${got} vs ${want}`);
      }
      const state = await tfModel.exportState();
      for (const [p, v] of ref.dense) {
        const r = relativeDiff(v, state.dense.find((a) => a.name === p.name)!.values);
        t.ok(r <= 1e-5, `${p.name}: relative difference ${r.toExponential(2)}`);
      }
      const init = new FusedReference(cfg);
      t.ok(relativeDiff(ref.dense[0][1], init.dense[0][1]) > 1e-4, 'the weights moved');
      t.ok(relativeDiff(ref.emb.memory, init.emb.memory) > 1e-4, 'the embedding memory moved');
      const mem = relativeDiff(ref.emb.memory, state.embedding[0].values);
      t.ok(mem <= 1e-5, `embedding memory: relative difference ${mem.toExponential(2)}`);
      if (optimizer === 'adagrad') {
        const acc = relativeDiff(ref.emb.accum!, state.optimizer[0].values);
        t.ok(acc <= 1e-5, `adagrad accumulator: relative difference ${acc.toExponential(2)}`);
      }
      const probe = randomBatch(100, 8, 7, false);
      const pr = relativeDiff(ref.predict(probe), await tfModel.predict(probe));
      t.ok(pr <= 1e-5, `predictions: relative difference ${pr.toExponential(2)}`);
      tfModel.dispose();
    });
  }
}
