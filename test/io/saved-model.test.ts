/**
 * The saved model's dense part is in TensorFlow.js's weights format: tfjs's own
 * decoder (tf.io.decodeWeights) reads model.json's weightsManifest + dense.bin and
 * gets back exactly the weights that were saved.
 */
import t from 'tap';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { saveModel, loadModel } from '../../model/saved-model.js';
import type { ModelState } from '../../model/types.js';
import { mulberry32 } from '../../core/hash.js';

function randomState(): ModelState {
  const rnd = mulberry32(7);
  const arr = (n: number) => Float32Array.from({ length: n }, () => rnd() * 2 - 1);
  return {
    dense: [
      { name: 'bottom.0.weight', shape: [13, 4], values: arr(52) },
      { name: 'bottom.0.bias', shape: [4], values: arr(4) },
      { name: 'top.0.weight', shape: [355, 1], values: arr(355) },
      { name: 'top.0.bias', shape: [1], values: arr(1) },
    ],
    embedding: [{ name: 'memory', shape: [1000], values: arr(1000) }],
    optimizer: [],
    step: 3,
  };
}

t.test('tfjs decodes the saved dense weights to the values saved', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'saved-model-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const state = randomState();
  await saveModel(dir, {
    state,
    topology: { embeddingDim: 4, bottomMlp: [13, 4], topMlp: [1] } as never,
    embedding: { kind: 'hashnet', dim: 4, memoryFloats: 1000 } as never,
    featurize: { buckets: null, seed: 0 },
    training: {},
  });
  const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
  const specs = json.weightsManifest.flatMap((g: { weights: tf.io.WeightsManifestEntry[] }) => g.weights);
  const bin = await readFile(path.join(dir, json.weightsManifest[0].paths[0]));
  const decoded = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength), specs);
  for (const w of state.dense) {
    t.same(decoded[w.name].shape, w.shape, `${w.name} shape`);
    t.same(Array.from(decoded[w.name].dataSync()), Array.from(w.values), `${w.name} values`);
  }
  const loaded = await loadModel(dir);
  t.same(Array.from(loaded.state.embedding[0].values), Array.from(state.embedding[0].values), 'embedding memory round-trips');
});
