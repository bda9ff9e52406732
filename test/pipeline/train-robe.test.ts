/**
 * train with --embedding robe end to end (shards -> train -> saved model -> predict), and
 * the shared memory's initialisation from the largest feature's value count (dlrm_ssm).
 */
import t from 'tap';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeSynth } from '../../input/synth.js';
import { preprocess } from '../../pipeline/preprocess.js';
import { train } from '../../pipeline/train.js';
import { createDlrm } from '../../model/dlrm.js';
import { restoreDlrm } from '../../model/saved-model.js';
import { RobeCodes } from '../../scma/robe-codes.js';
import type { DlrmConfig } from '../../model/types.js';

const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'train-robe-'));
t.teardown(() => fsp.rm(tmp, { recursive: true, force: true }));
const tsv = path.join(tmp, 'rows.tsv');
await writeSynth({ rows: 3000, seed: 4, out: tsv });
const shards = path.join(tmp, 'shards');
await preprocess({ inputs: [tsv], out: shards, format: 'arrow', concurrency: 0 });
const SMALL = { embeddingDim: 4, bottomMlp: [13, 8, 4], topMlp: [8, 1], batchSize: 256, backend: 'cpu', log: () => {} };

t.test('robe trains, learns, saves and predicts with the same codes', async (t) => {
  const out = path.join(tmp, 'run');
  const s = await train({ ...SMALL, input: shards, embedding: 'robe', robeBlock: 2, compression: 1 / 8, epochs: 2, learningRate: 0.3, embeddingOptimizer: 'adagrad', split: { kind: 'fraction', test: 0.2, val: 0 }, seed: 5, outDir: out });
  t.equal(s.embedding, 'robe');
  t.ok(s.memoryFloats! > 0 && Math.abs(s.memoryFloats! / (s.distinctValues! * 4) - 1 / 8) < 0.01, `M = R x distinct x d (${s.memoryFloats})`);
  t.ok(s.test!.auc > 0.6, `learns: test AUC ${s.test!.auc.toFixed(4)}`);
  const json = JSON.parse(await fsp.readFile(path.join(out, 'model', 'model.json'), 'utf8'));
  t.match(json.embedding, { kind: 'robe', dim: 4, memoryFloats: s.memoryFloats, hashSeed: 5, robeBlock: 2 });
  const { model: loaded } = await restoreDlrm(path.join(out, 'model'), { backend: 'cpu', log: () => {} });
  const spec = loaded.config.embedding;
  t.equal(spec.kind, 'robe');
  if (spec.kind === 'robe') {
    t.ok(spec.codes instanceof RobeCodes && spec.codes.block === 2 && spec.codes.seed === 5, 'the saved model rebuilds the same ROBE codes');
  }
  loaded.dispose();
});

t.test('shared memory starts U(±sqrt(1/max(ln))) from the counted values; M/d without counts', async (t) => {
  const seen: DlrmConfig[] = [];
  const createModel = async (c: DlrmConfig, o: { backend?: string; log?: (l: string) => void }) => {
    seen.push(c);
    return createDlrm(c, o);
  };
  const s = await train({ ...SMALL, input: shards, embedding: 'hashnet', compression: 1 / 4, createModel, seed: 1 });
  const spec = seen[0].embedding;
  t.ok(spec.kind === 'hashnet' && spec.initRows! > 100, `initRows ${spec.kind !== 'full' ? spec.initRows : ''}`);
  // The largest feature's distinct count, as dlrm_ssm's max(ln): c3-like features have the most values.
  const { countValues } = await import('../../stages/vocab.js');
  const { readFeatureBatches } = await import('../../io/read-shards.js');
  const counts = (await countValues(readFeatureBatches(shards))).distinct();
  if (spec.kind === 'hashnet') t.equal(spec.initRows, Math.max(...counts));
  t.ok(s.steps > 0);
  const model = await createDlrm(seen[0], { backend: 'cpu', log: () => {} });
  const mem = (await model.exportState()).embedding[0].values;
  const bound = Math.sqrt(1 / Math.max(...counts));
  t.ok(mem.every((x) => Math.abs(x) <= bound), 'every float within the bound');
  t.ok(mem.some((x) => Math.abs(x) > 0.95 * bound), 'and the bound is reached (uniform, not smaller)');
  model.dispose();
  seen.length = 0;
  await train({ ...SMALL, input: shards, embedding: 'scma', memoryFloats: 5000, createModel, seed: 1 });
  t.equal(seen[0].embedding.kind !== 'full' ? seen[0].embedding.initRows : -1, undefined, '--memory-floats: no counts, initRows left to the default M/d');
});
