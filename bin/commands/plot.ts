/**
 * `pipeline plot`: argv -> plot() (pipeline/plot.ts); the SVG goes to --out or stdout.
 */
import { writeFileSync } from 'node:fs';
import { parseCommandArgs, type OptionTable } from '../options.js';
import { plot } from '../../pipeline/plot.js';

export const summary = 'train --metrics files -> a standalone SVG of train loss and validation/test AUC against step, one line per run';

const USAGE = 'pipeline plot --metrics FILE [--metrics FILE ...] [--label NAME ...] [--out FILE.svg]';
const DESCRIPTION = [
  'Draws train loss (left) and validation (dashed) / test (solid) AUC (right) against step from the JSON',
  'lines that train --metrics writes. Several files draw several runs side by side, e.g. SCMA against',
  'HashNet. The SVG has no scripts or external files: a browser opens it from disk.',
].join('\n');

const OPTIONS = {
  metrics: { type: 'path', short: 'm', multiple: true, arg: 'FILE...', help: 'a train --metrics file, one per run; several may follow one --metrics, or be given without it' },
  label: { type: 'string', short: 'l', multiple: true, arg: 'NAME', help: "legend name of each run, in the order of the files (default: the file's directory, e.g. run-scma for run-scma/metrics.jsonl)" },
  out: { type: 'path', short: 'o', arg: 'FILE|-', default: '-', help: 'where the SVG goes; - for stdout' },
  title: { type: 'string', arg: 'TEXT', default: 'Training curves', help: 'title above the two panels' },
} satisfies OptionTable;

export async function run(argv: string[]): Promise<number> {
  const v = parseCommandArgs(argv, USAGE, DESCRIPTION, OPTIONS, { positionals: 'metrics' });
  if (!v) return 0;
  const { svg, runs } = await plot({ metrics: v.metrics ?? [], labels: v.label, title: v.title });
  const out = v.out;
  if (out === '-') process.stdout.write(svg);
  else writeFileSync(out, svg);
  process.stderr.write(`plot: ${runs.length} run${runs.length === 1 ? '' : 's'} (${runs.map((r) => r.name).join(', ')})${out === '-' ? '' : ` -> ${out}`}\n`);
  return 0;
}
