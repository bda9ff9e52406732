/**
 * `pipeline stats`: argv -> computeStats() (pipeline/stats.ts), one JSON line on stdout.
 */
import { parseCommandArgs, type OptionSpec } from '../options.js';
import { invalidOption } from '../../core/errors.js';
import type { OnBadRow } from '../../stages/parse.js';
import { computeStats } from '../../pipeline/stats.js';

export const summary = 'prints one JSON object of row, label and per-feature statistics of shards or a raw TSV';

const OPTIONS: Record<string, OptionSpec> = {
  input: { type: 'string', short: 'i', arg: 'DIR|FILE|-', help: 'a preprocess output dir, a .parquet/.arrow shard, a raw TSV (.gz ok), or - (Arrow stream on stdin)' },
  label: { type: 'boolean', default: true, help: 'raw TSV rows start with a label (--no-label for 39-field rows)' },
  'on-bad-row': { type: 'string', arg: 'fail|skip', default: 'fail', help: 'raw TSV: stop at, or skip and count, bad rows' },
  'exact-limit': { type: 'string', arg: 'N', default: '1000000', help: 'distinct ids counted exactly per feature before switching to an estimate' },
};

export async function run(argv: string[]): Promise<number> {
  const v = parseCommandArgs(argv, 'pipeline stats --input DIR|FILE|-', 'Prints one JSON object: rows, positives, per-feature distinct categorical ids, empty counts and dense means.', OPTIONS);
  if (!v) return 0;
  const input = v.input as string | undefined;
  if (!input) throw invalidOption('input', 'is required', input);
  const limit = Number(v['exact-limit']);
  if (!Number.isSafeInteger(limit) || limit < 1) throw invalidOption('exact-limit', 'must be a positive integer', v['exact-limit']);
  const onBadRow = v['on-bad-row'] as OnBadRow;
  if (onBadRow !== 'fail' && onBadRow !== 'skip') throw invalidOption('on-bad-row', "must be 'fail' or 'skip'", onBadRow);
  const stats = await computeStats(input, { labeled: v.label as boolean, onBadRow, exactLimit: limit });
  process.stdout.write(JSON.stringify({ input, ...stats }) + '\n');
  return 0;
}
