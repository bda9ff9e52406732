/**
 * bench/input-path: train's input path (shard read, split, shuffle, batch) against a
 * consumer that spends --step-ms of main-thread time per batch, as the GPU step's host
 * side does: on the main thread (in between steps) and on the input worker thread with
 * a queue of 2 and of 32 batches. Prints one JSON line per run: the seconds the loop
 * waited for batches and in all.
 *
 *   node dist/bench/input-path.js [--rows 1000000] [--step-ms 2.3] [--batch 2048] [--reps 2] [--input SHARDS]
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync } from 'node:fs';
import { writeSynth } from '../input/synth.js';
import { preprocess } from '../pipeline/preprocess.js';
import { openTrainSource } from '../pipeline/train/source.js';
import { threadedTrainBatches } from '../pipeline/train/input-thread.js';
import { shuffledTrainBatches } from '../stages/shuffle-batcher.js';
import type { TrainBatch } from '../core/schema.js';

const { values: a } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    'step-ms': { type: 'string', default: '2.3' },
    batch: { type: 'string', default: '2048' },
    reps: { type: 'string', default: '2' },
    input: { type: 'string' },
  },
});
const rows = Number(a.rows);
const stepMs = Number(a['step-ms']);
const batchSize = Number(a.batch);
let input = a.input;
if (!input) {
  const dir = path.join(os.tmpdir(), `scma-bench-input-${rows}`);
  input = path.join(dir, 'shards');
  if (!existsSync(path.join(input, '_manifest.json'))) {
    process.stderr.write(`writing ${rows} synthetic rows as Arrow shards into ${input}...\n`);
    mkdirSync(dir, { recursive: true });
    await writeSynth({ rows, seed: 1, out: path.join(dir, 'synth.tsv') });
    await preprocess({ inputs: [path.join(dir, 'synth.tsv')], out: input, format: 'arrow', overwrite: true });
  }
}
const src = await openTrainSource(input, { split: { kind: 'fraction', val: 0, test: 0.1 } });
const shards = src.shards!;
const epoch = { input: shards.input, range: shards.train, verify: true, capacity: 10_000, seed: 1, batchSize };
const cases: Record<string, () => AsyncIterable<TrainBatch>> = {
  'main thread': () => shuffledTrainBatches(src.epochRows(), epoch),
  'worker, queue 2': () => threadedTrainBatches(epoch, 2),
  'worker, queue 32': () => threadedTrainBatches(epoch, 32),
};
// The step's host side: busy main-thread time, then a turn of the event loop (a submit's await).
const spin = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};
for (let rep = 1; rep <= Number(a.reps); rep++) {
  for (const [name, batches] of Object.entries(cases)) {
    let wait = 0;
    let n = 0;
    const t0 = performance.now();
    let asked = t0;
    for await (const _ of batches()) {
      wait += performance.now() - asked;
      spin(stepMs);
      await new Promise(setImmediate);
      n++;
      asked = performance.now();
    }
    const total = (performance.now() - t0) / 1000;
    process.stdout.write(JSON.stringify({ input: name, rep, rows: shards.train.end - shards.train.start, batches: n, step_ms: stepMs, cores: os.availableParallelism(), wait_s: +(wait / 1000).toFixed(3), total_s: +total.toFixed(3), spin_s: +((n * stepMs) / 1000).toFixed(3) }) + '\n');
  }
}
