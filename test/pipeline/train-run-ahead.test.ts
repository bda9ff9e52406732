import t from 'tap';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { train } from '../../pipeline/train.js';
import { createDlrm } from '../../model/dlrm.js';
import { writeSynth } from '../../input/synth.js';
import { preprocess } from '../../pipeline/preprocess.js';
import type { Dlrm, TrainBatch } from '../../model/types.js';

// A model that runs ahead (queueStep / takeLoss, as the fused WebGPU step does):
// train must read its loss only at print / evaluation / checkpoint time, never per
// step, and report the same means as a model read every step.
t.test('train reads a run-ahead model\'s loss only when it prints, evaluates or saves', async (t) => {
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'run-ahead-'));
  t.teardown(() => fsp.rm(tmp, { recursive: true, force: true }));
  const tsv = path.join(tmp, 'synth.tsv');
  await writeSynth({ rows: 1200, seed: 3, out: tsv });
  const shards = path.join(tmp, 'shards');
  await preprocess({ inputs: [tsv], out: shards, format: 'arrow', concurrency: 0 });

  const calls = { queueStep: 0, takeLoss: 0, trainStep: 0 };
  const stepLosses: number[] = [];
  const runAheadModel = async (c: Parameters<typeof createDlrm>[0], o: Parameters<typeof createDlrm>[1]): Promise<Dlrm> => {
    const m = await createDlrm(c, o);
    let pending: number[] = [];
    return {
      config: m.config,
      backend: m.backend,
      async trainStep(b: TrainBatch) {
        calls.trainStep++;
        return m.trainStep(b);
      },
      async queueStep(b: TrainBatch) {
        calls.queueStep++;
        const l = await m.trainStep(b);
        stepLosses.push(l);
        pending.push(l);
      },
      async takeLoss() {
        calls.takeLoss++;
        const mean = pending.reduce((a, b) => a + b, 0) / pending.length;
        const steps = pending.length;
        pending = [];
        return { mean, steps };
      },
      predict: (b) => m.predict(b),
      exportState: () => m.exportState(),
      importState: (s) => m.importState(s),
      dispose: () => m.dispose(),
    };
  };
  const metricsFile = path.join(tmp, 'metrics.jsonl');
  const summary = await train({
    input: shards,
    embedding: 'hashnet',
    memoryFloats: 4000,
    embeddingDim: 4,
    bottomMlp: [13, 8, 4],
    topMlp: [8, 1],
    batchSize: 100,
    printFreq: 4,
    split: { kind: 'fraction', test: 0.1, val: 0 },
    backend: 'cpu',
    seed: 1,
    log: () => {},
    metricsFile,
    createModel: runAheadModel,
  });
  const lines = (await fsp.readFile(metricsFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string; loss?: number });
  const steps = summary.steps;
  t.equal(calls.trainStep, 0, 'no per-step trainStep');
  t.equal(calls.queueStep, steps, 'every step queued');
  t.ok(calls.takeLoss <= Math.ceil(steps / 4) + 1, `${calls.takeLoss} loss reads for ${steps} steps (print-freq 4)`);
  t.ok(calls.takeLoss >= Math.floor(steps / 4), 'read at every print');
  const trainLines = lines.filter((l) => l.type === 'train');
  if (trainLines.length) {
    const first = trainLines[0];
    const want = stepLosses.slice(0, 4).reduce((a, b) => a + b, 0) / 4;
    t.ok(Math.abs(first.loss! - want) < 1e-9, `printed loss ${first.loss} is the mean of the first 4 steps ${want}`);
  } else t.fail('no train metric lines');
  t.ok(summary.test && summary.test.auc > 0, 'evaluation ran');
});
