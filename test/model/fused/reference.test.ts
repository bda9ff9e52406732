/**
 * The fused program's options against the tfjs model on the CPU (cpu backend, its
 * default cpu-sparse embedding), as plan.test.ts does for the plain step: DLRM's
 * learning-rate schedule (the rate set per step), Adagrad for the MLP weights, and
 * ROBE located by the JS port of its WGSL hash.
 */
import t from 'tap';

/** What agree() asserts with. */
interface Assert {
  ok(v: unknown, message: string): unknown;
  equal(a: unknown, b: unknown, message: string): unknown;
}
import { scheduledLr, type LrSchedule } from '../../../core/lr-schedule.js';
import { createDlrm } from '../../../model/dlrm.js';
import { Locator } from '../../../model/embedding/locations.js';
import { locateMode, robeParams } from '../../../model/embedding/webgpu.js';
import { agreesOrNoFurther, FusedReference, locateLikeGpu, relativeDiff } from '../../../model/fused/reference.js';
import type { Dlrm, DlrmConfig, TrainBatch } from '../../../model/types.js';
import { hashNetCodes } from '../../../scma/codes.js';
import { RobeCodes } from '../../../scma/robe-codes.js';
import { mulberry32 } from '../../../core/hash.js';
import { randomBatch, tinyConfig, type TestKind } from '../fixtures.js';

// The tfjs model (its cpu-sparse layer) is the oracle: 'auto' on cpu would pick the CPU step, which runs this same op list.
const quiet = { backend: 'cpu', log: () => {}, embeddingImpl: 'cpu-sparse' };
const TOL = 1e-5;

/**
 * Trains both on the same batches (rates[s] set before step s, when given); checks
 * losses, weights, Adagrad sums, memory and predictions within 1e-5. With Adagrad the
 * float64 run of the program is the yardstick where the two float32 runs differ by
 * more (agreesOrNoFurther: ours no further from it than the tfjs model is).
 */
async function agree(t: Assert, cfg: DlrmConfig, batches: TrainBatch[], rates?: number[]): Promise<FusedReference> {
  const tfModel: Dlrm = await createDlrm(cfg, quiet);
  const ref = new FusedReference(cfg);
  const adagrad = cfg.denseOptimizer === 'adagrad' || cfg.embeddingOptimizer === 'adagrad';
  const exact = adagrad ? new FusedReference(cfg, { precision: 64 }) : undefined;
  const losses: number[][] = [[], [], []];
  for (const [s, b] of batches.entries()) {
    if (rates) {
      tfModel.setLearningRate!(rates[s]);
      ref.setLearningRate(rates[s]);
      exact?.setLearningRate(rates[s]);
    }
    losses[0].push(ref.trainStep(b));
    losses[1].push(await tfModel.trainStep(b));
    losses[2].push(exact ? exact.trainStep(b) : NaN);
  }
  const check = (what: string, ours: ArrayLike<number>, oracle: ArrayLike<number> | undefined, wide: ArrayLike<number> | undefined) => {
    const a = agreesOrNoFurther(ours, oracle ?? [], wide, TOL);
    const vs64 = a.ours ? `; vs float64: ours ${a.ours.max.toExponential(2)} (${a.ours.off} off), tfjs ${a.oracle!.max.toExponential(2)} (${a.oracle!.off} off)` : '';
    t.ok(a.ok, `${what}: relative difference ${a.direct.toExponential(2)}${vs64}`);
    // The float64 run shares this program's code: it is a yardstick only if the tfjs
    // model (independent code) agrees with it on all but a few ill-conditioned elements.
    if (a.oracle) t.ok(a.oracle.off <= 0.01 * ours.length + 5, `${what}: tfjs is within ${TOL} of the float64 run on ${ours.length - a.oracle.off} of ${ours.length} elements`);
  };
  check('losses', losses[0], losses[1], exact && losses[2]);
  const state = await tfModel.exportState();
  const wideDense = new Map(exact?.dense.map(([p, v]) => [p.name, v]));
  for (const [p, v] of ref.dense) check(p.name, v, state.dense.find((a) => a.name === p.name)?.values, wideDense.get(p.name));
  const sums = ref.denseAccumulators();
  t.equal(sums.length, cfg.denseOptimizer === 'adagrad' ? state.dense.length : 0, 'one dense Adagrad sum per weight (none for SGD)');
  const wideSums = new Map(exact?.denseAccumulators().map((a) => [a.name, a.values]));
  for (const a of sums) check(a.name, a.values, state.optimizer.find((o) => o.name === a.name)?.values, wideSums.get(a.name));
  check('embedding memory', ref.emb.memory, state.embedding[0].values, exact?.emb.memory);
  if (cfg.embeddingOptimizer === 'adagrad') check('embedding Adagrad sum', ref.emb.accum!, state.optimizer.find((o) => o.name === 'embedding.adagrad')?.values, exact?.emb.accum);
  const probe = randomBatch(100, 8, 7, false);
  check('predictions', ref.predict(probe), await tfModel.predict(probe), exact?.predict(probe));
  tfModel.dispose();
  return ref;
}

const small = { embeddingDim: 4, bottomMlp: [13, 10, 4], topMlp: [12, 6, 1], learningRate: 0.2 };
// Warmup over steps 1..2, decay from step 2 over 3 steps, then frozen: 5 steps see 4 distinct rates.
const schedule: LrSchedule = { warmupSteps: 2, decayStartStep: 2, decaySteps: 3 };
const rates = [1, 2, 3, 4, 5, 6].map((s) => scheduledLr(small.learningRate, s, schedule));

for (const [kind, over] of [
  ['hashnet', { embeddingOptimizer: 'sgd' }],
  ['full', { embeddingOptimizer: 'adagrad', denseOptimizer: 'adagrad' }],
] as [TestKind, Partial<DlrmConfig>][]) {
  t.test(`schedule: the rate set per step = tfjs model's (${kind}, ${JSON.stringify(over)})`, { timeout: 240_000 }, async (t) => {
    t.ok(new Set(rates.map((r) => r.toPrecision(6))).size >= 4, `the schedule changes the rate: ${rates.map((r) => r.toPrecision(3)).join(', ')}`);
    const cfg = tinyConfig(kind, { ...small, ...over });
    const batches = rates.map((_, s) => randomBatch(96, 6, 200 + s));
    const ref = await agree(t, cfg, batches, rates);
    // The rates mattered: the same steps at the base rate end elsewhere.
    const flat = new FusedReference(cfg);
    for (const b of batches) flat.trainStep(b);
    t.ok(relativeDiff(flat.dense[0][1], ref.dense[0][1]) > 1e-3, 'a constant rate ends at other weights');
  });
}

for (const [kind, emb, rows] of [
  ['hashnet', 'adagrad', 520],
  ['full', 'sgd', 96],
  ['scma', 'adagrad', 96],
] as [TestKind, 'sgd' | 'adagrad', number][]) {
  t.test(`dense Adagrad = tfjs model's: ${kind}, embedding ${emb}, ${rows} rows`, { timeout: 240_000 }, async (t) => {
    const cfg = tinyConfig(kind, { ...small, embeddingOptimizer: emb, denseOptimizer: 'adagrad' });
    const batches = [0, 1, 2].map((s) => randomBatch(rows, 6, 300 + s));
    const ref = await agree(t, cfg, batches);
    const sgd = new FusedReference({ ...cfg, denseOptimizer: 'sgd' });
    for (const b of batches) sgd.trainStep(b);
    t.ok(relativeDiff(sgd.dense[0][1], ref.dense[0][1]) > 1e-3, 'Adagrad ends at other weights than SGD');
    t.ok(ref.denseAccumulators().every((a) => a.values.some((x) => x > 0)), 'every sum grew');
  });
}

t.test('ROBE: the JS port of the WGSL locate gives the CPU codes mod M', async (t) => {
  const rng = mulberry32(5);
  for (const [d, z, m] of [[4, 2, 211], [5, 2, 1009], [16, 16, 1 << 20], [8, 3, 2147483647]]) {
    const codes = new RobeCodes(d, 77, z);
    const spec = { kind: 'robe' as const, memoryFloats: m, codes };
    t.equal(locateMode(spec), 'robe', `d ${d} Z ${z}: located on the GPU`);
    const locator = new Locator(spec, d);
    const rows = 50;
    const cats = Uint32Array.from({ length: rows * 26 }, () => (rng() * 4294967296) >>> 0);
    cats[0] = 0;
    cats[1] = 0xffffffff;
    const port = locateLikeGpu(locator, cats, rows);
    const cpu = locator.flatInto(cats, rows, new Int32Array(rows * 26 * d));
    let diff = 0;
    for (let i = 0; i < cpu.length; i++) if (port[i] !== cpu[i]) diff++;
    t.equal(diff, 0, `d ${d} Z ${z} M ${m}: all ${cpu.length} locations agree`);
    // Within a block the locations are consecutive mod M (what makes it ROBE).
    t.equal((port[1] - port[0] + m) % m, 1, 'a block is contiguous');
  }
  t.equal(robeParams(hashNetCodes(4, 1)), undefined, 'other codes are not taken for ROBE');
  t.not(locateMode({ kind: 'robe', memoryFloats: 211, codes: { dim: 4, codesInto: (f, v, o, off) => new RobeCodes(4, 1).codesInto(f, v, o, off) } }), 'robe', 'codes that only behave like ROBE stay CPU codes');
});

for (const opt of ['sgd', 'adagrad'] as const) {
  t.test(`ROBE (GPU locate, JS port) = the tfjs model's CPU ROBE embedding: ${opt}`, { timeout: 240_000 }, async (t) => {
    const cfg = tinyConfig('robe', { ...small, embeddingOptimizer: opt });
    t.equal(locateMode(cfg.embedding), 'robe');
    const batches = [0, 1, 2].map((s) => randomBatch(96, 6, 400 + s));
    const ref = await agree(t, cfg, batches);
    t.ok(relativeDiff(ref.emb.memory, new FusedReference(cfg).emb.memory) > 1e-4, 'the memory moved');
  });
}
