/**
 * `pipeline synth`: synthetic Criteo-like TSV (see input/synth.ts), optionally with
 * each row's true click probability in a side file.
 */
import { parseCommandArgs, type OptionTable } from '../options.js';
import { writeSynth } from '../../input/synth.js';

export const summary = 'write synthetic Criteo-like TSV rows (deterministic by seed)';

const USAGE = 'pipeline synth --rows N [--seed S] [--out FILE|-] [--probs FILE]';
const DESCRIPTION = [
  'Writes N rows in the raw Kaggle Criteo format (label, 13 integers, 26 hex categoricals),',
  'the same bytes for the same --rows, --seed and --groups. Rows belong to hidden groups whose',
  'values co-occur and share a click propensity; --probs records each row\'s true click probability.',
].join('\n');

// seed and groups: the generator's own defaults are not exported (input/synth.ts), so the CLI states them.
const OPTIONS = {
  rows: { type: 'int', min: 0, arg: 'N', required: true, help: 'number of rows' },
  seed: { type: 'int', arg: 'S', default: 1, help: 'random seed' },
  out: { type: 'path', arg: 'FILE|-', default: '-', help: 'where the TSV goes; - for stdout' },
  probs: { type: 'path', arg: 'FILE', help: 'also write one true click probability per line (same row order)' },
  groups: { type: 'int', min: 1, max: 65535, arg: 'G', default: 256, help: 'number of hidden groups' },
} satisfies OptionTable;

export async function run(argv: string[]): Promise<number | void> {
  const values = parseCommandArgs(argv, USAGE, DESCRIPTION, OPTIONS);
  if (values === null) return 0;
  const { rows, seed, groups, out, probs: probsOut } = values;
  const start = performance.now();
  await writeSynth({ rows, seed, groups, out, ...(probsOut !== undefined ? { probsOut } : {}) });
  const secs = (performance.now() - start) / 1000;
  process.stderr.write(`synth: ${rows} rows (seed ${seed}) in ${secs.toFixed(2)} s, ${Math.round(rows / Math.max(secs, 1e-9))} rows/s\n`);
}
