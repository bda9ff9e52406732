/**
 * A small pool of shard-encoding worker threads behind p-limit: at most `size` shards
 * encode at once (one per worker), the rest wait their turn. With size 0 it encodes
 * on the calling thread, which small inputs and tests prefer (no worker start-up).
 */
import { Worker } from 'node:worker_threads';
import pLimit, { type LimitFunction } from 'p-limit';
import { NUM_CAT, NUM_DENSE, type FeatureBatch } from '../core/schema.js';
import { PipelineError, errorFromWorker, invalidOption } from '../core/errors.js';
import { batchBuffers, batchToJobColumns, type EncodeJob, type EncodeReply } from './shard-job.js';
import { encodeShardPieces, writePiecesDurably } from './shard-format.js';
import type { ShardFormat } from './manifest.js';
import { onInterrupt } from '../core/interrupt.js';

export { batchBuffers, batchToJobColumns, jobToBatch, type EncodeJob, type EncodeReply } from './shard-job.js';

export interface EncodeResult {
  bytes: number;
  /** CRC-32 of the file's bytes (core/checksum.ts). */
  crc32: number;
  /** The shard's column buffers, handed back for reuse. */
  batch: FeatureBatch;
}

/**
 * What encode rejects with, on this thread or a worker alike: a PipelineError as it
 * was thrown (its code and context intact), anything else (a full disk, a bug in an
 * encoder) as ERR_SHARD_WRITE naming the file, with the system code kept as `cause`.
 */
function shardWriteError(err: unknown, tmpPath: string): PipelineError {
  if (err instanceof PipelineError) return err;
  const code = (err as { code?: unknown })?.code;
  const context = typeof code === 'string' ? { file: tmpPath, cause: code } : { file: tmpPath };
  return new PipelineError('ERR_SHARD_WRITE', `encoding shard failed: ${(err as Error)?.message ?? String(err)}`, context);
}

export class ShardEncoderPool {
  readonly size: number;
  private readonly limit: LimitFunction;
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (r: EncodeReply) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private closed = false;
  /** Set on SIGINT/SIGTERM: no shard starts after it, since the process is about to exit. */
  private halted = false;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly unregisterInterrupt: () => void;

  constructor({ size = 2 }: { size?: number } = {}) {
    if (!Number.isInteger(size) || size < 0) throw invalidOption('concurrency', 'must be a non-negative integer', size);
    this.size = size;
    this.limit = pLimit(Math.max(1, size));
    // A worker writes its shard's temp file on its own thread: the interrupt cleanup must
    // run after the writes in flight end, or a temp file could appear after it.
    this.unregisterInterrupt = onInterrupt({
      status: () => undefined,
      cleanup: () => {},
      stop: async () => {
        this.halted = true;
        await Promise.allSettled([...this.inFlight]);
      },
    });
  }

  /** Encodes `batch` (rows 0..batch.rows of whole-buffer columns) into tmpPath, fsynced. */
  encode(batch: FeatureBatch, format: ShardFormat, tmpPath: string): Promise<EncodeResult> {
    const work = () => {
      // Interrupted: never settles, so nothing more is written before the process exits.
      if (this.halted) return new Promise<EncodeResult>(() => {});
      const p = this.size === 0 ? this.encodeHere(batch, format, tmpPath) : this.encodeInWorker(batch, format, tmpPath);
      this.inFlight.add(p);
      p.then(
        () => this.inFlight.delete(p),
        () => this.inFlight.delete(p),
      );
      return p;
    };
    return this.limit(() => work().catch((err: unknown) => Promise.reject(shardWriteError(err, tmpPath))));
  }

  private async encodeHere(batch: FeatureBatch, format: ShardFormat, tmpPath: string): Promise<EncodeResult> {
    const view: FeatureBatch = {
      rows: batch.rows,
      label: batch.label ? batch.label.subarray(0, batch.rows) : null,
      dense: batch.dense.map((a) => a.subarray(0, batch.rows)),
      cats: batch.cats.map((a) => a.subarray(0, batch.rows)),
    };
    const { bytes, crc32 } = writePiecesDurably(tmpPath, await encodeShardPieces(view, format));
    return { bytes, crc32, batch };
  }

  private takeWorker(): Worker {
    const w = this.idle.pop();
    if (w) return w;
    const worker = new Worker(new URL('./shard-worker.js', import.meta.url));
    worker.on('message', (reply: EncodeReply) => {
      const p = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      p?.resolve(reply);
    });
    worker.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
    this.all.push(worker);
    return worker;
  }

  private async encodeInWorker(batch: FeatureBatch, format: ShardFormat, tmpPath: string): Promise<EncodeResult> {
    if (this.closed) throw new Error('shard encoder pool is closed');
    const worker = this.takeWorker();
    const id = this.nextId++;
    const { columns, label } = batchToJobColumns(batch);
    const job: EncodeJob = { id, format, tmpPath, rows: batch.rows, columns, label };
    const reply = await new Promise<EncodeReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage(job, batchBuffers(job));
    });
    this.idle.push(worker);
    const back: FeatureBatch = {
      rows: batch.rows,
      label: reply.label ? new Uint8Array(reply.label) : null,
      dense: reply.columns.slice(0, NUM_DENSE).map((b) => new Float32Array(b)),
      cats: reply.columns.slice(NUM_DENSE).map((b) => new Uint32Array(b)),
    };
    if (reply.error !== undefined) throw errorFromWorker(reply.error);
    return { bytes: reply.bytes!, crc32: reply.crc32!, batch: back };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unregisterInterrupt();
    this.limit.clearQueue();
    for (const p of this.pending.values()) p.reject(new Error('shard encoder pool closed'));
    this.pending.clear();
    await Promise.all(this.all.map((w) => w.terminate()));
    this.all.length = 0;
    this.idle.length = 0;
  }
}
