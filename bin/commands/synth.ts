/**
 * `pipeline synth`: synthetic Criteo-like TSV (see input/synth.ts), optionally with
 * each row's true click probability in a side file.
 */
import { parseCommandArgs, type OptionSpec } from '../options.js';
import { invalidOption } from '../../core/errors.js';
import { writeSynth } from '../../input/synth.js';

export const summary = 'write synthetic Criteo-like TSV rows (deterministic by seed)';

const USAGE = 'pipeline synth --rows N [--seed S] [--out FILE|-] [--probs FILE]';
const DESCRIPTION = [
  'Writes N rows in the raw Kaggle Criteo format (label, 13 integers, 26 hex categoricals),',
  'the same bytes for the same --rows, --seed and --groups. Rows belong to hidden groups whose',
  'values co-occur and share a click propensity; --probs records each row\'s true click probability.',
].join('\n');

const OPTIONS: Record<string, OptionSpec> = {
  rows: { type: 'string', arg: 'N', help: 'number of rows (required)' },
  seed: { type: 'string', arg: 'S', default: '1', help: 'random seed (an integer)' },
  out: { type: 'string', arg: 'FILE|-', default: '-', help: 'where the TSV goes; - for stdout' },
  probs: { type: 'string', arg: 'FILE', help: 'also write one true click probability per line (same row order)' },
  groups: { type: 'string', arg: 'G', default: '256', help: 'number of hidden groups' },
};

/** Strict integer parsing: "12abc", "1e3" and "" are errors, not 12, 1000 and 0. */
function intOption(name: string, value: string | undefined, expected: string): number {
  if (value === undefined || !/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw invalidOption(name, expected, value ?? null);
  }
  return Number(value);
}

export async function run(argv: string[]): Promise<number | void> {
  const values = parseCommandArgs(argv, USAGE, DESCRIPTION, OPTIONS);
  if (values === null) return 0;
  const rows = intOption('rows', values.rows as string | undefined, 'must be a non-negative integer');
  const seed = intOption('seed', values.seed as string, 'must be an integer');
  const groups = intOption('groups', values.groups as string, 'must be an integer in 1..65535');
  const out = values.out as string;
  const probsOut = values.probs as string | undefined;
  const start = performance.now();
  await writeSynth({ rows, seed, groups, out, ...(probsOut !== undefined ? { probsOut } : {}) });
  const secs = (performance.now() - start) / 1000;
  process.stderr.write(`synth: ${rows} rows (seed ${seed}) in ${secs.toFixed(2)} s, ${Math.round(rows / Math.max(secs, 1e-9))} rows/s\n`);
}
