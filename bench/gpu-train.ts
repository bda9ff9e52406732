/**
 * bench/gpu-train: real training runs, the way `bin/pipeline train` does them, for each
 * model shape x embedding kind, on the project's synthetic data:
 *   synth -> preprocess (Arrow shards) -> minhash -> train (last 10% as test)
 * and one JSON line per run with samples/s, test AUC and the generator's oracle AUC.
 *
 *   node dist/bench/gpu-train.js [--rows 500000] [--backend webgpu] [--shapes kaggle,large]
 *        [--kinds full,hashnet,scma] [--epochs 1] [--work DIR]
 *
 * Everything runs in this process (no worker threads), so the esbuild bundle that
 * ../shared/tools/device/pack.sh makes runs it on the GPU machine as it is.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeSynth } from '../input/synth.js';
import { preprocess } from '../pipeline/preprocess.js';
import { readFeatureBatches } from '../io/read-shards.js';
import { buildMapping } from '../scma/reduce.js';
import { writeMapping } from '../scma/mapping-file.js';
import { train, type EmbeddingKind } from '../pipeline/train.js';
import { exactAuc } from '../core/metrics.js';
import { planSplit, type SplitSpec } from '../stages/split.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '500000' },
    seed: { type: 'string', default: '1' },
    backend: { type: 'string', default: 'webgpu' },
    shapes: { type: 'string', default: 'kaggle,large' },
    kinds: { type: 'string', default: 'full,hashnet,scma' },
    epochs: { type: 'string', default: '1' },
    batch: { type: 'string', default: '2048' },
    compression: { type: 'string', default: String(1 / 16) },
    work: { type: 'string', default: path.join(os.tmpdir(), 'scma-gpu-train') },
    device: { type: 'string', default: 'unknown' },
    // fraction: the last 10% is the test set; dlrm: DLRM's Kaggle split (the last seventh halved into test and validation), as facebookresearch/dlrm's own run splits the same rows.
    split: { type: 'string', default: 'fraction' },
    // --only-synth: write the TSV (for a peer's pipeline to start on) and stop; --reuse: keep the work dir's TSV.
    'only-synth': { type: 'boolean', default: false },
    reuse: { type: 'boolean', default: false },
  },
});

// DESIGN.md §3: the Kaggle model and the SCMA paper's large model.
const SHAPES: Record<string, { d: number; bottom: number[]; top: number[] }> = {
  kaggle: { d: 16, bottom: [13, 512, 256, 64, 16], top: [512, 256, 1] },
  large: { d: 128, bottom: [13, 512, 256, 128], top: [1024, 1024, 512, 256, 1] },
};

const rows = Number(args.rows);
const seed = Number(args.seed);
const work = args.work!;
if (!args.reuse) rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const tsv = path.join(work, 'synth.tsv');
const probsFile = path.join(work, 'synth.probs');
const shards = path.join(work, 'shards');
const log = (line: string) => process.stderr.write(line + '\n');
const stageSeconds: Record<string, number> = {};

let t = Date.now();
if (!args.reuse) {
  await writeSynth({ rows, seed, out: tsv, probsOut: probsFile });
  stageSeconds.synth = (Date.now() - t) / 1000;
  log(`synth: ${rows} rows in ${stageSeconds.synth} s`);
}
if (args['only-synth']) process.exit(0);
t = Date.now();
await preprocess({ inputs: [tsv], out: shards, format: 'arrow', concurrency: 0 });
stageSeconds.preprocess = (Date.now() - t) / 1000;
log(`preprocess: ${stageSeconds.preprocess} s`);

if (args.split !== 'fraction' && args.split !== 'dlrm') throw new Error(`--split must be fraction or dlrm, got ${args.split}`);
const split: SplitSpec = args.split === 'dlrm' ? { kind: 'dlrm' } : { kind: 'fraction', test: 0.1, val: 0 };
// The oracle on the test rows: labels from the shards (the TSV of millions of rows is
// larger than one JavaScript string may be), true probabilities from the probs file.
const testRange = planSplit(split, rows).test;
const labels = new Uint8Array(rows);
let at = 0;
for await (const b of readFeatureBatches(shards)) {
  labels.set(b.label!.subarray(0, b.rows), at);
  at += b.rows;
}
const probs = readFileSync(probsFile, 'utf8').trim().split('\n').map(Number);
const oracleAuc = exactAuc(Array.from(labels.subarray(testRange.start, testRange.end)), probs.slice(testRange.start, testRange.end));

for (const shapeName of args.shapes!.split(',')) {
  const shape = SHAPES[shapeName];
  if (!shape) throw new Error(`unknown shape ${shapeName}`);
  let mapping: string | undefined;
  for (const kind of args.kinds!.split(',') as EmbeddingKind[]) {
    if (kind === 'scma' && !mapping) {
      t = Date.now();
      mapping = path.join(work, `mapping-d${shape.d}.arrow`);
      await writeMapping(mapping, await buildMapping(readFeatureBatches(shards), { dim: shape.d, seed }));
      stageSeconds[`minhash_d${shape.d}`] = (Date.now() - t) / 1000;
      log(`minhash d=${shape.d}: ${stageSeconds[`minhash_d${shape.d}`]} s`);
    }
    const s = await train({
      input: shards,
      embedding: kind,
      mapping: kind === 'scma' ? mapping : undefined,
      embeddingDim: shape.d,
      bottomMlp: shape.bottom,
      topMlp: shape.top,
      batchSize: Number(args.batch),
      learningRate: 0.1,
      epochs: Number(args.epochs),
      compression: kind === 'full' ? undefined : Number(args.compression),
      split,
      seed,
      backend: args.backend,
      printFreq: 50,
      log,
    });
    process.stdout.write(
      JSON.stringify({
        device: args.device,
        rows,
        split: args.split,
        shape: shapeName,
        kind,
        backend: s.backend,
        batch: Number(args.batch),
        steps: s.steps,
        samplesPerSecond: Math.round(s.samplesPerSecond),
        seconds: s.seconds,
        // The training loop alone (input path and steps; no evaluation or saving).
        trainSeconds: s.trainSeconds,
        trainSamplesPerSecond: Math.round((s.steps * Number(args.batch)) / Math.max(1e-3, s.trainSeconds)),
        inputWaitSeconds: s.inputWaitSeconds,
        stageSeconds,
        memoryFloats: s.memoryFloats,
        testAuc: s.test?.auc,
        oracleAuc,
        testLogloss: s.test?.logloss,
      }) + '\n',
    );
  }
}
