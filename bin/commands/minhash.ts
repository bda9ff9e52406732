/**
 * `pipeline minhash`: featurized rows -> the SCMA mapping file (stages/minhash/reduce.ts
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
import { parseCommandArgs, type OptionSpec } from '../options.js';
import { invalidOption, PipelineError } from '../../core/errors.js';
import type { FeatureBatch } from '../../core/schema.js';
import { readFeatureBatches, readManifest } from '../../io/read-shards.js';
import { loadPartial, writeMapping, writePartial } from '../../scma/mapping-file.js';
import { DEFAULT_DIM, DEFAULT_NUM_HASH, DEFAULT_SAMPLE, DEFAULT_SEED, MinHashReducer } from '../../scma/reduce.js';

export const summary = 'streaming MinHash over shards or stdin -> the SCMA mapping file (or a partial to merge)';

const USAGE = 'pipeline minhash (--input DIR|FILE|- | --merge PARTIAL...) --out FILE [options]';
const DESCRIPTION =
  'Samples P rows (uniform, fixed by --seed), reduces each categorical value to K x d MinHash minima over\n' +
  'the sampled rows it occurs in, and writes d uint32 location codes per value (location = code mod M).\n' +
  'Values the sample never saw get plain-hash (HashNet) codes at training time.';
const OPTIONS: Record<string, OptionSpec> = {
  input: { type: 'string', short: 'i', arg: 'DIR|FILE|-', help: 'a preprocess output dir, one .parquet/.arrow shard, or - (Arrow IPC stream on stdin)' },
  out: { type: 'string', short: 'o', arg: 'FILE', help: 'mapping file to write (Arrow IPC)' },
  dim: { type: 'string', short: 'd', arg: 'd', default: String(DEFAULT_DIM), help: 'codes per value (the embedding dimension)' },
  'num-hash': { type: 'string', short: 'k', arg: 'K', default: String(DEFAULT_NUM_HASH), help: 'MinHash functions combined per dimension' },
  sample: { type: 'string', short: 'p', arg: 'P', default: String(DEFAULT_SAMPLE), help: 'rows sampled' },
  seed: { type: 'string', short: 's', arg: 'S', default: String(DEFAULT_SEED), help: 'seed of the sample and of every hash' },
  partial: { type: 'boolean', help: 'write the sample of this part as a partial file (for --merge) instead of a mapping' },
  part: { type: 'string', arg: 'i/n', help: 'with a shard directory: only the i-th of n contiguous shard ranges (0-based)' },
  'first-row': { type: 'string', arg: 'N', default: '0', help: 'global row index of the input\'s first row (for a part fed on stdin)' },
  merge: { type: 'string', multiple: true, arg: 'PARTIAL...', help: 'merge partial files (written with --partial) instead of reading input' },
  quiet: { type: 'boolean', short: 'q', help: 'no progress lines on stderr' },
};

function intOption(name: string, raw: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw invalidOption(name, `must be an integer in ${min}..${max}`, raw);
  return n;
}

/** `--merge a b c` -> `--merge a --merge b --merge c`, so parseArgs takes the list. */
function expandMerge(argv: string[]): string[] {
  const out: string[] = [];
  let inMerge = false;
  for (const a of argv) {
    if (a === '--merge') {
      inMerge = true;
      continue;
    }
    if (inMerge && !a.startsWith('-')) {
      out.push('--merge', a);
      continue;
    }
    inMerge = false;
    out.push(a);
  }
  return out;
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

async function openSource(input: string, part: string | undefined, firstRow: number): Promise<Source> {
  if (part === undefined) {
    let totalRows: number | undefined;
    if (input !== '-' && !/\.(parquet|arrow|arrows|ipc|feather)$/i.test(input)) totalRows = (await readManifest(input).catch(() => undefined))?.rows;
    return { batches: readFeatureBatches(input), firstRow, totalRows };
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
  async function* batches(): AsyncGenerator<FeatureBatch> {
    for (const shard of shards) yield* readFeatureBatches(path.join(input, shard.file));
  }
  return { batches: batches(), firstRow: shards.length ? shards[0].firstRow : 0, totalRows: shards.reduce((t, sh) => t + sh.rows, 0) };
}

export async function run(argv: string[]): Promise<number | void> {
  const args = parseCommandArgs(expandMerge(argv), USAGE, DESCRIPTION, OPTIONS);
  if (!args) return;
  const started = performance.now();
  const out = args.out as string | undefined;
  if (!out) throw invalidOption('out', 'is required', out);
  const merge = (args.merge as string[] | undefined) ?? [];
  const input = args.input as string | undefined;
  if (!input === (merge.length === 0)) throw invalidOption('input', 'give exactly one of --input and --merge', input ?? null);
  const dim = intOption('dim', args.dim, 1, 65536);
  const numHash = intOption('num-hash', args['num-hash'], 1, 64);
  const sample = intOption('sample', args.sample, 1, 2 ** 28);
  const seed = intOption('seed', args.seed, 0, 0xffffffff);
  const firstRowOpt = intOption('first-row', args['first-row'], 0);
  const quiet = Boolean(args.quiet);
  const log = (line: string) => quiet || process.stderr.write(`minhash: ${line}\n`);

  let reducer: MinHashReducer;
  if (merge.length) {
    reducer = await loadPartial(merge[0]);
    for (const file of merge.slice(1)) reducer.merge(await loadPartial(file), file);
    log(`merged ${merge.length} partials: ${reducer.inputRows} input rows, ${reducer.sampledRows} sampled`);
  } else {
    const src = await openSource(input!, args.part as string | undefined, firstRowOpt);
    reducer = new MinHashReducer({ sample, seed });
    reducer.nextRow = src.firstRow;
    let lastLog = performance.now();
    try {
      for await (const batch of src.batches) {
        reducer.add(batch);
        const now = performance.now();
        if (now - lastLog > 2000) {
          lastLog = now;
          const pct = src.totalRows ? ` (${((100 * reducer.inputRows) / src.totalRows).toFixed(1)}%)` : '';
          log(`${reducer.inputRows.toLocaleString('en-US')} rows read${pct}, ${((now - started) / 1000).toFixed(1)} s`);
        }
      }
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
  process.stdout.write(JSON.stringify(result) + '\n');
}
