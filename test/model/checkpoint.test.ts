import t from 'tap';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { saveCheckpoint, loadCheckpoint, writeBundle, readBundle, cleanTempFiles, type TrainCheckpoint } from '../../model/checkpoint.js';
import { saveModel, loadModel } from '../../model/saved-model.js';

const tmp = () => fsp.mkdtemp(path.join(os.tmpdir(), 'ckpt-test-'));

function ckpt(step: number): TrainCheckpoint {
  const f = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => i * k + step);
  return {
    version: 1,
    fingerprint: 'abc',
    step,
    position: { epoch: 1, batchInEpoch: step, rowsConsumed: step * 128 },
    rng: { seed: 7, shuffleSeed: 99 },
    model: {
      step,
      dense: [{ name: 'bot/0/w', shape: [13, 3], values: f(39, 0.5) }, { name: 'bot/0/b', shape: [3], values: f(3, 1) }],
      embedding: [{ name: 'memory', shape: [1001], values: f(1001, -0.25) }],
      optimizer: [{ name: 'memory/accum', shape: [1001], values: f(1001, 2) }],
    },
  };
}

t.test('checkpoint round-trips every array and the data position', async (t) => {
  const dir = await tmp();
  t.equal(await loadCheckpoint(dir), null, 'none yet');
  await saveCheckpoint(dir, ckpt(5));
  const back = await loadCheckpoint(dir);
  t.same(back, ckpt(5));
  await saveCheckpoint(dir, ckpt(6));
  t.equal((await loadCheckpoint(dir))!.step, 6, 'replaced');
  t.same((await fsp.readdir(dir)).filter((n) => n.endsWith('.tmp')), [], 'no temp files left');
});

t.test('a truncated or foreign file is refused clearly', async (t) => {
  const dir = await tmp();
  await saveCheckpoint(dir, ckpt(1));
  const file = path.join(dir, 'checkpoint.bin');
  const buf = await fsp.readFile(file);
  await fsp.writeFile(file, buf.subarray(0, buf.length - 100));
  await t.rejects(loadCheckpoint(dir), /truncated checkpoint/);
  await fsp.writeFile(file, 'hello world, not a checkpoint');
  await t.rejects(loadCheckpoint(dir), /not a checkpoint file/);
});

t.test('bundles keep dtypes; temp files of a killed writer are cleaned', async (t) => {
  const dir = await tmp();
  const file = path.join(dir, 'b.bin');
  await writeBundle(file, { x: 1 }, { a: Uint32Array.of(1, 2, 3), b: Uint8Array.of(9), c: Float64Array.of(0.1) });
  const { meta, arrays } = await readBundle(file);
  t.same(meta, { x: 1 });
  t.ok(arrays.a instanceof Uint32Array && arrays.b instanceof Uint8Array && arrays.c instanceof Float64Array);
  t.same([...arrays.a, ...arrays.b, ...arrays.c], [1, 2, 3, 9, 0.1]);
  await fsp.writeFile(path.join(dir, '.checkpoint.bin.1.2.tmp'), 'partial');
  await cleanTempFiles(dir);
  t.same(await fsp.readdir(dir), ['b.bin']);
});

t.test('saved model: tfjs-style model.json + weights, loads back', async (t) => {
  const dir = path.join(await tmp(), 'model');
  const s = ckpt(3).model;
  await saveModel(dir, {
    state: s,
    topology: { embeddingDim: 8, bottomMlp: [13, 3], topMlp: [1], interaction: 'dot', numDense: 13, numCat: 26 },
    embedding: { kind: 'hashnet', dim: 8, memoryFloats: 1001, hashSeed: 3 },
    featurize: { buckets: null, seed: 0 },
    training: { steps: 3 },
  });
  const json = JSON.parse(await fsp.readFile(path.join(dir, 'model.json'), 'utf8'));
  t.same(json.weightsManifest[0].weights.map((w: { name: string }) => w.name), ['bot/0/w', 'bot/0/b']);
  t.same(json.weightsManifest[0].paths, ['dense.bin']);
  const back = await loadModel(dir);
  t.same(back.state.dense, s.dense);
  t.same(back.state.embedding, s.embedding);
  t.equal(back.json.embedding.memoryFloats, 1001);
  await t.rejects(loadModel(path.join(dir, 'nope')), /cannot read a saved model/);
});
