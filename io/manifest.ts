/**
 * DIR/_manifest.json: the list of committed shards of a preprocess output, the
 * config that produced them and where each shard's rows came from. It is the
 * commit record: a shard file exists for readers only once the manifest names it,
 * and the manifest is replaced atomically (temp file, fsync, rename, fsync dir),
 * so a crash at any moment leaves either the old or the new manifest, never a torn one.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../core/errors.js';
import type { FileFingerprint } from './fingerprint.js';

/**
 * Leading '_': pyarrow, Spark, Polars and DuckDB's directory readers skip names
 * starting with '_' or '.', so `pq.read_table('shards/')` sees only the shards.
 */
export const MANIFEST_FILE = '_manifest.json';
/** The name before 0.2: still read (a run started by an older version resumes), replaced on the next write. */
export const LEGACY_MANIFEST_FILE = 'manifest.json';
export const MANIFEST_VERSION = 1;

export type ShardFormat = 'parquet' | 'arrow';

/** Lines of one input file that produced (part of) a shard; 1-based, inclusive. */
export interface ShardSource {
  file: string;
  firstLine: number;
  lastLine: number;
  /** Rows from these lines (fewer than the lines when bad rows were skipped); absent in manifests before 0.2. */
  rows?: number;
}

export interface ShardEntry {
  file: string;
  rows: number;
  /** Index of the shard's first row among the valid rows of the whole input. */
  firstRow: number;
  bytes: number;
  /** CRC-32 of the file's bytes, 8 hex digits (core/checksum.ts); absent in outputs of older builds. */
  crc32?: string;
  /** Input lines this shard's rows came from (several entries when it spans files). */
  source: ShardSource[];
}

/** What must match for a rerun to resume an existing output rather than clash with it. */
export interface ManifestConfig {
  /** Absolute paths, or '-' for stdin. */
  inputs: string[];
  /** Size of each input file at the start of the run (null for stdin). */
  inputBytes: (number | null)[];
  /** Size, mtime and CRC-32 of the first and last MiB of each input (null for stdin): a resume refuses a changed input. */
  inputFingerprints?: (FileFingerprint | null)[];
  format: ShardFormat;
  shardRows: number;
  buckets: number | number[] | null;
  labeled: boolean;
  onBadRow: 'fail' | 'skip';
  seed: number;
  version: number;
}

export interface Manifest {
  version: number;
  format: ShardFormat;
  /** Rows in committed shards. */
  rows: number;
  labeled: boolean;
  /** True only once a run has read its whole input; false while a run is (or was killed) in progress. */
  complete: boolean;
  config: ManifestConfig;
  shards: ShardEntry[];
  /** Counts of rejected rows by reason (skip mode), recorded when the run completes. */
  rejected?: Record<string, number>;
  /** Rows accepted with trailing empty fields left out, recorded when the run completes. */
  trimmedRows?: number;
  /**
   * Shard files being renamed into place or rolled back, not (or no longer) listed:
   * recorded first, so that a run killed in between leaves files the next run knows
   * it may delete. Anything else of a shard's name and unlisted is not ours.
   */
  pending?: string[];
}

export function emptyManifest(config: ManifestConfig): Manifest {
  return { version: MANIFEST_VERSION, format: config.format, rows: 0, labeled: config.labeled, complete: false, config, shards: [] };
}

export { writeFileAtomic, syncDir } from './atomic-file.js';
import { writeFileAtomic } from './atomic-file.js';

export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  await writeFileAtomic(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  // Once the new name is durable the old one is only in the way of directory readers.
  await fsp.rm(path.join(dir, LEGACY_MANIFEST_FILE), { force: true });
}

/** Reads and checks DIR/_manifest.json (or the legacy DIR/manifest.json); null when there is neither (a fresh output). */
export async function tryReadManifest(dir: string): Promise<Manifest | null> {
  let file = path.join(dir, MANIFEST_FILE);
  let text: string | null = null;
  for (const name of [MANIFEST_FILE, LEGACY_MANIFEST_FILE]) {
    file = path.join(dir, name);
    try {
      text = await fsp.readFile(file, 'utf8');
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  if (text === null) return null;
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch (err) {
    throw new PipelineError('ERR_MANIFEST', `not valid JSON: ${(err as Error).message}`, { file });
  }
  if (!m || typeof m !== 'object' || !Array.isArray(m.shards) || (m.format !== 'parquet' && m.format !== 'arrow')) {
    throw new PipelineError('ERR_MANIFEST', 'not a preprocess manifest (needs format and shards)', { file });
  }
  if (m.version !== MANIFEST_VERSION) {
    throw new PipelineError('ERR_MANIFEST', `manifest version ${m.version} is not supported (expected ${MANIFEST_VERSION})`, { file });
  }
  for (const [i, s] of m.shards.entries()) {
    if (typeof s.file !== 'string' || s.file.includes('/') || s.file.includes('\\') || !Number.isInteger(s.rows) || s.rows < 0) {
      throw new PipelineError('ERR_MANIFEST', `shard entry ${i} is malformed`, { file, shard: String(s?.file) });
    }
  }
  checkManifestConsistency(m, file);
  return m;
}

/**
 * The manifest against itself: readers derive splits and row indices from it, so an
 * edited total or a shard listed twice would silently change what is trained on.
 * Total = sum of shard rows, firstRow contiguous from 0, no file twice, sizes and
 * checksums well-formed, and shard k named part-k (the cutter's rule).
 */
export function checkManifestConsistency(m: Manifest, file: string): void {
  const bad = (msg: string, shard?: string) => new PipelineError('ERR_MANIFEST', `inconsistent manifest: ${msg}`, { file, ...(shard ? { shard } : {}) });
  const seen = new Set<string>();
  let next = 0;
  for (const [i, s] of m.shards.entries()) {
    if (seen.has(s.file)) throw bad('listed twice', s.file);
    seen.add(s.file);
    if (s.firstRow !== next) throw bad(`firstRow is ${s.firstRow}, the shards before it end at row ${next}`, s.file);
    if (!Number.isSafeInteger(s.bytes) || s.bytes < 0) throw bad(`bytes is ${JSON.stringify(s.bytes)}`, s.file);
    if (s.crc32 !== undefined && !/^[0-9a-f]{8}$/.test(s.crc32)) throw bad(`crc32 is ${JSON.stringify(s.crc32)}`, s.file);
    if (s.file !== shardFileName(i, m.format)) throw bad(`entry ${i} should be ${shardFileName(i, m.format)}`, s.file);
    next += s.rows;
  }
  if (m.rows !== next) throw bad(`rows is ${m.rows} but the shards hold ${next}`);
}

/** The agreed reader entry point: the manifest of a preprocess output directory. */
export async function readManifest(dir: string): Promise<Manifest> {
  const m = await tryReadManifest(dir);
  if (!m) throw new PipelineError('ERR_MANIFEST', `no ${MANIFEST_FILE}: not a preprocess output directory`, { file: dir });
  return m;
}

/** Shard file name for shard k: zero-padded so that lexical order is shard order. */
export function shardFileName(k: number, format: ShardFormat): string {
  return `part-${String(k).padStart(5, '0')}.${format === 'parquet' ? 'parquet' : 'arrow'}`;
}

/** The config fields that differ between two configs (empty when a rerun may resume). */
export function configDifferences(a: ManifestConfig, b: ManifestConfig): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof ManifestConfig>;
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/**
 * Rows that came from each input file, in config.inputs order (Terabyte's split
 * needs the last day's). Sources name files as they were given and config.inputs
 * holds them resolved, so a source matches the next input that is it or ends
 * with it. Manifests without per-source row counts fall back to line counts,
 * which are exact when no row was rejected; null when the counts cannot be known.
 */
export function rowsPerInput(m: Manifest): number[] | null {
  const inputs = m.config.inputs;
  const rows = new Array<number>(inputs.length).fill(0);
  const matches = (input: string, given: string) => input === given || input.endsWith(path.sep + path.normalize(given)) || (given === '<stdin>' && input === '-');
  let i = 0;
  for (const shard of m.shards) {
    for (const s of shard.source ?? []) {
      while (i < inputs.length && !matches(inputs[i], s.file)) i++;
      if (i === inputs.length) return null;
      rows[i] += s.rows ?? s.lastLine - s.firstLine + 1;
    }
  }
  return rows.reduce((a, b) => a + b, 0) === m.rows ? rows : null;
}
