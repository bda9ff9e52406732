/**
 * `pipeline preprocess`: argv -> preprocess() (pipeline/preprocess.ts).
 */
import { progressSetting } from '../../core/progress.js';
import { roundSignificant } from '../../core/round.js';
import { parseCommandArgs, type OptionTable } from '../options.js';
import { invalidOption } from '../../core/errors.js';
import { NUM_CAT } from '../../core/schema.js';
import { preprocess, PREPROCESS_DEFAULTS as D, type PreprocessSummary } from '../../pipeline/preprocess.js';
import { dayOrderWarning, expandInputs } from '../../input/expand.js';

export const summary = 'Criteo TSV -> featurized Parquet/Arrow shards (resumable) or an Arrow IPC stream on stdout';

const USAGE = 'pipeline preprocess [--input] FILE|GLOB|- ... (--out DIR | --to -) [options]';
const OPTIONS = {
  input: {
    type: 'path',
    short: 'i',
    multiple: true,
    arg: 'FILE...',
    help: "input TSV (.gz ok), read in the order given; several files may follow one --input, or be given without it; a quoted glob ('day_*.gz') is expanded in natural order (day_2 before day_10); '-' for stdin",
  },
  out: { type: 'path', short: 'o', arg: 'DIR', help: 'output directory for shards and _manifest.json' },
  to: { type: 'enum', choices: ['-'] as const, arg: '-', help: "'-': write an Arrow IPC stream to stdout instead of shards" },
  format: { type: 'enum', choices: ['parquet', 'arrow'] as const, default: D.format, help: 'shard format' },
  'shard-rows': { type: 'int', min: 1, arg: 'N', default: D.shardRows, help: 'rows per shard (the last one may be shorter)' },
  buckets: { type: 'int-list', min: 2, max: 2 ** 32, lengths: [1, NUM_CAT], arg: 'N|LIST', help: `ids per categorical feature (DLRM's max-ind-range): one N or ${NUM_CAT} comma-separated` },
  seed: { type: 'int', min: 0, max: 0xffffffff, arg: 'S', default: D.seed, help: 'salt of the categorical hash' },
  label: { type: 'boolean', default: D.labeled, help: 'rows start with a label; --no-label for unlabeled 39-field rows (Kaggle test.txt)' },
  'on-bad-row': { type: 'enum', choices: ['fail', 'skip'] as const, default: D.onBadRow, help: 'stop at the first bad row (committing nothing), or skip and count bad rows' },
  rejects: { type: 'path', arg: 'FILE', help: 'with --on-bad-row skip: write rejected lines with reasons here' },
  overwrite: { type: 'boolean', help: 'replace an existing output made with another config (default: resume a same-config output)' },
  concurrency: { type: 'int', min: 0, arg: 'N', help: 'shard encoder worker threads, and as many parse workers for arrow and --to - (default: CPU count); 1: parse on the main thread' },
  progress: { type: 'boolean', help: 'progress lines on stderr (rows, %, ETA) every 2 s on a terminal, 10 s otherwise; default: on when stderr is a terminal; --no-progress: off' },
  quiet: { type: 'boolean', short: 'q', help: 'no log or progress lines on stderr' },
} satisfies OptionTable;

export async function run(argv: string[]): Promise<number> {
  const v = parseCommandArgs(
    argv,
    USAGE,
    'Parses and featurizes Criteo TSV into shards with a manifest (resumable: rerun the same command after a crash), or streams Arrow IPC to stdout.\nThe manifest records the input files in order and, per shard, which lines of which file its rows came from.',
    OPTIONS,
    { positionals: 'input' },
  );
  if (!v) return 0;
  const inputs = expandInputs(v.input ?? []);
  if (inputs.length === 0) throw invalidOption('input', "needs at least one FILE or '-'", inputs);
  const { out, to } = v;
  if ((out === undefined) === (to === undefined)) throw invalidOption('out', 'give exactly one of --out DIR or --to -', { out, to });
  const log = v.quiet ? undefined : (line: string) => process.stderr.write(line + '\n');
  const order = dayOrderWarning(inputs);
  if (order) process.stderr.write(`preprocess: warning: ${order}\n`);
  let summaryOut: PreprocessSummary;
  try {
    summaryOut = await preprocess({
      inputs,
      out: to ?? out!,
      format: v.format,
      shardRows: v['shard-rows'],
      buckets: v.buckets && v.buckets.length === 1 ? v.buckets[0] : v.buckets,
      seed: v.seed,
      labeled: v.label,
      onBadRow: v['on-bad-row'],
      rejects: v.rejects,
      overwrite: v.overwrite,
      concurrency: v.concurrency,
      log,
      progress: (() => {
      const p = progressSetting(v.progress);
      return p.enabled && !v.quiet ? { write: (line: string) => process.stderr.write(line + '\n'), intervalMs: p.intervalMs } : undefined;
    })(),
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPIPE') return 0; // downstream closed: a normal end for a producer
    throw err;
  }
  const s = summaryOut;
  if (to === '-') {
    log?.(`preprocess: ${s.rows} rows streamed in ${s.seconds.toFixed(1)} s (${s.rowsPerSecond} rows/s)${s.rejected ? `, ${s.rejected} rejected` : ''}`);
  } else {
    process.stdout.write(JSON.stringify(roundSignificant(s)) + '\n');
  }
  return 0;
}
