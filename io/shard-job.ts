/**
 * The messages between the shard encoder pool (shard-pool.ts) and its workers
 * (shard-worker.ts), and the batch <-> transferable-buffers conversions both sides
 * use. Apart from the pool so that a worker loads only this, not the pool that
 * started it (and no import runs both ways).
 */
import { NUM_CAT, NUM_DENSE, type FeatureBatch } from '../core/schema.js';
import type { WorkerError } from '../core/errors.js';
import type { ShardFormat } from './manifest.js';

export interface EncodeJob {
  id: number;
  format: ShardFormat;
  tmpPath: string;
  rows: number;
  /** NUM_DENSE float32 buffers then NUM_CAT uint32 buffers (capacity may exceed rows). */
  columns: ArrayBuffer[];
  label: ArrayBuffer | null;
}

export interface EncodeReply {
  id: number;
  bytes?: number;
  /** CRC-32 of the bytes written (core/checksum.ts). */
  crc32?: number;
  error?: WorkerError;
  columns: ArrayBuffer[];
  label: ArrayBuffer | null;
}

export function batchBuffers(x: { columns: ArrayBuffer[]; label: ArrayBuffer | null }): ArrayBuffer[] {
  return x.label ? [...x.columns, x.label] : [...x.columns];
}

export function jobToBatch(job: EncodeJob): FeatureBatch {
  return {
    rows: job.rows,
    label: job.label ? new Uint8Array(job.label, 0, job.rows) : null,
    dense: job.columns.slice(0, NUM_DENSE).map((b) => new Float32Array(b, 0, job.rows)),
    cats: job.columns.slice(NUM_DENSE, NUM_DENSE + NUM_CAT).map((b) => new Uint32Array(b, 0, job.rows)),
  };
}

/** The whole-buffer columns of a batch whose arrays each own their ArrayBuffer from offset 0. */
export function batchToJobColumns(batch: FeatureBatch): { columns: ArrayBuffer[]; label: ArrayBuffer | null } {
  const own = (a: Uint8Array | Float32Array | Uint32Array) => {
    if (a.byteOffset !== 0) throw new Error('shard buffers must start at offset 0');
    return a.buffer as ArrayBuffer;
  };
  return { columns: [...batch.dense.map(own), ...batch.cats.map(own)], label: batch.label ? own(batch.label) : null };
}
