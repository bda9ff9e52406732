/**
 * Worker-thread entry that encodes one shard and writes it to its temp name, durably
 * (fsync before answering), so the main thread only has to rename it into place.
 * Encoding is the CPU-heavy half of preprocess; running it here leaves the main
 * thread free to parse. Column buffers arrive and go back by transfer (no copies).
 */
import { parentPort } from 'node:worker_threads';
import { encodeShardPieces, writePiecesDurably } from './shard-format.js';
import { errorForTransfer } from '../core/errors.js';
import { jobToBatch, batchBuffers, type EncodeJob, type EncodeReply } from './shard-job.js';

// One job at a time per worker (the pool hands a worker its next job only after its reply).
parentPort!.on('message', async (job: EncodeJob) => {
  let reply: EncodeReply;
  try {
    const batch = jobToBatch(job);
    const { bytes, crc32 } = writePiecesDurably(job.tmpPath, await encodeShardPieces(batch, job.format));
    reply = { id: job.id, bytes, crc32, columns: job.columns, label: job.label };
  } catch (err) {
    // Posted as a WorkerError: a thrown Error would lose its code and context in the clone.
    reply = { id: job.id, error: errorForTransfer(err), columns: job.columns, label: job.label };
  }
  parentPort!.postMessage(reply, batchBuffers(reply));
});
