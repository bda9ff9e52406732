/**
 * preprocess(): Criteo TSV -> featurized Parquet/Arrow shards + manifest
 * (resumable), or an Arrow IPC stream on stdout for chaining into train/minhash.
 *
 * With --concurrency N >= 2 (the default on a multi-core machine) N worker threads
 * encode shards (stages/shard-sink.ts), and for Arrow shards and the stdout stream N
 * more parse and featurize line-aligned chunks of the input (stages/parallel-parse.ts):
 * the main thread then only reads, cuts chunks, puts results back in order and
 * commits shards. Parquet and --concurrency 1 (or 0) parse on the main thread (0
 * also encodes there): Parquet encoding alone keeps both cores busy.
 *
 * What "commits nothing partial" means with --on-bad-row fail: shards are committed
 * one by one while the run goes (that is what makes a killed run resumable), but a
 * directory is usable only once its manifest says complete, and a run that stops on
 * a bad row deletes every shard it committed and puts back the manifest it found
 * (none, for a fresh output). So after the error the output is exactly as it was
 * before the run: no shard holds a row of the failed run, and readers see nothing new.
 */
import { statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type TransformCallback, type Writable } from 'node:stream';
import { invalidOption, PipelineError } from '../core/errors.js';
import { Progress } from '../core/progress.js';
import { acquireLock, dirLockFile, type Lock } from '../io/lock.js';
import { fingerprintFile } from '../io/fingerprint.js';
import { onInterrupt } from '../core/interrupt.js';
import { removeOwnTempFilesSync } from '../io/shard-output.js';
import { openInput, assertInputsReadable } from '../input/open.js';
import { parseTsv, type OnBadRow, type RejectReason } from '../stages/parse.js';
import { featurize } from '../stages/featurize.js';
import { parseFeaturizeParallel } from '../stages/parallel-parse.js';
import { RejectsWriter } from '../stages/rejects.js';
import { MANIFEST_VERSION, type Manifest, type ManifestConfig, type ShardFormat } from '../io/manifest.js';
import { shardSink } from '../stages/shard-sink.js';
import { arrowStreamEncoder } from '../io/arrow-stream.js';

export interface PreprocessOptions {
  inputs: string[];
  /** Output directory, or '-' for an Arrow IPC stream on `stdout`. */
  out: string;
  format?: ShardFormat;
  shardRows?: number;
  buckets?: number | number[];
  seed?: number;
  labeled?: boolean;
  onBadRow?: OnBadRow;
  rejects?: string;
  overwrite?: boolean;
  /** Shard encoder worker threads (0: encode on the main thread); also the parse workers unless parseWorkers says otherwise. */
  concurrency?: number;
  /** Parse+featurize worker threads; 0 parses on the main thread. Default: concurrency when >= 2 for Arrow shards and the stream, else 0. */
  parseWorkers?: number;
  /** Bytes per chunk handed to a parse worker (default 4 MiB). */
  chunkBytes?: number;
  /** Where log lines go (resume, completion; default none). */
  log?: (line: string) => void;
  /** Progress lines (percentage and ETA from the bytes read of the inputs' sizes); default none. */
  progress?: { write: (line: string) => void; intervalMs?: number };
  /** Where warnings go (default: `log`, else stderr): an empty input, a possibly cut-off last line. */
  warn?: (line: string) => void;
  stdout?: Writable;
  stdin?: NodeJS.ReadableStream;
}

export interface PreprocessSummary {
  out: string;
  format: ShardFormat | 'arrow-stream';
  rows: number;
  shards: number;
  /** Rows this run wrote (rows minus those already committed by an earlier run). */
  newRows: number;
  resumed: boolean;
  rejected: number;
  rejects: Record<string, number>;
  /** Rows accepted with trailing empty fields left out. */
  trimmedRows: number;
  /** Things the user should look at, though the run succeeded. */
  warnings: string[];
  seconds: number;
  rowsPerSecond: number;
}

/** The defaults of preprocess() (the CLI's option table shows these). */
export const PREPROCESS_DEFAULTS = Object.freeze({
  format: 'parquet' as ShardFormat,
  shardRows: 131072,
  seed: 0,
  labeled: true,
  onBadRow: 'fail' as OnBadRow,
});

/** Counts rows and ticks `progress` (which prints by time) with the fraction of input bytes read. */
function progressTap(progress: Progress | undefined, fraction: () => number | undefined): Transform & { rows: number } {
  const t = new Transform({
    objectMode: true,
    highWaterMark: 1,
    transform(batch: { rows: number }, _e: BufferEncoding, cb: TransformCallback) {
      (t as unknown as { rows: number }).rows += batch.rows;
      progress?.tick((t as unknown as { rows: number }).rows, { fraction: fraction() });
      cb(null, batch);
    },
  }) as Transform & { rows: number };
  t.rows = 0;
  return t;
}

/** The library form of the command: resolves when the output is complete. */
export async function preprocess(opts: PreprocessOptions): Promise<PreprocessSummary> {
  const {
    inputs,
    out,
    format = PREPROCESS_DEFAULTS.format,
    shardRows = PREPROCESS_DEFAULTS.shardRows,
    buckets,
    seed = PREPROCESS_DEFAULTS.seed,
    labeled = PREPROCESS_DEFAULTS.labeled,
    onBadRow = PREPROCESS_DEFAULTS.onBadRow,
    rejects,
    overwrite = false,
    concurrency = Math.max(1, os.availableParallelism?.() ?? os.cpus().length),
    log,
  } = opts;
  // Parquet encoding alone keeps the cores busy (bench/preprocess: parse workers gave it
  // no speed, only ~100 MB more RSS), so Parquet parses on the main thread by default.
  const parseWorkers = opts.parseWorkers ?? (concurrency >= 2 && (format === 'arrow' || out === '-') ? concurrency : 0);
  if (format !== 'parquet' && format !== 'arrow') throw invalidOption('format', "must be 'parquet' or 'arrow'", format);
  if (!(Number.isSafeInteger(shardRows) && shardRows >= 1)) throw invalidOption('shardRows', 'must be a positive integer', shardRows);
  if (!Number.isInteger(concurrency) || concurrency < 0) throw invalidOption('concurrency', 'must be a non-negative integer', concurrency);
  if (!Number.isInteger(parseWorkers) || parseWorkers < 0) throw invalidOption('parseWorkers', 'must be a non-negative integer', parseWorkers);
  if (onBadRow !== 'fail' && onBadRow !== 'skip') throw invalidOption('on-bad-row', "must be 'fail' or 'skip'", onBadRow);
  if (rejects && onBadRow !== 'skip') throw invalidOption('rejects', 'needs --on-bad-row skip', rejects);
  assertInputsReadable(inputs);

  const started = Date.now();
  const rejectsWriter = rejects ? new RejectsWriter(rejects, { append: false }) : undefined;
  // One thread: parseTsv | featurize. Several: both on workers, one stage.
  const parser =
    parseWorkers > 0
      ? parseFeaturizeParallel({ workers: parseWorkers, chunkBytes: opts.chunkBytes, labeled, onBadRow, onReject: rejectsWriter?.write, buckets, seed })
      : parseTsv({ labeled, onBadRow, onReject: rejectsWriter?.write });
  const featurizer = parseWorkers > 0 ? null : featurize({ buckets, seed });
  // The inputs' sizes as stored (compressed for .gz, as read): a percentage and an ETA; unknown with stdin.
  const totalBytes = inputs.includes('-') ? undefined : inputs.reduce((a, f) => a + statSync(f).size, 0);
  let bytesRead = 0;
  const featurized = (): (NodeJS.ReadableStream | NodeJS.ReadWriteStream)[] => [
    openInput(inputs, { stdin: opts.stdin, onRead: (n) => (bytesRead += n) }),
    parser,
    ...(featurizer ? [featurizer] : []),
  ];
  const progress = opts.progress ? new Progress({ label: 'preprocess', ...opts.progress }) : undefined;
  const tap = progressTap(progress, () => (totalBytes ? bytesRead / totalBytes : undefined));
  const rejectCounts = (): Record<string, number> =>
    Object.fromEntries(Object.entries(parser.stats.rejects).filter(([, n]) => n > 0)) as Partial<Record<RejectReason, number>> as Record<string, number>;
  const warn = opts.warn ?? log ?? ((line: string) => process.stderr.write(line + '\n'));
  const warningsOf = (rows: number): string[] => {
    const w: string[] = [];
    if (rows === 0) w.push(`no rows in the input (${inputs.join(', ')})${parser.stats.rejected ? `: all ${parser.stats.rejected} lines were rejected` : ''}`);
    if (parser.stats.possiblyTruncated > 0) w.push(`${parser.stats.possiblyTruncated} input file(s) end in a short line without a newline: possibly cut off (kept)`);
    for (const line of w) warn(`preprocess: warning: ${line}`);
    return w;
  };
  const finishSummary = (s: Omit<PreprocessSummary, 'seconds' | 'rowsPerSecond' | 'rejected' | 'rejects' | 'trimmedRows' | 'warnings'>): PreprocessSummary => {
    const seconds = (Date.now() - started) / 1000;
    return {
      ...s,
      rejected: parser.stats.rejected,
      rejects: rejectCounts(),
      trimmedRows: parser.stats.trimmedRows,
      warnings: warningsOf(s.rows),
      seconds,
      rowsPerSecond: Math.round(tap.rows / Math.max(seconds, 1e-9)),
    };
  };

  let lock: Lock | undefined;
  let unregister: (() => void) | undefined;
  try {
    if (out === '-') {
      const stdout = opts.stdout ?? process.stdout;
      await pipeline([...featurized(), tap, arrowStreamEncoder({ labeled }), stdout]);
      return finishSummary({ out: '-', format: 'arrow-stream', rows: tap.rows, shards: 0, newRows: tap.rows, resumed: false });
    }

    const config: ManifestConfig = {
      inputs: inputs.map((f) => (f === '-' ? '-' : path.resolve(f))),
      // Sizes catch an input that changed between a killed run and its rerun.
      inputBytes: inputs.map((f) => (f === '-' ? null : statSync(f).size)),
      // Size alone missed an input rewritten to the same size (io/fingerprint.ts).
      inputFingerprints: await Promise.all(inputs.map((f) => (f === '-' ? null : fingerprintFile(f)))),
      format,
      shardRows,
      buckets: buckets ?? null,
      labeled,
      onBadRow,
      seed,
      version: MANIFEST_VERSION,
    };
    await makeOutputDir(out);
    // One writer per directory, taken before the sink opens (and sweeps) the output:
    // a second run is refused naming this one (io/lock.ts).
    lock = acquireLock(dirLockFile(out), `preprocess --out ${out}`, out);
    const held = lock;
    let committed: Manifest | undefined;
    // On SIGINT/SIGTERM (bin/cli.ts): say how far the run got, drop temp files and the lock.
    // Committed shards stay: they are what a rerun resumes from.
    unregister = onInterrupt({
      status: () => (committed ? `${committed.rows} rows committed in ${committed.shards.length} shards` : '0 rows committed in 0 shards'),
      cleanup: () => {
        removeOwnTempFilesSync(out);
        held.release();
      },
    });
    const sink = shardSink({
      dir: out,
      config,
      overwrite,
      concurrency,
      rollbackOnError: onBadRow === 'fail',
      beforeComplete: (m) => {
        m.rejected = rejectCounts();
        m.trimmedRows = parser.stats.trimmedRows;
      },
    });
    // The sink opens the output (resume, overwrite or refusal) before any input is read.
    const manifest = await sink.opened();
    committed = manifest;
    const before = manifest.rows;
    if (manifest.complete) {
      sink.destroy();
      log?.(`preprocess: ${out} is already complete (${manifest.rows} rows in ${manifest.shards.length} shards); nothing to do`);
      const done = finishSummary({ out, format, rows: manifest.rows, shards: manifest.shards.length, newRows: 0, resumed: true });
      return { ...done, rejects: manifest.rejected ?? {}, rejected: Object.values(manifest.rejected ?? {}).reduce((a, b) => a + b, 0), trimmedRows: manifest.trimmedRows ?? 0 };
    }
    if (before > 0) log?.(`preprocess: resuming ${out}: ${before} rows in ${manifest.shards.length} shards already committed`);
    try {
      await pipeline([...featurized(), tap, sink]);
    } catch (err) {
      await sink.settled(); // rollback / temp-file removal finishes before the error is reported
      throw err;
    }
    return finishSummary({ out, format, rows: manifest.rows, shards: manifest.shards.length, newRows: manifest.rows - before, resumed: before > 0 });
  } finally {
    rejectsWriter?.close();
    unregister?.();
    lock?.release();
  }
}

/** mkdir -p, with a one-line error naming the path when it cannot be a directory. */
export async function makeOutputDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new PipelineError('ERR_OUTPUT', 'exists and is not a directory', { file: dir });
    throw err;
  }
}

