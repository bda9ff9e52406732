/**
 * `pipeline stats`: argv -> computeStats() (pipeline/stats.ts), one JSON line on stdout.
 */
import { progressSetting } from '../../core/progress.js';
import { parseCommandArgs, type OptionTable } from '../options.js';
import { computeStats, STATS_DEFAULTS as D } from '../../pipeline/stats.js';

export const summary = 'prints one JSON object of row, label and per-feature statistics of shards or a raw TSV';

const OPTIONS = {
  input: { type: 'path', short: 'i', arg: 'DIR|FILE|-', required: true, help: 'a preprocess output dir, a .parquet/.arrow shard, a raw TSV (.gz ok), or - (Arrow stream on stdin)' },
  label: { type: 'boolean', default: D.labeled, help: 'raw TSV rows start with a label (--no-label for 39-field rows)' },
  'on-bad-row': { type: 'enum', choices: ['fail', 'skip'] as const, default: D.onBadRow, help: 'raw TSV: stop at, or skip and count, bad rows' },
  'exact-limit': { type: 'int', min: 1, arg: 'N', default: D.exactLimit, help: 'distinct ids counted exactly per feature before switching to an estimate' },
  verify: { type: 'boolean', default: true, help: "check each shard's size and checksum against the manifest (--no-verify skips it)" },
  progress: { type: 'boolean', help: 'progress lines on stderr (rows, %, ETA) every 2 s on a terminal, 10 s otherwise; default: on when stderr is a terminal; --no-progress: off' },
} satisfies OptionTable;

export async function run(argv: string[]): Promise<number> {
  const v = parseCommandArgs(argv, 'pipeline stats --input DIR|FILE|-', 'Prints one JSON object: rows, positives, per-feature distinct categorical ids, empty counts and dense means.', OPTIONS);
  if (!v) return 0;
  const p = progressSetting(v.progress);
  const progress = p.enabled ? { write: (line: string) => process.stderr.write(line + '\n'), intervalMs: p.intervalMs } : undefined;
  const stats = await computeStats(v.input, { labeled: v.label, onBadRow: v['on-bad-row'], exactLimit: v['exact-limit'], progress, verify: v.verify });
  process.stdout.write(JSON.stringify({ input: v.input, ...stats }) + '\n');
  return 0;
}
