/**
 * The shard sink: FeatureBatches in, Parquet or Arrow IPC shard files plus
 * DIR/_manifest.json out.
 *
 * The sink opens its output itself, in construct(), before the first batch is
 * taken: a fresh start, a resume of an interrupted run with the same config, or a
 * refusal (io/shard-output.ts). opened() says which, before any input is read.
 *
 * Shard k always holds valid rows [k*S, (k+1)*S) of the input stream, whatever the
 * batch sizes upstream, so a rerun after a crash can skip the rows the manifest says
 * are committed and produce the very same remaining shards (resume). Each shard is
 * encoded on a worker, written under its temp name and fsynced there, then committed
 * (renamed into place, directory fsynced: io/atomic-file.ts's stageFile) in shard
 * order, and the manifest is rewritten atomically after each commit.
 *
 * Memory stays bounded: _write calls back only once fewer than maxInFlight shards are
 * filled-but-uncommitted, so a slow disk or slow encoders stop the producer
 * (backpressure) instead of queueing rows. Shard buffers are recycled.
 */
import { Writable } from 'node:stream';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { emptyFeatureBatch, NUM_CAT, NUM_DENSE, type FeatureBatch, type SourcedFeatureBatch } from '../core/schema.js';
import { PipelineError, invalidOption } from '../core/errors.js';
import { shardFileName, writeManifest, LEGACY_MANIFEST_FILE, MANIFEST_FILE, type Manifest, type ManifestConfig, type ShardEntry, type ShardSource } from '../io/manifest.js';
import { stageFile, syncDir, type StagedFile } from '../io/atomic-file.js';
import { openShardOutput } from '../io/shard-output.js';
import { ShardEncoderPool } from '../io/shard-pool.js';
import { releaseBatch } from '../core/packed-batch.js';
import { checksumHex } from '../core/checksum.js';

export interface CutShard {
  index: number;
  firstRow: number;
  /** Whole-capacity buffers; rows 0..batch.rows are the shard. */
  batch: FeatureBatch;
  source: ShardSource[];
}

/**
 * Pure core: cuts a stream of batches into shards at fixed row boundaries, after
 * dropping the first skipRows rows (those already committed by an earlier run).
 */
export class ShardCutter {
  readonly shardRows: number;
  readonly labeled: boolean;
  private skip: number;
  private nextIndex: number;
  private nextFirstRow: number;
  private cur: FeatureBatch | null = null;
  private fill = 0;
  private source: ShardSource[] = [];
  private readonly free: FeatureBatch[] = [];

  constructor({ shardRows, labeled = true, skipRows = 0, firstIndex = 0 }: { shardRows: number; labeled?: boolean; skipRows?: number; firstIndex?: number }) {
    if (!Number.isInteger(shardRows) || shardRows <= 0) throw invalidOption('shardRows', 'must be a positive integer', shardRows);
    this.shardRows = shardRows;
    this.labeled = labeled;
    this.skip = skipRows;
    this.nextIndex = firstIndex;
    this.nextFirstRow = skipRows;
  }

  /** Gives a shard's buffers back for reuse once it has been written. */
  recycle(batch: FeatureBatch): void {
    if (batch.dense[0].length === this.shardRows && this.free.length < 4) this.free.push(batch);
  }

  /** Rows still to drop before the first new shard. */
  get pendingSkip(): number {
    return this.skip;
  }

  push(batch: SourcedFeatureBatch): CutShard[] {
    if (this.labeled && !batch.label) throw new PipelineError('ERR_SCHEMA', 'batch has no label column but the output is labeled');
    const out: CutShard[] = [];
    let at = 0;
    if (this.skip > 0) {
      const n = Math.min(this.skip, batch.rows);
      this.skip -= n;
      at = n;
    }
    while (at < batch.rows) {
      if (!this.cur) {
        this.cur = this.free.pop() ?? emptyFeatureBatch(this.shardRows, this.labeled);
        this.fill = 0;
        this.source = [];
      }
      const n = Math.min(this.shardRows - this.fill, batch.rows - at);
      const cur = this.cur;
      if (this.labeled) cur.label!.set(batch.label!.subarray(at, at + n), this.fill);
      for (let j = 0; j < NUM_DENSE; j++) cur.dense[j].set(batch.dense[j].subarray(at, at + n), this.fill);
      for (let j = 0; j < NUM_CAT; j++) cur.cats[j].set(batch.cats[j].subarray(at, at + n), this.fill);
      if (batch.source) this.noteSource(batch.source, at, at + n);
      this.fill += n;
      at += n;
      if (this.fill === this.shardRows) out.push(this.take());
    }
    return out;
  }

  /** The last, partial shard (null when the rows ended on a boundary). */
  flush(): CutShard | null {
    return this.cur && this.fill > 0 ? this.take() : null;
  }

  private take(): CutShard {
    const batch = this.cur!;
    batch.rows = this.fill;
    const shard = { index: this.nextIndex++, firstRow: this.nextFirstRow, batch, source: this.source };
    this.nextFirstRow += this.fill;
    this.cur = null;
    this.fill = 0;
    return shard;
  }

  private noteSource(src: { file: string; lines: ArrayLike<number> }, from: number, to: number): void {
    const last = this.source[this.source.length - 1];
    if (last && last.file === src.file) {
      last.lastLine = src.lines[to - 1];
      last.rows = (last.rows ?? 0) + (to - from);
    } else this.source.push({ file: src.file, firstLine: src.lines[from], lastLine: src.lines[to - 1], rows: to - from });
  }
}

export interface ShardSinkOptions {
  dir: string;
  /** The run's config: it gives format and shardRows, and decides whether an existing output may be resumed. */
  config: ManifestConfig;
  /** Replace whatever output `dir` holds instead of resuming it or refusing it. Default false. */
  overwrite?: boolean;
  /** Encoder worker threads; 0 encodes on this thread. */
  concurrency?: number;
  /** Shards cut but not yet committed before _write waits (bounds memory). */
  maxInFlight?: number;
  /**
   * On error, delete the shards this run committed and put back the manifest it
   * started from (none, for a fresh output), so a failed run leaves the directory as
   * it found it.
   */
  rollbackOnError?: boolean;
  onCommit?: (entry: ShardEntry, manifest: Manifest) => void;
  /** Called just before the final manifest (complete: true) is written. */
  beforeComplete?: (manifest: Manifest) => void;
}

/** Emitted once construct() has opened the output (the manifest is then known). */
const OPENED = 'opened';

export class ShardSink extends Writable {
  readonly dir: string;
  /** The manifest this run continues and updates; set once the output is open (see opened()). */
  manifest!: Manifest;
  /** A manifest was on disk when the output was opened (resume, or already complete). */
  existed = false;
  /** Shards cut and not yet committed; never above maxInFlight once _write has called back. */
  inFlight = 0;
  maxInFlightSeen = 0;
  private readonly config: ManifestConfig;
  private readonly overwrite: boolean;
  private readonly maxInFlight: number;
  private cutter!: ShardCutter;
  private readonly pool: ShardEncoderPool;
  /** The manifest as opened (JSON), put back by a rollback. */
  private initial: string | null = null;
  private lastWasPartial = false;
  private readonly rollbackOnError: boolean;
  private readonly onCommit?: ShardSinkOptions['onCommit'];
  private readonly beforeComplete?: ShardSinkOptions['beforeComplete'];
  private commitChain: Promise<void> = Promise.resolve();
  private readonly committedHere: string[] = [];
  private readonly staged = new Set<StagedFile>();
  private failure: Error | null = null;
  private waiters: (() => void)[] = [];
  private cleanupDone: Promise<void> = Promise.resolve();

  constructor({ dir, config, overwrite = false, concurrency = 2, maxInFlight, rollbackOnError = false, onCommit, beforeComplete }: ShardSinkOptions) {
    // Checked before super(): Writable schedules _construct there, and a sink that throws must not go on to open its output.
    if (!Number.isInteger(concurrency) || concurrency < 0) throw invalidOption('concurrency', 'must be a non-negative integer', concurrency);
    const limit = maxInFlight ?? Math.max(1, concurrency) + 1;
    if (!Number.isInteger(limit) || limit < 1) throw invalidOption('maxInFlight', 'must be a positive integer', maxInFlight);
    if (!Number.isInteger(config?.shardRows) || config.shardRows <= 0) throw invalidOption('shardRows', 'must be a positive integer', config?.shardRows);
    super({ objectMode: true, highWaterMark: 1 });
    this.dir = dir;
    this.config = config;
    this.overwrite = overwrite;
    this.maxInFlight = limit;
    this.rollbackOnError = rollbackOnError;
    this.onCommit = onCommit;
    this.beforeComplete = beforeComplete;
    this.pool = new ShardEncoderPool({ size: concurrency });
  }

  /** Opens (resumes, replaces or refuses) the output before the first write; Writable holds writes until it is done. */
  override _construct(cb: (err?: Error | null) => void): void {
    openShardOutput({ dir: this.dir, config: this.config, overwrite: this.overwrite }).then(
      ({ manifest, existed }) => {
        this.manifest = manifest;
        this.existed = existed;
        this.initial = JSON.stringify(manifest);
        const last = manifest.shards[manifest.shards.length - 1];
        this.lastWasPartial = last !== undefined && last.rows < manifest.config.shardRows;
        this.cutter = new ShardCutter({ shardRows: manifest.config.shardRows, labeled: manifest.labeled, skipRows: manifest.rows, firstIndex: manifest.shards.length });
        cb();
        this.emit(OPENED);
      },
      (err: Error) => cb(err),
    );
  }

  /**
   * Resolves with the manifest once the output is open (manifest.complete: an
   * earlier run already finished it, so there is nothing to write), or rejects with
   * the reason it could not be opened (ERR_OUTPUT_EXISTS, ERR_MANIFEST...). Lets a
   * caller decide before it reads any input.
   */
  opened(): Promise<Manifest> {
    if (this.initial !== null) return Promise.resolve(this.manifest);
    if (this.destroyed) return Promise.reject(this.errored ?? new PipelineError('ERR_INTERNAL', 'shard sink destroyed before its output was opened', { file: this.dir }));
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        this.off(OPENED, onOpened);
        reject(err);
      };
      const onOpened = () => {
        this.off('error', onError);
        resolve(this.manifest);
      };
      this.once('error', onError);
      this.once(OPENED, onOpened);
    });
  }

  override _write(batch: SourcedFeatureBatch, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.accept(batch).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.finish().then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const done = this.cleanup(err);
    this.cleanupDone = done.catch(() => {});
    done.then(
      () => cb(err),
      (e) => cb(err ?? e),
    );
  }

  private async accept(batch: SourcedFeatureBatch): Promise<void> {
    if (this.failure) throw this.failure;
    const skipBefore = this.cutter.pendingSkip;
    const shards = this.cutter.push(batch);
    releaseBatch(batch); // its rows are copied into shard buffers
    if (this.lastWasPartial && batch.rows > skipBefore) {
      throw new PipelineError('ERR_RESUME', 'the output ends with a partial shard but the input has more rows than it did; the input changed: rerun with --overwrite', { file: this.dir });
    }
    for (const s of shards) this.submit(s);
    while (this.inFlight >= this.maxInFlight && !this.failure) await new Promise<void>((r) => this.waiters.push(r));
    if (this.failure) throw this.failure;
  }

  private submit(shard: CutShard): void {
    const { format } = this.manifest;
    const file = shardFileName(shard.index, format);
    const staged = stageFile(path.join(this.dir, file));
    this.staged.add(staged);
    this.inFlight++;
    this.maxInFlightSeen = Math.max(this.maxInFlightSeen, this.inFlight);
    // The encoder writes and fsyncs the temp file; the commit (rename, directory fsync) waits its turn below.
    const encoded = this.pool.encode(shard.batch, format, staged.tmp);
    encoded.catch(() => {}); // surfaced through the commit chain
    this.commitChain = this.commitChain.then(async () => {
      if (this.failure) return;
      const res = await encoded;
      // Claim the name first: a kill after the rename but before the listing then
      // leaves a file the next run knows is ours (io/shard-output.ts sweeps it).
      this.manifest.pending = [file];
      await writeManifest(this.dir, this.manifest);
      await staged.commit();
      this.staged.delete(staged);
      this.committedHere.push(file);
      const entry: ShardEntry = { file, rows: shard.batch.rows, firstRow: shard.firstRow, bytes: res.bytes, crc32: checksumHex(res.crc32), source: shard.source };
      this.manifest.shards.push(entry);
      this.manifest.rows += entry.rows;
      this.manifest.pending = [];
      await writeManifest(this.dir, this.manifest);
      this.cutter.recycle(res.batch);
      this.inFlight--;
      this.onCommit?.(entry, this.manifest);
      this.wake();
    }).catch((err: Error) => {
      this.failure ??= err;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }

  private async finish(): Promise<void> {
    try {
      if (this.failure) throw this.failure;
      const last = this.cutter.flush();
      if (last) this.submit(last);
      await this.commitChain;
      if (this.failure) throw this.failure;
      this.beforeComplete?.(this.manifest);
      this.manifest.complete = true;
      await writeManifest(this.dir, this.manifest);
    } finally {
      await this.pool.close();
    }
  }

  /** After an error: stop encoders, drop temp files, and roll back when asked. */
  private async cleanup(err: Error | null): Promise<void> {
    if (!err) {
      await this.pool.close(); // destroyed without an error (e.g. the output was already complete)
      return;
    }
    this.failure ??= err;
    this.wake();
    await this.pool.close();
    await this.commitChain.catch(() => {});
    await Promise.all([...this.staged].map((s) => s.discard()));
    // initial is null when the output never opened: then this run changed nothing.
    if (this.rollbackOnError && this.initial !== null) {
      // Crash-safe order: first the manifest stops listing this run's shards (and
      // names them as ours to delete), then they go, then the manifest is put back.
      // A kill at any point leaves a manifest that lists only files that exist.
      const before = JSON.parse(this.initial) as Manifest;
      const mine = [...this.committedHere, ...(this.manifest.pending ?? [])];
      await writeManifest(this.dir, { ...before, pending: mine });
      for (const f of mine) await fsp.rm(path.join(this.dir, f), { force: true });
      await syncDir(this.dir);
      if (before.shards.length === 0 && !this.existed) {
        await fsp.rm(path.join(this.dir, MANIFEST_FILE), { force: true });
        await fsp.rm(path.join(this.dir, LEGACY_MANIFEST_FILE), { force: true });
      } else await writeManifest(this.dir, { ...before, pending: [] });
    }
  }

  /**
   * Resolves once cleanup after an error (temp files, rollback) is over. pipeline()
   * rejects as soon as a stream errors, before async _destroy work ends, so callers
   * that report the error await this first.
   */
  async settled(): Promise<void> {
    // 'close' follows _destroy's callback, i.e. the end of cleanup.
    if (!this.closed) await new Promise<void>((resolve) => this.once('close', () => resolve()));
    await this.cleanupDone;
  }
}

export function shardSink(opts: ShardSinkOptions): ShardSink {
  return new ShardSink(opts);
}
