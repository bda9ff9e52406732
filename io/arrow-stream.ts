/**
 * FeatureBatches -> Arrow IPC stream bytes, for `preprocess --to -` and any library
 * user who wants the stream form. One record batch per FeatureBatch; the schema
 * message is written once, before the first batch (or at end, for an empty input,
 * so a reader still gets a valid, empty stream).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { tableToIPC } from 'apache-arrow';
import type { FeatureBatch } from '../core/schema.js';
import { emptyFeatureBatch } from '../core/schema.js';
import { featureBatchToTable } from './arrow-batch.js';
import { releaseBatch } from '../core/packed-batch.js';

export interface ArrowStreamEncoderOptions {
  /** Whether rows carry a label (used for the schema of an empty stream). */
  labeled?: boolean;
}

/** Byte length of the schema message that opens an IPC stream (continuation marker, length, flatbuffer; no body). */
function schemaMessageLength(ipc: Uint8Array): number {
  const view = new DataView(ipc.buffer, ipc.byteOffset, ipc.byteLength);
  if (view.getInt32(0, true) !== -1) throw new Error('unexpected Arrow IPC framing (no continuation marker)');
  return 8 + view.getInt32(4, true);
}

/**
 * A Transform: writable side takes FeatureBatch objects, readable side gives bytes.
 * Each batch is encoded by tableToIPC as a complete stream (schema, batch, end
 * marker); by the IPC spec's framing we keep the schema only the first time and drop
 * every end marker but the last, which yields one valid stream. The Transform buffers
 * through push(), so a slow reader stops the writer (backpressure).
 */
export function arrowStreamEncoder({ labeled = true }: ArrowStreamEncoderOptions = {}): Transform {
  let started = false;
  const EOS_BYTES = 8;
  return new Transform({
    writableObjectMode: true,
    readableObjectMode: false,
    // A batch is ~160 bytes a row: queue one, not the object-mode default of 16.
    writableHighWaterMark: 1,
    transform(this: Transform, batch: FeatureBatch, _enc: BufferEncoding, cb: TransformCallback) {
      try {
        if (batch.rows === 0) return cb();
        const ipc = tableToIPC(featureBatchToTable(batch), 'stream');
        releaseBatch(batch); // tableToIPC copied the columns into `ipc`
        const from = started ? schemaMessageLength(ipc) : 0;
        started = true;
        cb(null, Buffer.from(ipc.buffer, ipc.byteOffset + from, ipc.byteLength - from - EOS_BYTES));
      } catch (err) {
        cb(err as Error);
      }
    },
    flush(this: Transform, cb: TransformCallback) {
      try {
        if (!started) {
          // An empty input still makes a valid stream: schema and end marker.
          const ipc = tableToIPC(featureBatchToTable(emptyFeatureBatch(0, labeled)), 'stream');
          const schemaLen = schemaMessageLength(ipc);
          this.push(Buffer.from(ipc.buffer, ipc.byteOffset, schemaLen));
        }
        this.push(Buffer.from(Int32Array.of(-1, 0).buffer));
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}
