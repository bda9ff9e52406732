/**
 * One error type for the whole pipeline: a stable code for programs, and the
 * context (file, line, field, shard...) a person needs to find the problem.
 */

/**
 * Every code a PipelineError can carry. A union rather than `string` so that a typo
 * in a throw, or a caller testing for a code nobody throws, fails to compile.
 */
export type ErrorCode =
  // Options and arguments
  | 'ERR_INVALID_OPTION' // an option's value is out of its type, bounds or choices
  | 'ERR_INVALID_ARG' // a stream or function got a value of the wrong kind
  | 'ERR_SPLIT_NEEDS_COUNT' // --split dlrm on a stream whose row count is unknown
  | 'ERR_SPLIT' // --split dlrm-terabyte on shards that are not day files
  // Inputs
  | 'ERR_INPUT' // an input cannot be read, or is not a shard
  | 'ERR_INPUT_NOT_FOUND'
  | 'ERR_EMPTY_INPUT'
  | 'ERR_TRUNCATED_INPUT' // an Arrow IPC stream without its end-of-stream marker
  | 'ERR_NOT_ARROW_STREAM' // bytes on a pipe that are not an Arrow IPC stream (raw TSV, gzip, a Parquet or Arrow file)
  | 'ERR_BAD_GZIP'
  | 'ERR_TRUNCATED_GZIP'
  | 'ERR_BAD_ROW' // a TSV line that breaks the row rules (--on-bad-row fail)
  | 'ERR_LINE_ENDINGS' // CR-only line endings: the file is one line (always fatal)
  | 'ERR_SCHEMA' // columns missing or of the wrong shape
  | 'ERR_NO_CATEGORICAL' // MinHash input without c1..c26
  // Preprocess output
  | 'ERR_OUTPUT_EXISTS' // the directory holds another config's shards, or shard files no run of it wrote
  | 'ERR_OUTPUT' // an output path that cannot be used (a file where a directory goes, or the reverse)
  | 'ERR_LOCKED' // another live run writes this output (io/lock.ts)
  | 'ERR_CHECKSUM' // a shard or mapping whose bytes do not match their recorded checksum
  | 'ERR_INPUT_CHANGED' // a resumed run's input differs from the interrupted run's
  | 'ERR_MANIFEST'
  | 'ERR_INCOMPLETE' // a shard directory whose manifest is not complete
  | 'ERR_RESUME' // the input changed under a resumed run
  | 'ERR_SHARD' // a shard file cannot be decoded
  | 'ERR_SHARD_WRITE' // encoding or writing a shard failed
  | 'ERR_SYNTH_OUTPUT'
  // SCMA mapping
  | 'ERR_MAPPING'
  | 'ERR_MAPPING_DIM' // the mapping's d differs from the model's
  | 'ERR_MERGE_OVERLAP' // partials that share rows
  | 'ERR_MERGE_MISMATCH' // partials of different settings
  // Model and training
  | 'ERR_BATCH'
  | 'ERR_BACKEND' // a layer needs another TensorFlow.js backend
  | 'ERR_NO_BACKEND'
  | 'ERR_MEMORY_SIZE' // the embedding memory exceeds the GPU's binding limit
  | 'ERR_MEMORY_TOO_SMALL' // shared memory below d floats per feature
  | 'ERR_VOCAB_INDEX'
  | 'ERR_STATE_MISMATCH' // saved weights of another shape
  | 'ERR_CHECKPOINT'
  | 'ERR_MODEL' // a saved model cannot be read
  | 'ERR_OUT_EXISTS' // train --out holds a checkpoint and --resume was not given
  | 'ERR_RESUME_MISMATCH' // the checkpoint was written with other settings
  | 'ERR_NEEDS_PASS' // an option that needs a pass over the input the source cannot give
  | 'ERR_NAN_LOSS'
  | 'ERR_METRICS' // plot: a metrics file that is not train --metrics output
  // A bug: an invariant of ours broke
  | 'ERR_INTERNAL';

export interface ErrorContext {
  file?: string;
  line?: number;
  field?: string;
  shard?: string;
  [key: string]: unknown;
}

export class PipelineError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;
  /** The message without the "file, line N, field F: " prefix (what was passed in). */
  readonly detail: string;
  constructor(code: ErrorCode, message: string, context: ErrorContext = {}) {
    const where = [
      context.file !== undefined ? `${context.file}` : undefined,
      context.line !== undefined ? `line ${context.line}` : undefined,
      context.field !== undefined ? `field ${context.field}` : undefined,
      context.shard !== undefined ? `shard ${context.shard}` : undefined,
    ].filter(Boolean);
    super(where.length ? `${where.join(', ')}: ${message}` : message);
    this.name = 'PipelineError';
    this.code = code;
    this.context = context;
    this.detail = message;
  }
}

/** `Invalid option buckets: must be a positive integer, got -3`; with `got` undefined, `Missing option rows: ...`. */
export function invalidOption(name: string, expected: string, got: unknown): PipelineError {
  if (got === undefined) return new PipelineError('ERR_INVALID_OPTION', `Missing option ${name}: ${expected}`, { option: name });
  return new PipelineError('ERR_INVALID_OPTION', `Invalid option ${name}: ${expected}, got ${JSON.stringify(got)}`, { option: name });
}

/**
 * An error as a worker posts it to the main thread. postMessage's structured clone
 * keeps only an Error's message and stack (a PipelineError arrives as a plain Error,
 * its code and context gone), so workers send this instead and the main thread
 * rebuilds the error with errorFromWorker.
 */
export interface WorkerError {
  /** True when it was a PipelineError: code is then an ErrorCode. */
  pipeline: boolean;
  /** The PipelineError's code, or a system error's (ENOSPC, ...), or undefined. */
  code?: string;
  /** PipelineError: its detail (the constructor adds the location again); otherwise the message. */
  message: string;
  context: ErrorContext;
  stack?: string;
}

/** The structured-clone-safe form of anything a worker caught. */
export function errorForTransfer(err: unknown): WorkerError {
  if (err instanceof PipelineError) {
    // Context values the clone cannot carry (a function, a class instance's methods) would throw in postMessage.
    let context: ErrorContext;
    try {
      context = structuredClone(err.context);
    } catch {
      context = JSON.parse(JSON.stringify(err.context)) as ErrorContext;
    }
    return { pipeline: true, code: err.code, message: err.detail, context, stack: err.stack };
  }
  const e = err as { code?: unknown; message?: unknown; stack?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return { pipeline: false, code, message, context: {}, stack: typeof e?.stack === 'string' ? e.stack : undefined };
}

/**
 * The main thread's copy of a worker's error: a PipelineError with the same code,
 * context and message when it was one; otherwise an Error with the message and the
 * system code (so callers can still test err.code === 'ENOSPC'). The worker's stack
 * is appended to the new one, which says where the main thread received it.
 */
export function errorFromWorker(w: WorkerError): Error {
  const err: Error & { code?: string } = w.pipeline ? new PipelineError(w.code as ErrorCode, w.message, w.context) : new Error(w.message);
  if (!w.pipeline && w.code !== undefined) err.code = w.code;
  if (w.stack) err.stack = `${err.stack}\n    --- in the worker thread:\n${w.stack}`;
  return err;
}
