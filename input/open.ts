/**
 * Input bytes for the pipeline: one file, several files in order (Terabyte's day
 * files), or stdin ('-'); each one gunzipped on the fly when it starts with the
 * gzip magic bytes (1f 8b), whatever its name. Nothing is read ahead of the
 * consumer: the Readable pulls from a generator that pulls from the file.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { Readable, pipeline } from 'node:stream';
import { PipelineError, invalidOption } from '../core/errors.js';
import { setRelease } from '../core/packed-batch.js';

/**
 * Emitted before each input's bytes (markers: true), so that parseTsv can name
 * the file in batches and errors, restart line numbers, and never join the last
 * line of one file with the first line of the next.
 */
export interface InputMarker {
  readonly kind: 'input-file';
  /** The path as given, or '<stdin>'. */
  readonly file: string;
  /** Position among the inputs (0-based). */
  readonly index: number;
}

export function isInputMarker(x: unknown): x is InputMarker {
  return typeof x === 'object' && x !== null && !(x instanceof Uint8Array) && (x as InputMarker).kind === 'input-file';
}

export interface OpenInputOptions {
  /**
   * true (default): an object-mode Readable of Buffers with an InputMarker before
   * each input. false: a plain byte stream (a newline is inserted between inputs
   * when one does not end with one, so lines never merge).
   */
  markers?: boolean;
  /** Bytes per read from a file. Default 1 MiB. */
  chunkBytes?: number;
  /** Stands in for process.stdin (tests). */
  stdin?: NodeJS.ReadableStream;
  /** Called with the bytes of each read, as stored (compressed for a .gz): progress against the files' sizes. */
  onRead?: (bytes: number) => void;
}

export const STDIN_NAME = '<stdin>';

function normalizeInputs(inputs: string | readonly string[]): string[] {
  const list = typeof inputs === 'string' ? [inputs] : Array.isArray(inputs) ? [...inputs] : null;
  if (!list || list.length === 0 || list.some((f) => typeof f !== 'string' || f === '')) {
    throw invalidOption('inputs', "must be a file path, '-' or a non-empty list of them", inputs);
  }
  if (list.filter((f) => f === '-').length > 1) throw invalidOption('inputs', "may name stdin ('-') only once", inputs);
  return list;
}

/** Fails with a PipelineError naming the first input that cannot be opened (before any output is made). */
export function assertInputsReadable(inputs: string | readonly string[]): void {
  for (const f of normalizeInputs(inputs)) {
    if (f === '-') continue;
    try {
      if (fs.statSync(f).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      fs.accessSync(f, fs.constants.R_OK);
    } catch (err) {
      throw inputError(err, f);
    }
  }
}

function inputError(err: unknown, file: string): Error {
  if (err instanceof PipelineError) return err;
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return new PipelineError('ERR_INPUT_NOT_FOUND', 'no such file', { file });
    case 'EISDIR':
      return new PipelineError('ERR_INPUT', 'is a directory, not a file', { file });
    case 'EACCES':
      return new PipelineError('ERR_INPUT', 'permission denied', { file });
    case 'Z_BUF_ERROR':
      return new PipelineError('ERR_TRUNCATED_GZIP', 'truncated gzip data (unexpected end of file)', { file });
    case 'Z_DATA_ERROR':
    case 'Z_NEED_DICT':
      return new PipelineError('ERR_BAD_GZIP', `corrupt gzip data (${e.message})`, { file });
    default:
      return new PipelineError('ERR_INPUT', `cannot read: ${e?.message ?? String(err)}`, { file, cause: err });
  }
}

/**
 * A file's bytes in chunks of up to chunkBytes. Each chunk carries a release hook
 * (stages/packed-batch.ts, releaseBatch): a consumer that has copied a chunk out
 * (the parallel parser does) hands its memory back for the next read, which saves
 * allocating, and garbage-collecting, a buffer per read. Chunks nobody releases are
 * simply collected.
 */
async function* fileChunks(path: string, chunkBytes: number, onRead?: (bytes: number) => void): AsyncGenerator<Buffer> {
  const fh = await fs.promises.open(path, 'r');
  const free: ArrayBuffer[] = [];
  try {
    for (;;) {
      const reused = free.pop();
      // allocUnsafeSlow: its own ArrayBuffer (not the shared pool), not zero-filled.
      const buf = reused ? Buffer.from(reused) : Buffer.allocUnsafeSlow(chunkBytes);
      const ab = buf.buffer as ArrayBuffer;
      const { bytesRead } = await fh.read(buf, 0, chunkBytes, null);
      if (bytesRead === 0) return;
      onRead?.(bytesRead);
      yield setRelease(buf.subarray(0, bytesRead), () => {
        if (free.length < 4) free.push(ab);
      });
    }
  } finally {
    await fh.close();
  }
}

/** The bytes of one input, gunzipped when it starts with 1f 8b. */
async function* inputBytes(path: string, name: string, chunkBytes: number, stdin: NodeJS.ReadableStream, onRead?: (bytes: number) => void): AsyncGenerator<Buffer> {
  const src = path === '-' ? stdin : fileChunks(path, chunkBytes, onRead);
  const it = (src as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  try {
    // The magic needs two bytes; a pipe may deliver one at a time.
    const head: Buffer[] = [];
    let headLen = 0;
    let done = false;
    while (headLen < 2) {
      const r = await it.next();
      if (r.done) {
        done = true;
        break;
      }
      const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      head.push(b);
      headLen += b.length;
    }
    const first = Buffer.concat(head);
    if (first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b) {
      const compressed = Readable.from(
        (async function* () {
          yield first;
          if (done) return;
          for (let r = await it.next(); !r.done; r = await it.next()) yield r.value as Buffer;
        })(),
        { objectMode: false },
      );
      const gunzip = zlib.createGunzip({ chunkSize: Math.min(chunkBytes, 256 * 1024) });
      // Errors surface through the for-await below; the callback only keeps them from being unhandled.
      pipeline(compressed, gunzip, () => {});
      for await (const b of gunzip) yield b as Buffer;
      return;
    }
    if (first.length > 0) yield first;
    if (done) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield typeof r.value === 'string' ? Buffer.from(r.value) : (r.value as Buffer);
  } catch (err) {
    throw inputError(err, name);
  } finally {
    // Closes the file (or lets go of stdin) when the consumer stops early or fails.
    await it.return?.();
  }
}

/**
 * Opens `inputs` (a path, '-' for stdin, or a list read in order) as one Readable.
 * A missing file, a truncated or corrupt .gz, a read error: the stream fails with
 * a PipelineError naming the file (codes ERR_INPUT_NOT_FOUND, ERR_TRUNCATED_GZIP,
 * ERR_BAD_GZIP, ERR_INPUT).
 */
export function openInput(inputs: string | readonly string[], opts: OpenInputOptions = {}): Readable {
  const files = normalizeInputs(inputs);
  const { markers = true, chunkBytes = 1 << 20, stdin = process.stdin, onRead } = opts;
  if (typeof markers !== 'boolean') throw invalidOption('markers', 'must be a boolean', markers);
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1) throw invalidOption('chunkBytes', 'must be a positive integer', chunkBytes);

  async function* all(): AsyncGenerator<Buffer | InputMarker> {
    let last = 10;
    for (let i = 0; i < files.length; i++) {
      const name = files[i] === '-' ? STDIN_NAME : files[i];
      if (markers) yield { kind: 'input-file', file: name, index: i };
      else if (last !== 10) yield Buffer.from('\n');
      for await (const b of inputBytes(files[i], name, chunkBytes, stdin, onRead)) {
        if (b.length === 0) continue;
        last = b[b.length - 1];
        yield b;
      }
    }
  }
  // Object mode counts chunks: two of them (up to ~2 MiB) are the read-ahead.
  return markers ? Readable.from(all(), { objectMode: true, highWaterMark: 2 }) : Readable.from(all() as AsyncGenerator<Buffer>, { objectMode: false, highWaterMark: chunkBytes });
}
