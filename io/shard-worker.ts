/**
 * Worker-thread entry that encodes one shard and writes it to its temp name, durably
 * (fsync before answering), so the main thread only has to rename it into place.
 * Encoding is the CPU-heavy half of preprocess; running it here leaves the main
 * thread free to parse. Column buffers arrive and go back by transfer (no copies).
 */
import { parentPort } from 'node:worker_threads';
import { openSync, writeSync, fsyncSync, closeSync } from 'node:fs';
import { encodeShard } from './shard-format.js';
import type { EncodeJob, EncodeReply } from './shard-pool.js';
import { jobToBatch, batchBuffers } from './shard-pool.js';

function writeDurably(file: string, bytes: Uint8Array): void {
  const fd = openSync(file, 'w');
  try {
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

parentPort!.on('message', (job: EncodeJob) => {
  const batch = jobToBatch(job);
  let reply: EncodeReply;
  try {
    const bytes = encodeShard(batch, job.format);
    writeDurably(job.tmpPath, bytes);
    reply = { id: job.id, bytes: bytes.byteLength, columns: job.columns, label: job.label };
  } catch (err) {
    reply = { id: job.id, error: (err as Error).message ?? String(err), columns: job.columns, label: job.label };
  }
  parentPort!.postMessage(reply, batchBuffers(reply));
});
