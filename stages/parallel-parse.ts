/**
 * parse + featurize on worker threads: TSV bytes (and openInput's file markers) in,
 * featurized batches (with `source`) out, in input order, the same rows, line
 * numbers, rejects and errors as parseTsv() | featurize() on one thread.
 *
 * The main thread only cuts the input into line-aligned chunks (about 1 MiB: it looks
 * for the last LF, it does not scan every line) and sends each to the least busy
 * worker by transfer. Workers answer with one packed buffer per chunk
 * (stages/packed-batch.ts); the main thread puts the answers back in order, adds
 * the line offsets (workers count lines from their chunk's start), hands rejects to
 * onReject in order, and pushes one batch per chunk.
 *
 * Bounded memory: at most maxInFlight chunks are out at a time; _transform calls
 * back only below that, so a slow consumer stops the reader (backpressure).
 * A line with no LF within maxLineBytes + 1 bytes is cut there on the main thread
 * (the rest dropped up to its LF): the worker then reports it as line-too-long
 * exactly as the single-threaded parser does.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { PipelineError, errorFromWorker, invalidOption } from '../core/errors.js';
import { isInputMarker } from '../input/open.js';
import { emptyParseStats, resolveParseOptions, type OnBadRow, type ParseStats, type RejectRecord } from './parse.js';
import { resolveFeaturizeOptions } from './featurize-kernel.js';
import type { SourcedFeatureBatch } from '../core/schema.js';
import { packedViews, releaseBatch, setRelease } from '../core/packed-batch.js';
import type { ParseJob, ParseReply, ParseWorkerData } from './parse-worker.js';

export interface ParallelParseOptions {
  /** Worker threads. Default 2. */
  workers?: number;
  /** Target chunk size in bytes (a chunk ends at the last LF of the input read that reaches it). Default 1 MiB. */
  chunkBytes?: number;
  /** Chunks sent and not yet pushed before _transform waits. Default 2 per worker. */
  maxInFlight?: number;
  labeled?: boolean;
  onBadRow?: OnBadRow;
  maxLineBytes?: number;
  /** Name used until an input marker names the file. Default '<input>'. */
  file?: string;
  onReject?: (rec: RejectRecord) => void;
  buckets?: number | readonly number[];
  seed?: number;
}

const LF = 10;

interface Job {
  id: number;
  file: string;
  fileIndex: number;
  /** First chunk of its file: line numbers restart. */
  firstOfFile: boolean;
  worker: Worker;
  reply?: ParseReply;
}

export class ParallelParseTransform extends Transform {
  readonly stats: ParseStats;
  readonly workers: number;
  private readonly chunkBytes: number;
  private readonly maxInFlight: number;
  private readonly maxLineBytes: number;
  private readonly labeled: boolean;
  private readonly onReject?: (rec: RejectRecord) => void;
  private readonly workerData: ParseWorkerData;
  private pool: Worker[] = [];
  private readonly busy = new Map<Worker, number>();
  private readonly jobs = new Map<number, Job>();
  private nextId = 0;
  private nextDeliver = 0;
  // Input side.
  private file: string;
  private fileIndex = 0;
  private filesStarted = 0;
  private fileHasChunk = false;
  /** The chunk being filled (its ArrayBuffer is what a worker gets), curLen bytes used. */
  private cur: Buffer;
  private curLen = 0;
  /** Bytes of `cur` up to and including its last LF (0: none). */
  private cutLen = 0;
  private discarding = false;
  // Output side.
  private lineOffset = 0;
  private waitingCb: TransformCallback | null = null;
  private flushCb: TransformCallback | null = null;
  private failed = false;
  /** Input chunk buffers back from workers, and packed buffers consumers released. */
  private readonly freeInput: ArrayBuffer[] = [];
  private freePacked: ArrayBuffer[] = [];

  constructor(opts: ParallelParseOptions = {}) {
    const { workers = 2, chunkBytes = 1 << 20, maxInFlight, onReject, buckets, seed, ...parseOnly } = opts;
    const popts = resolveParseOptions({ ...parseOnly, onReject });
    const fopts = resolveFeaturizeOptions({ buckets, seed });
    if (!Number.isInteger(workers) || workers < 1) throw invalidOption('workers', 'must be a positive integer', workers);
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1) throw invalidOption('chunkBytes', 'must be a positive integer', chunkBytes);
    const limit = maxInFlight ?? 2 * workers;
    if (!Number.isInteger(limit) || limit < 1) throw invalidOption('maxInFlight', 'must be a positive integer', maxInFlight);
    super({ writableObjectMode: true, readableObjectMode: true, writableHighWaterMark: 2, readableHighWaterMark: 2 });
    this.workers = workers;
    this.chunkBytes = chunkBytes;
    this.maxInFlight = limit;
    this.maxLineBytes = popts.maxLineBytes;
    this.labeled = popts.labeled;
    this.onReject = popts.onReject;
    this.file = popts.file;
    this.cur = this.newChunkBuffer(this.maxLineBytes + 3);
    this.workerData = {
      parse: { labeled: popts.labeled, onBadRow: popts.onBadRow, maxLineBytes: popts.maxLineBytes, batchRows: popts.batchRows },
      featurize: { buckets: Array.from(fopts.buckets), seed: fopts.seed },
    };
    this.stats = emptyParseStats();
  }

  override _transform(chunk: unknown, encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      if (isInputMarker(chunk)) {
        this.endFile();
        this.file = chunk.file;
        this.fileIndex = chunk.index ?? this.filesStarted;
        this.filesStarted++;
      } else if (chunk instanceof Uint8Array) this.takeBytes(chunk);
      else if (typeof chunk === 'string') this.takeBytes(Buffer.from(chunk, encoding));
      else throw new PipelineError('ERR_INVALID_ARG', `parseFeaturizeParallel expects Buffer chunks or input markers, got ${typeof chunk}`);
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (this.jobs.size >= this.maxInFlight) this.waitingCb = callback;
    else callback();
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.endFile();
    } catch (err) {
      callback(err as Error);
      return;
    }
    this.flushCb = callback;
    this.maybeFinish();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.failed = true;
    this.stopWorkers().then(
      () => callback(err),
      () => callback(err),
    );
  }

  private takeBytes(chunk: Uint8Array): void {
    let buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.discarding) {
      // Inside a line already cut at maxLineBytes: drop up to its LF.
      const nl = buf.indexOf(LF);
      if (nl < 0) {
        releaseBatch(chunk);
        return;
      }
      this.discarding = false;
      buf = buf.subarray(nl + 1);
    }
    let at = 0;
    while (at < buf.length) {
      if (this.curLen === this.cur.length) this.makeRoom();
      const n = Math.min(buf.length - at, this.cur.length - this.curLen);
      buf.copy(this.cur, this.curLen, at, at + n);
      const nl = buf.subarray(at, at + n).lastIndexOf(LF);
      if (nl >= 0) this.cutLen = this.curLen + nl + 1;
      this.curLen += n;
      at += n;
      if (this.cutLen > 0 && this.curLen >= this.chunkBytes) this.dispatch();
      if (this.curLen - this.cutLen > this.maxLineBytes + 1) {
        this.cutLongLine();
        // The rest of `buf` up to its next LF belongs to the dropped part.
        const nl2 = buf.indexOf(LF, at);
        if (nl2 < 0) break;
        this.discarding = false;
        at = nl2 + 1;
      }
    }
    // Copied out: the producer (openInput) may reuse its buffer.
    releaseBatch(chunk);
  }

  /** `cur` is full: send its whole lines, or grow it when it holds none (a long line in progress). */
  private makeRoom(): void {
    if (this.cutLen > 0) this.dispatch();
    else {
      const bigger = Buffer.from(new ArrayBuffer(this.cur.length * 2));
      this.cur.copy(bigger, 0, 0, this.curLen);
      this.cur = bigger;
    }
  }

  /**
   * The line after the last LF of `cur` is over maxLineBytes + 1 bytes: keep its
   * first maxLineBytes + 2 (enough for the worker to see it as too long even after
   * dropping a CR), end it with an LF, drop the rest up to its own LF.
   */
  private cutLongLine(): void {
    if (this.cutLen > 0) this.dispatch();
    const keep = this.maxLineBytes + 2;
    this.cur[keep] = LF;
    this.curLen = this.cutLen = keep + 1;
    this.discarding = true;
  }

  private newChunkBuffer(atLeast: number): Buffer {
    const i = this.freeInput.findIndex((b) => b.byteLength >= atLeast);
    const ab = i >= 0 ? this.freeInput.splice(i, 1)[0] : new ArrayBuffer(Math.max(atLeast, 2 * this.chunkBytes, 1 << 16));
    return Buffer.from(ab);
  }

  /** Sends cur[0, cutLen) (or all of cur with `all`) as one chunk of the current file; the rest starts the next chunk. */
  private dispatch(all = false): void {
    const len = all ? this.curLen : this.cutLen;
    const sent = this.cur;
    const tail = this.curLen - len;
    this.cur = this.newChunkBuffer(Math.max(tail + 1, this.maxLineBytes + 3));
    sent.copy(this.cur, 0, len, this.curLen);
    this.curLen = tail;
    this.cutLen = 0;
    if (len === 0) {
      if (this.freeInput.length < this.maxInFlight + 2) this.freeInput.push(sent.buffer as ArrayBuffer);
      return;
    }
    const worker = this.pickWorker();
    const job: Job = { id: this.nextId++, file: this.file, fileIndex: this.fileIndex, firstOfFile: !this.fileHasChunk, worker };
    this.fileHasChunk = true;
    this.jobs.set(job.id, job);
    this.busy.set(worker, (this.busy.get(worker) ?? 0) + 1);
    const reuse = this.freePacked;
    this.freePacked = [];
    const ab = sent.buffer as ArrayBuffer;
    const msg: ParseJob = { id: job.id, file: job.file, fileIndex: job.fileIndex, firstOfFile: job.firstOfFile, bytes: ab, byteLength: len, reuse };
    worker.postMessage(msg, [ab, ...reuse]);
  }

  /** The rest of the current file (its last line may lack an LF) as a final chunk. */
  private endFile(): void {
    if (this.curLen > 0) this.dispatch(true);
    this.discarding = false;
    this.fileHasChunk = false;
  }

  private pickWorker(): Worker {
    if (this.pool.length < this.workers) {
      const w = new Worker(new URL('./parse-worker.js', import.meta.url), { workerData: this.workerData });
      w.on('message', (reply: ParseReply) => this.onReply(reply));
      w.on('error', (err) => this.destroy(err));
      w.on('exit', (code) => {
        if (!this.failed && this.jobs.size > 0) this.destroy(new PipelineError('ERR_INTERNAL', `parse worker exited (code ${code}) with chunks in flight`));
      });
      this.pool.push(w);
      this.busy.set(w, 0);
      return w;
    }
    let best = this.pool[0];
    for (const w of this.pool) if (this.busy.get(w)! < this.busy.get(best)!) best = w;
    return best;
  }

  private onReply(reply: ParseReply): void {
    const job = this.jobs.get(reply.id);
    if (!job || this.failed) return;
    job.reply = reply;
    if (this.freeInput.length < this.maxInFlight) this.freeInput.push(reply.bytes);
    this.busy.set(job.worker, this.busy.get(job.worker)! - 1);
    // Deliver every answer that is next in order.
    for (let j = this.jobs.get(this.nextDeliver); j?.reply; j = this.jobs.get(this.nextDeliver)) {
      this.jobs.delete(j.id);
      this.nextDeliver++;
      try {
        this.deliver(j, j.reply);
      } catch (err) {
        this.failed = true;
        this.destroy(err as Error);
        return;
      }
    }
    if (this.waitingCb && this.jobs.size < this.maxInFlight) {
      const cb = this.waitingCb;
      this.waitingCb = null;
      cb();
    }
    this.maybeFinish();
  }

  private deliver(job: Job, r: ParseReply): void {
    if (job.firstOfFile) this.lineOffset = 0;
    const off = this.lineOffset;
    if (r.error) {
      const context = { ...r.error.context };
      if (typeof context.line === 'number') context.line += off;
      throw errorFromWorker({ ...r.error, context });
    }
    for (const rec of r.rejects) {
      this.stats.rejected++;
      this.stats.rejects[rec.reason]++;
      const raw = Buffer.from(rec.raw.buffer, rec.raw.byteOffset, rec.raw.byteLength);
      this.onReject?.({ ...rec, file: job.file, line: rec.line + off, raw });
    }
    this.stats.lines += r.lines;
    this.stats.emptyLines += r.emptyLines;
    this.stats.trimmedRows += r.trimmedRows;
    this.stats.possiblyTruncated += r.possiblyTruncated;
    this.lineOffset += r.lines;
    if (r.rows > 0 && r.packed) {
      const v = packedViews(r.packed, r.capacity, this.labeled, r.rows);
      const lines = v.lines;
      for (let i = 0; i < r.rows; i++) lines[i] += off;
      const batch: SourcedFeatureBatch = {
        rows: r.rows,
        label: v.label,
        dense: v.dense,
        cats: v.cats,
        source: { file: job.file, fileIndex: job.fileIndex, firstRow: this.stats.rows, firstLine: lines[0], lines },
      };
      this.stats.rows += r.rows;
      this.stats.batches++;
      const packed = r.packed;
      setRelease(batch, () => {
        if (!this.failed && this.freePacked.length < this.maxInFlight) this.freePacked.push(packed);
      });
      this.push(batch);
    }
  }

  private maybeFinish(): void {
    if (!this.flushCb || this.jobs.size > 0) return;
    const cb = this.flushCb;
    this.flushCb = null;
    this.stopWorkers().then(
      () => cb(),
      (err) => cb(err),
    );
  }

  private async stopWorkers(): Promise<void> {
    const pool = this.pool;
    this.pool = [];
    await Promise.all(pool.map((w) => w.terminate()));
  }
}

/**
 * parseTsv() | featurize() on `workers` threads, for large inputs on several cores.
 * Same input (Buffers and input markers) and same rows, sources, rejects and errors;
 * batches are one per chunk rather than batchRows long. Options are validated here.
 */
export function parseFeaturizeParallel(opts: ParallelParseOptions = {}): ParallelParseTransform {
  return new ParallelParseTransform(opts);
}
