/**
 * A worker thread of the CPU step (pass-threads.ts starts it): one CpuPass over the
 * step's shared memory, on its own tfjs backend (tfjs-wasm has no threads in Node, so
 * a second core needs a second wasm instance). It reads the parameters and the
 * embedding memory, writes only its gradient array and its rows of the embedding
 * gradient and logits, and answers each request with its loss sum.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { selectBackend } from '../backend.js';
import { NUM_FEATURES } from '../embedding/layer.js';
import { NUM_DENSE_INPUTS } from '../fused/plan.js';
import { CpuPass, sgdRange } from './pass.js';
import type { BatchBuffers, PassInit, ToPassWorker, FromPassWorker } from './pass-threads.js';

const init = workerData as PassInit;
const port = parentPort!;
const send = (m: FromPassWorker) => port.postMessage(m);

async function main(): Promise<void> {
  const backend = await selectBackend(init.backend, () => {});
  // The same arithmetic as the main thread's pass, or the split would change results.
  if (backend !== init.backend) throw new Error(`the CPU step's worker got backend ${backend}, the main thread has ${init.backend}`);
  const params = new Float32Array(init.params);
  const pass = new CpuPass(init.shape, params, new Float32Array(init.memory), new Float32Array(init.grads));
  const allGrads = init.allGrads.map((g) => new Float32Array(g));
  const per = NUM_FEATURES * init.shape.d;
  let bufs: { locs: Int32Array; de: Float32Array; dense: Float32Array; label: Float32Array; logits: Float32Array } | undefined;
  const views = (b: BatchBuffers) => ({ locs: new Int32Array(b.locs), de: new Float32Array(b.de), dense: new Float32Array(b.dense), label: new Float32Array(b.label), logits: new Float32Array(b.logits) });
  port.on('message', (m: ToPassWorker) => {
    try {
      if (m.type === 'buffers') {
        bufs = views(m.buffers);
        return;
      }
      if (m.type === 'sgd') {
        sgdRange(params, allGrads, m.n, m.lr, m.lo, m.hi);
        send({ type: 'done', loss: 0 });
        return;
      }
      const b = bufs!;
      const { lo, hi } = m;
      const rows = hi - lo;
      const dense = b.dense.subarray(lo * NUM_DENSE_INPUTS, hi * NUM_DENSE_INPUTS);
      const locs = b.locs.subarray(lo * per, hi * per);
      if (m.type === 'gradients') {
        const loss = pass.gradients(dense, b.label.subarray(lo, hi), locs, rows, m.total, b.de.subarray(lo * per, hi * per));
        send({ type: 'done', loss });
      } else {
        pass.predict(dense, locs, rows, b.logits.subarray(lo, hi));
        send({ type: 'done', loss: 0 });
      }
    } catch (e) {
      send({ type: 'error', message: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined });
    }
  });
  send({ type: 'ready' });
}

main().catch((e) => send({ type: 'error', message: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined }));
