/**
 * computeMapping(): featurized rows -> the SCMA mapping file (scma/reduce.ts
 * says how the sample and the codes are defined).
 *
 *   minhash --input shards/ --out mapping.arrow --dim 16          one pass
 *   minhash --input shards/ --part 0/4 --partial --out p0.arrow    a quarter of the shards
 *   minhash --merge p0.arrow p1.arrow p2.arrow p3.arrow --out mapping.arrow --dim 16
 *
 * A part is a contiguous range of the manifest's shards, read with its global row
 * indices, so the merged parts equal one pass byte for byte. For stdin, --first-row
 * gives the stream's global index instead.
 */
import path from 'node:path';
import { Progress } from '../core/progress.js';
import { stat } from 'node:fs/promises';
import { acquireLock, fileLockFile } from '../io/lock.js';
import { onInterrupt } from '../core/interrupt.js';
import { removeTempFilesOfSync } from '../io/atomic-file.js';
import { invalidOption, PipelineError } from '../core/errors.js';
import type { FeatureBatch } from '../core/schema.js';
import { readFeatureBatches, readManifest, readManifestShards } from '../io/read-shards.js';
import { formatOfFile } from '../io/shard-format.js';
import { loadPartial, writeMapping, writePartial } from '../scma/mapping-file.js';
import { DEFAULT_DIM, DEFAULT_NUM_HASH, DEFAULT_SAMPLE, DEFAULT_SEED, MinHashReducer, sampleRows } from '../scma/reduce.js';

export interface MinHashOptions {
  /** A preprocess output dir, one shard, or '-' (Arrow IPC stream on stdin); or give `merge`. */
  input?: string;
  /** Partial files (written with `partial: true`) to merge instead of reading input. */
  merge?: string[];
  /** The mapping (or partial) file to write. */
  out: string;
  dim?: number;
  numHash?: number;
  sample?: number;
  seed?: number;
  /** Check shard checksums while reading (default true). */
  verify?: boolean;
  /** Write this part's sample as a partial file instead of a mapping. */
  partial?: boolean;
  /** 'i/n': only the i-th of n contiguous shard ranges. */
  part?: string;
  /** Global row index of the input's first row (a part fed on stdin). */
  firstRow?: number;
  log?: (line: string) => void;
  /** Progress lines by time (rows read, % and ETA when the rows are known); default none. */
  progress?: { write: (line: string) => void; intervalMs?: number };
}

/** Re-labels a missing cN column (the converter's ERR_SCHEMA) as the error users need to see. */
function categoricalError(err: unknown): unknown {
  const e = err as PipelineError;
  if (e instanceof PipelineError && e.code === 'ERR_SCHEMA' && typeof e.context.field === 'string' && /^c\d+$/.test(e.context.field)) {
    return new PipelineError('ERR_NO_CATEGORICAL', `input has no categorical column ${e.context.field}: the MinHash mapping needs c1..c26`, { file: e.context.file });
  }
  return err;
}

interface Source {
  batches: AsyncIterable<FeatureBatch>;
  firstRow: number;
  totalRows?: number;
}

async function openSource(input: string, part: string | undefined, firstRow: number, verify: boolean): Promise<Source> {
  if (part === undefined) {
    let totalRows: number | undefined;
    if (input !== '-' && formatOfFile(input) === null) totalRows = (await readManifest(input).catch(() => undefined))?.rows;
    return { batches: readFeatureBatches(input, { verify }), firstRow, totalRows };
  }
  const m = /^(\d+)\/(\d+)$/.exec(part);
  const i = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (!m || n < 1 || i >= n) throw invalidOption('part', 'must be i/n with 0 <= i < n', part);
  if (input === '-') throw invalidOption('part', 'needs a shard directory (for stdin give --first-row instead)', part);
  const manifest = await readManifest(input);
  if (!manifest.complete) throw new PipelineError('ERR_INCOMPLETE', 'preprocess output is incomplete; finish it before computing parts', { file: input });
  const s = manifest.shards.length;
  const shards = manifest.shards.slice(Math.floor((i * s) / n), Math.floor(((i + 1) * s) / n));
  return { batches: readManifestShards(input, manifest, shards, { verify }), firstRow: shards.length ? shards[0].firstRow : 0, totalRows: shards.reduce((t, sh) => t + sh.rows, 0) };
}

/** The library form of `pipeline minhash`: resolves to the command's summary object. */
export async function computeMapping(opts: MinHashOptions): Promise<Record<string, unknown>> {
  const { input, merge = [], out, dim = DEFAULT_DIM, numHash = DEFAULT_NUM_HASH, sample = DEFAULT_SAMPLE, seed = DEFAULT_SEED, firstRow: firstRowOpt = 0 } = opts;
  const log = opts.log ?? (() => {});
  const args = { partial: opts.partial, part: opts.part };
  if (!input === (merge.length === 0)) throw invalidOption('input', 'give exactly one of --input and --merge', input ?? null);
  await assertOutputFile(out);
  // One writer per mapping file: a second minhash into the same --out is refused (io/lock.ts).
  const lock = acquireLock(fileLockFile(out), `minhash --out ${out}`, out);
  // Interrupted (bin/cli.ts): nothing is committed before the final rename; drop the temp file and the lock.
  const unregister = onInterrupt({
    status: () => `nothing written to ${out}`,
    cleanup: () => {
      removeTempFilesOfSync(out);
      lock.release();
    },
  });
  try {
    return await compute(opts, log, args);
  } catch (err) {
    removeTempFilesOfSync(out); // a failed write leaves no temp file either
    throw err;
  } finally {
    unregister();
    lock.release();
  }
}

/** --out must be a file path: a directory there is an error before any work. */
async function assertOutputFile(out: string): Promise<void> {
  try {
    if ((await stat(out)).isDirectory()) throw new PipelineError('ERR_OUTPUT', 'is a directory; --out takes the mapping file to write', { file: out });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

async function compute(opts: MinHashOptions, log: (line: string) => void, args: { partial?: boolean; part?: string }): Promise<Record<string, unknown>> {
  const { input, merge = [], out, dim = DEFAULT_DIM, numHash = DEFAULT_NUM_HASH, sample = DEFAULT_SAMPLE, seed = DEFAULT_SEED, firstRow: firstRowOpt = 0 } = opts;
  const started = performance.now();
  let reducer: MinHashReducer;
  if (merge.length) {
    reducer = await loadPartial(merge[0]);
    for (const file of merge.slice(1)) reducer.merge(await loadPartial(file), file);
    log(`merged ${merge.length} partials: ${reducer.inputRows} input rows, ${reducer.sampledRows} sampled`);
  } else {
    const src = await openSource(input!, args.part, firstRowOpt, opts.verify ?? true);
    const progress = opts.progress ? new Progress({ label: 'minhash', ...opts.progress }) : undefined;
    try {
      reducer = await sampleRows(src.batches, {
        sample,
        seed,
        firstRowIndex: src.firstRow,
        totalRows: src.totalRows,
        onProgress: (rows, total) => void progress?.tick(rows, { total }),
      });
    } catch (err) {
      throw categoricalError(err);
    }
    log(`sampled ${reducer.sampledRows} of ${reducer.inputRows} rows`);
  }

  let result: Record<string, unknown>;
  if (args.partial) {
    const bytes = await writePartial(out, reducer);
    result = { out, kind: 'partial', sample: reducer.sample, seed: reducer.seed, sampledRows: reducer.sampledRows, inputRows: reducer.inputRows, bytes };
  } else {
    const mapping = reducer.toMapping({ dim, numHash });
    const bytes = await writeMapping(out, mapping);
    const m = mapping.meta;
    result = { out, kind: 'mapping', dim, numHash, sample: m.sample, seed: m.seed, values: m.values, sampledRows: m.sampledRows, inputRows: m.inputRows, bytes };
  }
  result.seconds = Number(((performance.now() - started) / 1000).toFixed(3));
  return result;
}
