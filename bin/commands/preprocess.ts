/**
 * `pipeline preprocess`: argv -> preprocess() (pipeline/preprocess.ts).
 */
import { parseCommandArgs, type OptionSpec } from '../options.js';
import { invalidOption } from '../../core/errors.js';
import { NUM_CAT } from '../../core/schema.js';
import type { OnBadRow } from '../../stages/parse.js';
import type { ShardFormat } from '../../io/manifest.js';
import { preprocess, positiveInt, type PreprocessSummary } from '../../pipeline/preprocess.js';

export const summary = 'Criteo TSV -> featurized Parquet/Arrow shards (resumable) or an Arrow IPC stream on stdout';

const USAGE = 'pipeline preprocess --input FILE... | - (--out DIR | --to -) [options]';
const OPTIONS: Record<string, OptionSpec> = {
  input: { type: 'string', short: 'i', multiple: true, arg: 'FILE', help: "input TSV (.gz ok); repeat for several files in order; '-' for stdin" },
  out: { type: 'string', short: 'o', arg: 'DIR', help: 'output directory for shards and manifest.json' },
  to: { type: 'string', arg: '-', help: "'-': write an Arrow IPC stream to stdout instead of shards" },
  format: { type: 'string', arg: 'parquet|arrow', default: 'parquet', help: 'shard format' },
  'shard-rows': { type: 'string', arg: 'N', default: '131072', help: 'rows per shard (the last one may be shorter)' },
  buckets: { type: 'string', arg: 'N|LIST', help: `ids per categorical feature (DLRM's max-ind-range): one N or ${NUM_CAT} comma-separated` },
  seed: { type: 'string', arg: 'S', default: '0', help: 'salt of the categorical hash' },
  label: { type: 'boolean', default: true, help: 'rows start with a label; --no-label for unlabeled 39-field rows (Kaggle test.txt)' },
  'on-bad-row': { type: 'string', arg: 'fail|skip', default: 'fail', help: 'stop at the first bad row (committing nothing), or skip and count bad rows' },
  rejects: { type: 'string', arg: 'FILE', help: 'with --on-bad-row skip: write rejected lines with reasons here' },
  overwrite: { type: 'boolean', help: 'replace an existing output made with another config (default: resume a same-config output)' },
  concurrency: { type: 'string', arg: 'N', help: 'shard encoder worker threads, and as many parse workers for arrow and --to - (default: CPU count); 1: parse on the main thread' },
  quiet: { type: 'boolean', short: 'q', help: 'no progress lines on stderr' },
};

function parseBuckets(s: string): number | number[] {
  const parts = s.split(',').map((x) => x.trim());
  const nums = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  if (nums.some((n) => !Number.isSafeInteger(n) || n < 2)) throw invalidOption('buckets', `must be an integer >= 2 or a list of ${NUM_CAT} of them`, s);
  if (nums.length === 1) return nums[0];
  if (nums.length !== NUM_CAT) throw invalidOption('buckets', `must be one integer or a list of ${NUM_CAT}`, s);
  return nums;
}

export async function run(argv: string[]): Promise<number> {
  const v = parseCommandArgs(argv, USAGE, 'Parses and featurizes Criteo TSV into shards with a manifest (resumable: rerun the same command after a crash), or streams Arrow IPC to stdout.', OPTIONS);
  if (!v) return 0;
  const inputs = (v.input as string[] | undefined) ?? [];
  if (inputs.length === 0) throw invalidOption('input', "needs at least one FILE or '-'", inputs);
  const out = v.out as string | undefined;
  const to = v.to as string | undefined;
  if ((out === undefined) === (to === undefined)) throw invalidOption('out', 'give exactly one of --out DIR or --to -', { out, to });
  if (to !== undefined && to !== '-') throw invalidOption('to', "must be '-' (stdout)", to);
  const log = v.quiet ? undefined : (line: string) => process.stderr.write(line + '\n');
  let summaryOut: PreprocessSummary;
  try {
    summaryOut = await preprocess({
      inputs,
      out: to ?? out!,
      format: v.format as ShardFormat,
      shardRows: positiveInt('shard-rows', v['shard-rows']),
      buckets: v.buckets !== undefined ? parseBuckets(v.buckets as string) : undefined,
      seed: (() => {
        const s = v.seed as string;
        if (!/^\d+$/.test(s) || Number(s) > 0xffffffff) throw invalidOption('seed', 'must be an integer from 0 to 4294967295', s);
        return Number(s);
      })(),
      labeled: v.label as boolean,
      onBadRow: v['on-bad-row'] as OnBadRow,
      rejects: v.rejects as string | undefined,
      overwrite: Boolean(v.overwrite),
      concurrency: v.concurrency !== undefined ? Number(v.concurrency) : undefined,
      log,
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPIPE') return 0; // downstream closed: a normal end for a producer
    throw err;
  }
  const s = summaryOut;
  if (to === '-') {
    log?.(`preprocess: ${s.rows} rows streamed in ${s.seconds.toFixed(1)} s (${s.rowsPerSecond} rows/s)${s.rejected ? `, ${s.rejected} rejected` : ''}`);
  } else {
    process.stdout.write(JSON.stringify(s) + '\n');
  }
  return 0;
}
