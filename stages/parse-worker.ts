/**
 * Worker-thread entry of parseFeaturizeParallel (stages/parallel-parse.ts): parses
 * and featurizes one line-aligned chunk of TSV per message and answers with the
 * rows packed in one transferred ArrayBuffer (stages/packed-batch.ts).
 *
 * Line numbers in the answer (rows, rejects, errors) count from the chunk's start;
 * the main thread, which sees the chunks in order, adds the lines of the chunks
 * before. That keeps workers independent of each other: no chunk waits on another.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PipelineError, errorForTransfer, type WorkerError } from '../core/errors.js';
import { TsvParser, type DirectRows, type ParseOptions, type RawBatch, type RejectRecord } from './parse.js';
import { resolveFeaturizeOptions, type FeaturizeOptions } from './featurize-kernel.js';
import { packedBytes, packedViews, type PackedColumns } from '../core/packed-batch.js';

export interface ParseWorkerData {
  parse: Pick<ParseOptions, 'labeled' | 'onBadRow' | 'maxLineBytes' | 'batchRows'>;
  featurize: FeaturizeOptions;
}

export interface ParseJob {
  id: number;
  file: string;
  fileIndex: number;
  /** bytes[0, byteLength): whole lines (the last one may lack its LF only at the end of a file). */
  bytes: ArrayBuffer;
  byteLength: number;
  /** The chunk starts at the file's first byte (a byte order mark there is dropped). */
  firstOfFile: boolean;
  /** Packed buffers the main thread is done with, for reuse. */
  reuse: ArrayBuffer[];
}

export interface ParseReply {
  id: number;
  rows: number;
  capacity: number;
  /** The packed rows (null when the chunk had none). */
  packed: ArrayBuffer | null;
  /** The job's input buffer, handed back for reuse. */
  bytes: ArrayBuffer;
  /** Physical lines in the chunk, empty ones included. */
  lines: number;
  emptyLines: number;
  trimmedRows: number;
  possiblyTruncated: number;
  /** In 'skip' mode; `line` counts from the chunk's start and `raw` arrives as a Uint8Array. */
  rejects: RejectRecord[];
  /** In 'fail' mode: the first bad line (context.line counts from the chunk's start). */
  error?: WorkerError;
}

const { parse: parseOpts, featurize: featOpts } = workerData as ParseWorkerData;
const fopts = resolveFeaturizeOptions(featOpts);
const labeled = parseOpts.labeled ?? true;

let rejects: RejectRecord[] = [];
// Direct mode: the parser writes featurized rows straight into the packed buffer (no RawBatch between).
const newParser = () => {
  const p = new TsvParser({ ...parseOpts, onReject: (r) => rejects.push(r) });
  p.setDirectOutput(target, fopts);
  return p;
};
/** Bytes per row of the last chunk, to size the next packed buffer right the first time. */
let bytesPerRow = 100;

let capacity = 0;
let buf: ArrayBuffer | null = null;
let out: PackedColumns | null = null;
/** The parser's view of the packed buffer; target.rows is the rows written so far. */
const target: DirectRows = {
  cols: null as unknown as DirectRows['cols'],
  rows: 0,
  capacity: 0,
  grow: () => ensure(target.rows + 1),
};

let parser = newParser();

const free: ArrayBuffer[] = [];
const ROW_BYTES = packedBytes(1, labeled);

function ensure(need: number): void {
  if (need <= capacity) return;
  let nb: ArrayBuffer | undefined;
  let cap = Math.max(need, capacity * 2);
  const i = free.findIndex((b) => Math.floor(b.byteLength / ROW_BYTES) >= cap);
  if (i >= 0) {
    nb = free.splice(i, 1)[0];
    cap = Math.floor(nb.byteLength / ROW_BYTES);
  } else {
    // A little headroom so the buffer still fits when it comes back for a slightly longer chunk.
    cap = Math.ceil(cap * 1.1);
    nb = new ArrayBuffer(packedBytes(cap, labeled));
  }
  const nv = packedViews(nb, cap, labeled);
  const rows = target.rows;
  if (out) {
    nv.lines.set(out.lines.subarray(0, rows));
    nv.label?.set(out.label!.subarray(0, rows));
    for (let i = 0; i < out.dense.length; i++) nv.dense[i].set(out.dense[i].subarray(0, rows));
    for (let i = 0; i < out.cats.length; i++) nv.cats[i].set(out.cats[i].subarray(0, rows));
  }
  buf = nb;
  out = nv;
  capacity = cap;
  target.cols = nv;
  target.capacity = cap;
}

/** In direct mode the parser never emits batches. */
function emit(_raw: RawBatch): void {
  throw new Error('parse worker: unexpected RawBatch in direct mode');
}

parentPort!.on('message', (job: ParseJob) => {
  for (const b of job.reuse) if (free.length < 2) free.push(b);
  const bytes = new Uint8Array(job.bytes, 0, job.byteLength);
  target.rows = 0;
  target.capacity = 0;
  capacity = 0;
  buf = null;
  out = null;
  rejects = [];
  ensure(Math.ceil((bytes.byteLength / bytesPerRow) * 1.05) + 64);
  const st = parser.stats;
  const before = { lines: st.lines, emptyLines: st.emptyLines, trimmedRows: st.trimmedRows, possiblyTruncated: st.possiblyTruncated };
  let error: ParseReply['error'];
  try {
    parser.startFile(job.file, emit, job.fileIndex, job.firstOfFile);
    parser.write(bytes, emit);
    parser.end(emit);
  } catch (err) {
    // Anything but a PipelineError is a bug of ours: it still arrives coded.
    error = errorForTransfer(err instanceof PipelineError ? err : new PipelineError('ERR_INTERNAL', String((err as Error)?.stack ?? err)));
    parser = newParser(); // its state is mid-line; the run stops anyway
  }
  const rows = target.rows;
  if (rows > 0) bytesPerRow = Math.max(2, bytes.byteLength / rows);
  const reply: ParseReply = {
    id: job.id,
    rows: error ? 0 : rows,
    capacity,
    packed: error || rows === 0 ? null : buf,
    bytes: job.bytes,
    lines: error ? 0 : parser.stats.lines - before.lines,
    emptyLines: error ? 0 : parser.stats.emptyLines - before.emptyLines,
    trimmedRows: error ? 0 : parser.stats.trimmedRows - before.trimmedRows,
    possiblyTruncated: error ? 0 : parser.stats.possiblyTruncated - before.possiblyTruncated,
    rejects,
    error,
  };
  if (!reply.packed && buf && free.length < 2) free.push(buf);
  parentPort!.postMessage(reply, reply.packed ? [reply.packed, job.bytes] : [job.bytes]);
  buf = null;
  out = null;
});
