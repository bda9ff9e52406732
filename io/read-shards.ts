/**
 * The reading side of preprocess: FeatureBatches from a shard directory (manifest
 * order), a single .parquet/.arrow shard, or an Arrow IPC stream on stdin ('-'), so
 * minhash and train take any of the three with the same code.
 */
import { promises as fsp, statSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { FeatureBatch } from '../core/schema.js';
import { PipelineError } from '../core/errors.js';
import { readCheckedArrowStream } from './arrow-stream-reader.js';
import { readManifest, type Manifest, type ShardEntry } from './manifest.js';
import { CHECKSUM_NAME, checksumHex, crc32 } from '../core/checksum.js';
import { decodeShard, formatOfFile } from './shard-format.js';

export { readManifest, type Manifest } from './manifest.js';
export { readArrowStream, readCheckedArrowStream, requireArrowEnd } from './arrow-stream-reader.js';

export interface ReadFeatureBatchesOptions {
  signal?: AbortSignal;
  /** The stream read for input '-' (default process.stdin); tests pass their own. */
  stdin?: Readable;
  /** Read a directory whose preprocess has not finished (manifest.complete false). */
  allowIncomplete?: boolean;
  /** Check each shard's size and checksum against the manifest (default true; `--no-verify` turns it off). */
  verify?: boolean;
}

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/**
 * Whether readFeatureBatches reads `input` (featurized rows): '-' (an Arrow IPC
 * stream), a directory (shards with a manifest), or a .parquet/.arrow file. Anything
 * else is raw TSV to the commands that also take TSV (predict, stats); train and
 * minhash take featurized rows only. A missing path is not a shard: the TSV opener
 * names it.
 */
export function isShardInput(input: string): boolean {
  if (input === '-') return true;
  try {
    if (statSync(input).isDirectory()) return true;
  } catch {
    return false;
  }
  return formatOfFile(input) !== null;
}

export async function* readFeatureBatches(input: string, opts: ReadFeatureBatchesOptions = {}): AsyncGenerator<FeatureBatch> {
  const { signal, allowIncomplete = false } = opts;
  checkAbort(signal);
  if (input === '-') {
    // Checked: a pipe whose producer died, or raw TSV on it, is an error, never fewer rows.
    yield* readCheckedArrowStream(opts.stdin ?? process.stdin, '<stdin>', signal);
    return;
  }
  let stat;
  try {
    stat = await fsp.stat(input);
  } catch (err) {
    throw new PipelineError('ERR_INPUT', `cannot read input: ${(err as Error).message}`, { file: input });
  }
  if (stat.isDirectory()) {
    const manifest = await readManifest(input);
    if (!manifest.complete && !allowIncomplete) {
      throw new PipelineError(
        'ERR_INCOMPLETE',
        'preprocess output is incomplete (its run stopped before the end of the input); rerun the same preprocess command to finish it',
        { file: input },
      );
    }
    yield* readShardList(input, manifest, manifest.shards, signal, opts.verify ?? true);
    return;
  }
  const format = formatOfFile(input);
  if (!format) throw new PipelineError('ERR_INPUT', 'not a shard: expected a directory with _manifest.json, a .parquet or .arrow file, or -', { file: input });
  yield* readShardFile(input, format, signal);
}

/** Some of a manifest's shards (a part of the output), checked as readFeatureBatches checks them. */
export function readManifestShards(dir: string, manifest: Manifest, shards: ShardEntry[], opts: Pick<ReadFeatureBatchesOptions, 'signal' | 'verify'> = {}): AsyncGenerator<FeatureBatch> {
  return readShardList(dir, manifest, shards, opts.signal, opts.verify ?? true);
}

async function* readShardList(dir: string, manifest: Manifest, shards: ShardEntry[], signal: AbortSignal | undefined, verify: boolean): AsyncGenerator<FeatureBatch> {
  // Read-ahead of one shard overlaps disk reads with the consumer's work.
  let next: Promise<Uint8Array> | undefined;
  const load = (i: number) => fsp.readFile(path.join(dir, shards[i].file));
  if (shards.length) next = load(0);
  for (let i = 0; i < shards.length; i++) {
    checkAbort(signal);
    const shard = shards[i];
    const where = path.join(dir, shard.file);
    let bytes: Uint8Array;
    try {
      bytes = await next!;
    } catch (err) {
      throw new PipelineError('ERR_SHARD', `cannot read shard listed in manifest: ${(err as Error).message}`, { file: where });
    }
    next = i + 1 < shards.length ? load(i + 1) : undefined;
    next?.catch(() => {}); // surfaced when awaited
    if (verify) verifyShard(bytes, shard, dir);
    const batches = decodeShard(bytes, manifest.format, where);
    const rows = batches.reduce((s, b) => s + b.rows, 0);
    if (rows !== shard.rows) {
      throw new PipelineError('ERR_SHARD', `shard holds ${rows} rows but the manifest says ${shard.rows}`, { file: where });
    }
    for (const b of batches) {
      checkAbort(signal);
      if (b.label === null && manifest.labeled) throw new PipelineError('ERR_SHARD', 'shard has no label column but the manifest says labeled', { file: where });
      yield b;
    }
  }
}

/** The shard's bytes against its manifest entry: a damaged file is named, never decoded into wrong rows. */
export function verifyShard(bytes: Uint8Array, shard: ShardEntry, dir: string): void {
  const where = { file: path.join(dir, shard.file), shard: shard.file };
  if (bytes.byteLength !== shard.bytes) {
    throw new PipelineError('ERR_CHECKSUM', `damaged shard: ${bytes.byteLength} bytes, the manifest says ${shard.bytes} (--no-verify reads it anyway)`, where);
  }
  if (shard.crc32 !== undefined) {
    const got = checksumHex(crc32(bytes));
    if (got !== shard.crc32) throw new PipelineError('ERR_CHECKSUM', `damaged shard: ${CHECKSUM_NAME} ${got}, the manifest says ${shard.crc32} (--no-verify reads it anyway)`, where);
  }
}

async function* readShardFile(file: string, format: 'parquet' | 'arrow', signal?: AbortSignal): AsyncGenerator<FeatureBatch> {
  const bytes = await fsp.readFile(file);
  for (const b of decodeShard(bytes, format, file)) {
    checkAbort(signal);
    yield b;
  }
}

