/**
 * The worker side of input-thread.ts: reads one epoch's training rows, shuffles and
 * batches them exactly as the in-thread path does, and sends each TrainBatch by
 * transfer while it holds a credit.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { errorForTransfer } from '../../core/errors.js';
import { readFeatureBatches } from '../../io/read-shards.js';
import { shuffledTrainBatches } from '../../stages/shuffle-batcher.js';
import { selectRows } from '../../stages/split.js';
import type { EpochInput, FromWorker, ToWorker } from './input-thread.js';
import { requireLabels } from './source.js';

const port = parentPort!;
const epoch = workerData as EpochInput;
let credits = 0;
let wake: (() => void) | undefined;
port.on('message', (m: ToWorker) => {
  if (m.type !== 'credit') return;
  credits += m.n;
  const w = wake;
  wake = undefined;
  w?.();
});

async function* labeled(input: string, rows: AsyncIterable<import('../../core/schema.js').FeatureBatch>) {
  for await (const b of rows) yield requireLabels(b, input);
}

async function run(): Promise<void> {
  const rows = selectRows(readFeatureBatches(epoch.input, { verify: epoch.verify }), epoch.range);
  for await (const b of shuffledTrainBatches(labeled(epoch.input, rows), { capacity: epoch.capacity, seed: epoch.seed, batchSize: epoch.batchSize })) {
    while (credits === 0) await new Promise<void>((resolve) => (wake = resolve));
    credits--;
    const transfer: ArrayBuffer[] = [b.dense.buffer as ArrayBuffer, b.cats.buffer as ArrayBuffer];
    if (b.label) transfer.push(b.label.buffer as ArrayBuffer);
    port.postMessage({ type: 'batch', rows: b.rows, dense: b.dense, cats: b.cats, label: b.label } satisfies FromWorker, transfer);
  }
  port.postMessage({ type: 'end' } satisfies FromWorker);
}

run().then(
  () => port.close(),
  (err) => {
    port.postMessage({ type: 'error', error: errorForTransfer(err) } satisfies FromWorker);
    port.close();
  },
);
