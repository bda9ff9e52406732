/**
 * `pipeline minhash`: argv -> computeMapping() (pipeline/minhash.ts).
 *
 *   minhash --input shards/ --out mapping.arrow --dim 16          one pass
 *   minhash --input shards/ --part 0/4 --partial --out p0.arrow    a quarter of the shards
 *   minhash --merge p0.arrow p1.arrow p2.arrow p3.arrow --out mapping.arrow --dim 16
 */
import { progressSetting } from '../../core/progress.js';
import { roundSignificant } from '../../core/round.js';
import { parseCommandArgs, type OptionTable } from '../options.js';
import { DEFAULT_DIM, DEFAULT_NUM_HASH, DEFAULT_SAMPLE, DEFAULT_SEED } from '../../scma/reduce.js';
import { computeMapping } from '../../pipeline/minhash.js';

export const summary = 'streaming MinHash over shards or stdin -> the SCMA mapping file (or a partial to merge)';

const USAGE = 'pipeline minhash (--input DIR|FILE|- | --merge PARTIAL...) --out FILE [options]';
const DESCRIPTION =
  'Samples P rows (uniform, fixed by --seed), reduces each categorical value to K x d MinHash minima over\n' +
  'the sampled rows it occurs in, and writes d uint32 location codes per value (location = code mod M).\n' +
  'Values the sample never saw get plain-hash (HashNet) codes at training time.';
const OPTIONS = {
  input: { type: 'path', short: 'i', arg: 'DIR|FILE|-', help: 'a preprocess output dir, one .parquet/.arrow shard, or - (Arrow IPC stream on stdin)' },
  out: { type: 'path', short: 'o', arg: 'FILE', required: true, help: 'mapping file to write (Arrow IPC)' },
  dim: { type: 'int', min: 1, max: 65536, short: 'd', arg: 'd', default: DEFAULT_DIM, help: 'codes per value (the embedding dimension)' },
  'num-hash': { type: 'int', min: 1, max: 64, short: 'k', arg: 'K', default: DEFAULT_NUM_HASH, help: 'MinHash functions combined per dimension' },
  sample: { type: 'int', min: 1, max: 2 ** 28, short: 'p', arg: 'P', default: DEFAULT_SAMPLE, help: 'rows sampled' },
  seed: { type: 'int', min: 0, max: 0xffffffff, short: 's', arg: 'S', default: DEFAULT_SEED, help: 'seed of the sample and of every hash' },
  partial: { type: 'boolean', help: 'write the sample of this part as a partial file (for --merge) instead of a mapping' },
  part: { type: 'string', arg: 'i/n', help: 'with a shard directory: only the i-th of n contiguous shard ranges (0-based)' },
  'first-row': { type: 'int', min: 0, arg: 'N', default: 0, help: "global row index of the input's first row (for a part fed on stdin)" },
  merge: { type: 'path', multiple: true, arg: 'PARTIAL...', help: 'merge partial files (written with --partial) instead of reading input' },
  verify: { type: 'boolean', default: true, help: "check each shard's size and checksum against the manifest (--no-verify skips it)" },
  progress: { type: 'boolean', help: 'progress lines on stderr (rows, %, ETA) every 2 s on a terminal, 10 s otherwise; default: on when stderr is a terminal; --no-progress: off' },
  quiet: { type: 'boolean', short: 'q', help: 'no log or progress lines on stderr' },
} satisfies OptionTable;

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

export async function run(argv: string[]): Promise<number | void> {
  const args = parseCommandArgs(expandMerge(argv), USAGE, DESCRIPTION, OPTIONS);
  if (!args) return;
  const quiet = args.quiet;
  const result = await computeMapping({
    input: args.input,
    merge: args.merge ?? [],
    out: args.out,
    dim: args.dim,
    numHash: args['num-hash'],
    sample: args.sample,
    seed: args.seed,
    firstRow: args['first-row'],
    partial: args.partial,
    part: args.part,
    verify: args.verify,
    log: (line: string) => quiet || process.stderr.write(`minhash: ${line}\n`),
    progress: (() => {
      const p = progressSetting(args.progress);
      return p.enabled && !quiet ? { write: (line: string) => process.stderr.write(line + '\n'), intervalMs: p.intervalMs } : undefined;
    })(),
  });
  process.stdout.write(JSON.stringify(roundSignificant(result)) + '\n');
}
