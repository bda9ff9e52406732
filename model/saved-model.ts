/**
 * Reads a model saved by `train --out` (model.json + weights, see model/checkpoint.ts)
 * back into a Dlrm ready to predict.
 */
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { PipelineError } from '../core/errors.js';
import type { Dlrm, EmbeddingSpec } from './types.js';
import { loadModel } from './checkpoint.js';
import { decodeVocabulary, IdentityVocabulary } from '../stages/vocab.js';

export async function loadSavedDlrm(dir: string, opts: { backend?: string; log?: (l: string) => void } = {}): Promise<{ model: Dlrm; featurize: { buckets: number | number[] | null; seed: number } | null }> {
  let modelDir = dir;
  try {
    await fsp.access(path.join(dir, 'model', 'model.json'));
    modelDir = path.join(dir, 'model');
  } catch {
    /* DIR itself is the model directory */
  }
  const { json, state } = await loadModel(modelDir);
  const e = json.embedding;
  const topo = json.modelTopology.config;
  let spec: EmbeddingSpec;
  if (e.kind === 'full') {
    if (e.vocab?.kind === 'identity') spec = { kind: 'full', vocab: new IdentityVocabulary(e.vocab.buckets) };
    else if (e.vocab?.kind === 'table') {
      const buf = await fsp.readFile(path.join(modelDir, e.vocab.file));
      const words = new Uint32Array(buf.byteLength / 4);
      new Uint8Array(words.buffer).set(buf);
      spec = { kind: 'full', vocab: decodeVocabulary(words) };
    } else throw new PipelineError('ERR_MODEL', 'full embedding without a vocabulary', { file: modelDir });
  } else if (e.kind === 'hashnet') {
    const { hashNetCodes } = await import('../scma/codes.js');
    spec = { kind: 'hashnet', memoryFloats: e.memoryFloats!, codes: hashNetCodes(e.dim, e.hashSeed ?? 0) };
  } else {
    const { loadMapping } = await import('../scma/mapping-file.js');
    const file = path.resolve(modelDir, e.mapping!.file);
    spec = { kind: 'scma', memoryFloats: e.memoryFloats!, codes: await loadMapping(file, { dim: e.dim }) };
  }
  const { createDlrm } = await import('./dlrm.js');
  const model = await createDlrm(
    // SGD: prediction needs no optimizer state.
    { embeddingDim: topo.embeddingDim, bottomMlp: topo.bottomMlp, topMlp: topo.topMlp, embedding: spec, learningRate: 0.1, embeddingOptimizer: 'sgd', seed: 0 },
    opts,
  );
  model.importState(state);
  return { model, featurize: json.featurize as { buckets: number | number[] | null; seed: number } | null };
}

