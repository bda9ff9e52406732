/**
 * The saved model, written by `train --out` and read by predict: one format, in one
 * place. A directory in TensorFlow.js's artifact layout: model.json (topology +
 * weightsManifest, as tf.io's handlers write) and the weight files it names, plus
 * the embedding memory and its record (model/embedding-kinds.ts: kind, M,
 * vocabulary or mapping, and the files those name). We write it ourselves rather
 * than through tf.io handlers because the model is not a tfjs-layers model (no
 * LayersModel to serialize) and tfjs-core's file handlers need tfjs-node; the
 * layout is the same, plain JSON + binary.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../core/errors.js';
import { NUM_CAT, NUM_DENSE } from '../core/schema.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { restoreEmbedding, type BuiltEmbedding, type SavedEmbeddingSpec } from './embedding-kinds.js';
import type { Dlrm, DlrmConfig, ModelState } from './types.js';

export type { SavedEmbeddingSpec } from './embedding-kinds.js';

type WeightsManifest = { paths: string[]; weights: { name: string; shape: number[]; dtype: 'float32' }[] }[];

/** The training data's featurize settings (its shards manifest's config), so predict featurizes raw TSV the same way. */
export type FeaturizeSettings = { buckets: number | number[] | null; seed: number };

export interface SavedModelJson {
  format: 'scma-dlrm';
  generatedBy: string;
  modelTopology: {
    class_name: 'DLRM';
    config: { embeddingDim: number; bottomMlp: number[]; topMlp: number[]; interaction: 'dot'; numDense: number; numCat: number };
  };
  weightsManifest: WeightsManifest;
  embedding: SavedEmbeddingSpec & { weightsManifest: WeightsManifest };
  featurize: FeaturizeSettings | null;
  training: unknown;
}

const MODEL_JSON = 'model.json';

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function concatFloat(list: { values: Float32Array }[]): Float32Array {
  const out = new Float32Array(list.reduce((s, e) => s + e.values.length, 0));
  let o = 0;
  for (const e of list) {
    out.set(e.values, o);
    o += e.values.length;
  }
  return out;
}

/** The low-level writer: state arrays, topology and the embedding record as given. */
export async function saveModel(
  dir: string,
  opts: { state: ModelState; topology: SavedModelJson['modelTopology']['config']; embedding: SavedEmbeddingSpec; featurize: FeaturizeSettings | null; training: unknown; extraFiles?: Record<string, Uint8Array> },
): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  const w = (list: ModelState['dense']) => list.map((e) => ({ name: e.name, shape: e.shape, dtype: 'float32' as const }));
  for (const [name, bytes] of Object.entries(opts.extraFiles ?? {})) await writeFileAtomic(path.join(dir, name), [bytes]);
  await writeFileAtomic(path.join(dir, 'dense.bin'), [bytesOf(concatFloat(opts.state.dense))]);
  await writeFileAtomic(path.join(dir, 'embedding.bin'), [bytesOf(concatFloat(opts.state.embedding))]);
  const json: SavedModelJson = {
    format: 'scma-dlrm',
    generatedBy: 'scma-pipeline train',
    modelTopology: { class_name: 'DLRM', config: opts.topology },
    weightsManifest: [{ paths: ['dense.bin'], weights: w(opts.state.dense) }],
    embedding: { ...opts.embedding, weightsManifest: [{ paths: ['embedding.bin'], weights: w(opts.state.embedding) }] },
    featurize: opts.featurize,
    training: opts.training,
  };
  // model.json last: its presence marks a complete saved model.
  await writeFileAtomic(path.join(dir, MODEL_JSON), [Buffer.from(JSON.stringify(json, null, 1))]);
}

async function readWeights(dir: string, manifest: WeightsManifest): Promise<ModelState['dense']> {
  const out: ModelState['dense'] = [];
  for (const group of manifest) {
    const parts = await Promise.all(group.paths.map((p) => fsp.readFile(path.join(dir, p))));
    const all = Buffer.concat(parts);
    const floats = new Float32Array(all.byteLength / 4);
    new Uint8Array(floats.buffer).set(all);
    let o = 0;
    for (const w of group.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      if (o + n > floats.length) throw new PipelineError('ERR_MODEL', `weight file too short for ${w.name}`, { file: path.join(dir, group.paths[0]) });
      out.push({ name: w.name, shape: w.shape, values: floats.slice(o, o + n) });
      o += n;
    }
  }
  return out;
}

/** The low-level reader: model.json and the state arrays, no model built. */
export async function loadModel(dir: string): Promise<{ json: SavedModelJson; state: ModelState }> {
  const file = path.join(dir, MODEL_JSON);
  let json: SavedModelJson;
  try {
    json = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (err) {
    throw new PipelineError('ERR_MODEL', `cannot read a saved model: ${(err as Error).message}`, { file });
  }
  if (json.format !== 'scma-dlrm') throw new PipelineError('ERR_MODEL', `unknown model format ${JSON.stringify(json.format)}`, { file });
  const dense = await readWeights(dir, json.weightsManifest);
  const embedding = await readWeights(dir, json.embedding.weightsManifest);
  return { json, state: { dense, embedding, optimizer: [], step: 0 } };
}

/** Saves a trained model with its embedding's files; predict's restoreDlrm reads it back. */
export async function saveDlrm(
  dir: string,
  m: { state: ModelState; config: Pick<DlrmConfig, 'embeddingDim' | 'bottomMlp' | 'topMlp'>; embedding: BuiltEmbedding; featurize: FeaturizeSettings | null; training: unknown },
): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  await m.embedding.writeFiles(dir);
  await saveModel(dir, {
    // Prediction needs no optimizer state; a checkpoint keeps it.
    state: { ...m.state, optimizer: [] },
    topology: { embeddingDim: m.config.embeddingDim, bottomMlp: m.config.bottomMlp, topMlp: m.config.topMlp, interaction: 'dot', numDense: NUM_DENSE, numCat: NUM_CAT },
    embedding: m.embedding.saved,
    featurize: m.featurize,
    training: m.training,
  });
}

/**
 * A saved model back as a Dlrm ready to predict. `dir` is the model directory, or
 * the `train --out` directory holding it as model/.
 */
export async function restoreDlrm(
  dir: string,
  opts: { backend?: string; log?: (l: string) => void; embeddingImpl?: string } = {},
): Promise<{ model: Dlrm; featurize: FeaturizeSettings | null }> {
  let modelDir = dir;
  try {
    await fsp.access(path.join(dir, 'model', MODEL_JSON));
    modelDir = path.join(dir, 'model');
  } catch {
    /* DIR itself is the model directory */
  }
  const { json, state } = await loadModel(modelDir);
  const topo = json.modelTopology.config;
  const spec = await restoreEmbedding(json.embedding, modelDir);
  const { createDlrm } = await import('./dlrm.js');
  const model = await createDlrm(
    // SGD: prediction needs no optimizer state.
    { embeddingDim: topo.embeddingDim, bottomMlp: topo.bottomMlp, topMlp: topo.topMlp, embedding: spec, learningRate: 0.1, embeddingOptimizer: 'sgd', seed: 0 },
    opts,
  );
  try {
    model.importState(state);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, featurize: json.featurize };
}
