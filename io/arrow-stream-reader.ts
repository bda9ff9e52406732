/**
 * The one reader of an Arrow IPC stream handed over a pipe ('-'): train, predict,
 * minhash and stats all read stdin through it, so a producer that died mid-stream,
 * or raw TSV where a featurized stream was expected, fails the same clear way
 * everywhere instead of as a shorter input or an Arrow decoder's message.
 */
import type { Readable } from 'node:stream';
import { RecordBatchReader } from 'apache-arrow';
import { PipelineError } from '../core/errors.js';
import type { FeatureBatch } from '../core/schema.js';
import { recordBatchToFeatureBatch } from './arrow-batch.js';

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/**
 * Arrow IPC stream (as written by `preprocess --to -`) -> FeatureBatches, one per
 * record batch. Unchecked: a stream cut between messages reads as a shorter one;
 * readers of a pipe use readCheckedArrowStream below.
 */
export async function* readArrowStream(source: Readable | AsyncIterable<Uint8Array>, where = '<stdin>', signal?: AbortSignal): AsyncGenerator<FeatureBatch> {
  let reader;
  try {
    reader = await RecordBatchReader.from(source as AsyncIterable<Uint8Array>);
  } catch (err) {
    throw new PipelineError('ERR_INPUT', `not an Arrow IPC stream: ${(err as Error).message}`, { file: where });
  }
  try {
    for await (const rb of reader) {
      checkAbort(signal);
      if (rb.numRows > 0) yield recordBatchToFeatureBatch(rb, where);
    }
  } finally {
    await reader.return?.();
  }
}

/** The Arrow IPC end-of-stream marker: continuation indicator 0xFFFFFFFF, then metadata length 0. */
const ARROW_EOS = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0);
/** Every message of a stream our writer (io/arrow-stream.ts) produces starts with the continuation indicator. */
const CONTINUATION = Uint8Array.of(0xff, 0xff, 0xff, 0xff);

/** How the first bytes of a non-Arrow input look, for the error message. */
function describeForeignStart(head: Uint8Array): string {
  const text = Buffer.from(head.subarray(0, 40)).toString('latin1');
  // Raw Criteo rows: digits, hex and tabs on one line.
  if (/^[\x20-\x7e]*\t/.test(text)) return `it starts with text ${JSON.stringify(text.split('\n')[0].slice(0, 24))}, like raw TSV rows: run them through \`pipeline preprocess --input - --to -\` first`;
  if (head[0] === 0x1f && head[1] === 0x8b) return 'it is gzip-compressed (raw TSV?): run it through `pipeline preprocess --input - --to -` first';
  if (text.startsWith('PAR1')) return 'it is a Parquet file: pass the file (or its shard directory) as --input instead of stdin';
  if (text.startsWith('ARROW1')) return 'it is an Arrow file (random-access format), not a stream: pass the file as --input instead of stdin';
  return 'it does not start with the Arrow IPC continuation marker 0xFFFFFFFF';
}

/**
 * Passes an Arrow IPC stream's bytes through and fails if they do not start like
 * one, or end without the end-of-stream marker. The IPC format lets a stream simply
 * stop between messages, so a producer that died mid-stream (`preprocess --to - |
 * train --input -`) would otherwise look like a shorter, valid input; our writer
 * writes the marker only once every row is out, so its absence means the producer
 * failed. Once the reader has seen the marker it stops pulling, so the end check
 * runs only when the bytes ran out first.
 */
export async function* requireArrowEnd(source: AsyncIterable<Uint8Array | string>, where = '<stdin>'): AsyncGenerator<Uint8Array> {
  const tail = new Uint8Array(ARROW_EOS.length);
  const head = new Uint8Array(CONTINUATION.length);
  let total = 0;
  for await (const chunk of source) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (total < head.length) {
      head.set(bytes.subarray(0, head.length - total), total);
      const seen = Math.min(head.length, total + bytes.length);
      if (!head.subarray(0, seen).every((b, i) => b === CONTINUATION[i])) {
        throw new PipelineError('ERR_NOT_ARROW_STREAM', `not an Arrow IPC stream: ${describeForeignStart(bytes)}`, { file: where });
      }
    }
    if (bytes.length >= tail.length) tail.set(bytes.subarray(bytes.length - tail.length));
    else {
      tail.copyWithin(0, bytes.length);
      tail.set(bytes, tail.length - bytes.length);
    }
    total += bytes.length;
    yield bytes;
  }
  if (total === 0) throw new PipelineError('ERR_TRUNCATED_INPUT', 'the Arrow IPC stream is empty: its producer wrote nothing (did it fail?)', { file: where });
  if (total < tail.length || !tail.every((b, i) => b === ARROW_EOS[i])) {
    throw new PipelineError('ERR_TRUNCATED_INPUT', `the Arrow IPC stream stopped after ${total} bytes without its end-of-stream marker: its producer failed or was killed mid-stream, so the rows are incomplete`, { file: where });
  }
}

/** Batches of an Arrow IPC stream (stdin); a truncated, foreign or corrupt stream is a clear PipelineError. */
export async function* readCheckedArrowStream(source: AsyncIterable<Uint8Array | string>, where = '<stdin>', signal?: AbortSignal): AsyncGenerator<FeatureBatch> {
  let checkFailed: unknown;
  const bytes = (async function* () {
    try {
      yield* requireArrowEnd(source, where);
    } catch (err) {
      checkFailed = err;
      throw err;
    }
  })();
  try {
    yield* readArrowStream(bytes, where, signal);
  } catch (err) {
    if (checkFailed) throw checkFailed; // the reader may have wrapped it ("not an Arrow IPC stream: ...")
    if (err instanceof PipelineError || (err as Error).name === 'AbortError') throw err;
    throw new PipelineError('ERR_INPUT', `bad Arrow IPC stream: ${(err as Error).message}`, { file: where });
  }
}
