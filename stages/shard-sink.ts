/**
 * The shard sink: FeatureBatches in, Parquet or Arrow IPC shard files plus
 * DIR/manifest.json out.
 *
 * Shard k always holds valid rows [k*S, (k+1)*S) of the input stream, whatever the
 * batch sizes upstream, so a rerun after a crash can skip the rows the manifest says
 * are committed and produce the very same remaining shards (resume). Each shard is
 * encoded on a worker, written under a temp name and fsynced there, then renamed into
 * place in shard order, and the manifest is rewritten atomically after each rename.
 *
 * Memory stays bounded: _write calls back only once fewer than maxInFlight shards are
 * filled-but-uncommitted, so a slow disk or slow encoders stop the producer
 * (backpressure) instead of queueing rows. Shard buffers are recycled.
 */
import { Writable } from 'node:stream';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { emptyFeatureBatch, NUM_CAT, NUM_DENSE, type FeatureBatch } from '../core/schema.js';
import { PipelineError, invalidOption } from '../core/errors.js';
import { shardFileName, syncDir, writeManifest, type Manifest, type ShardEntry, type ShardSource } from '../io/manifest.js';
import { ShardEncoderPool } from '../io/shard-pool.js';
import { releaseBatch } from '../core/packed-batch.js';

/**
 * Provenance of a batch's rows as featurize attaches it (stages/featurize.ts): one
 * file per batch and each row's line in it. Batches without it are accepted too;
 * their shards just record no source.
 */
export type SourcedFeatureBatch = FeatureBatch & { source?: { file: string; lines: ArrayLike<number> } };

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
    if (last && last.file === src.file) last.lastLine = src.lines[to - 1];
    else this.source.push({ file: src.file, firstLine: src.lines[from], lastLine: src.lines[to - 1] });
  }
}

export interface ShardSinkOptions {
  dir: string;
  /** The manifest to continue from (see openShardOutput); its config gives format and shardRows. */
  manifest: Manifest;
  /** Encoder worker threads; 0 encodes on this thread. */
  concurrency?: number;
  /** Shards cut but not yet committed before _write waits (bounds memory). */
  maxInFlight?: number;
  /**
   * On error, delete the shards this run committed and put back the manifest it
   * started from, so a failed run leaves the directory as it found it.
   */
  rollbackOnError?: boolean;
  onCommit?: (entry: ShardEntry, manifest: Manifest) => void;
  /** Called just before the final manifest (complete: true) is written. */
  beforeComplete?: (manifest: Manifest) => void;
}

export class ShardSink extends Writable {
  readonly dir: string;
  readonly manifest: Manifest;
  /** Shards cut and not yet committed; never above maxInFlight once _write has called back. */
  inFlight = 0;
  maxInFlightSeen = 0;
  private readonly maxInFlight: number;
  private readonly cutter: ShardCutter;
  private readonly pool: ShardEncoderPool;
  private readonly initial: string;
  private readonly rollbackOnError: boolean;
  private readonly onCommit?: ShardSinkOptions['onCommit'];
  private readonly beforeComplete?: ShardSinkOptions['beforeComplete'];
  private commitChain: Promise<void> = Promise.resolve();
  private readonly committedHere: string[] = [];
  private readonly tmpFiles = new Set<string>();
  private failure: Error | null = null;
  private waiters: (() => void)[] = [];

  constructor({ dir, manifest, concurrency = 2, maxInFlight, rollbackOnError = false, onCommit, beforeComplete }: ShardSinkOptions) {
    super({ objectMode: true, highWaterMark: 1 });
    if (!Number.isInteger(concurrency) || concurrency < 0) throw invalidOption('concurrency', 'must be a non-negative integer', concurrency);
    const limit = maxInFlight ?? Math.max(1, concurrency) + 1;
    if (!Number.isInteger(limit) || limit < 1) throw invalidOption('maxInFlight', 'must be a positive integer', maxInFlight);
    this.dir = dir;
    this.manifest = manifest;
    this.initial = JSON.stringify(manifest);
    this.maxInFlight = limit;
    this.rollbackOnError = rollbackOnError;
    this.onCommit = onCommit;
    this.beforeComplete = beforeComplete;
    const last = manifest.shards[manifest.shards.length - 1];
    this.lastWasPartial = last !== undefined && last.rows < manifest.config.shardRows;
    this.cutter = new ShardCutter({ shardRows: manifest.config.shardRows, labeled: manifest.labeled, skipRows: manifest.rows, firstIndex: manifest.shards.length });
    this.pool = new ShardEncoderPool({ size: concurrency });
  }

  private readonly lastWasPartial: boolean;

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
    const tmp = path.join(this.dir, `.${file}.${process.pid}.tmp`);
    this.tmpFiles.add(tmp);
    this.inFlight++;
    this.maxInFlightSeen = Math.max(this.maxInFlightSeen, this.inFlight);
    const encoded = this.pool.encode(shard.batch, format, tmp);
    encoded.catch(() => {}); // surfaced through the commit chain
    this.commitChain = this.commitChain.then(async () => {
      if (this.failure) return;
      const res = await encoded;
      await fsp.rename(tmp, path.join(this.dir, file));
      this.tmpFiles.delete(tmp);
      this.committedHere.push(file);
      await syncDir(this.dir);
      const entry: ShardEntry = { file, rows: shard.batch.rows, firstRow: shard.firstRow, bytes: res.bytes, source: shard.source };
      this.manifest.shards.push(entry);
      this.manifest.rows += entry.rows;
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
    if (!err) return;
    this.failure ??= err;
    this.wake();
    await this.pool.close();
    await this.commitChain.catch(() => {});
    await Promise.all([...this.tmpFiles].map((f) => fsp.rm(f, { force: true })));
    if (this.rollbackOnError) {
      await Promise.all(this.committedHere.map((f) => fsp.rm(path.join(this.dir, f), { force: true })));
      const before = JSON.parse(this.initial) as Manifest;
      if (before.shards.length === 0 && this.manifestWasNew) await fsp.rm(path.join(this.dir, 'manifest.json'), { force: true });
      else await writeManifest(this.dir, before);
    }
  }

  private cleanupDone: Promise<void> = Promise.resolve();

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

  /** Set by the caller when the manifest did not exist on disk before this run. */
  manifestWasNew = false;
}

export function shardSink(opts: ShardSinkOptions): ShardSink {
  return new ShardSink(opts);
}
