/**
 * `pipeline synth`: synthetic Criteo-like TSV (see input/synth.ts), optionally with
 * each row's true click probability in a side file.
 */
import { parseCommandArgs, type OptionTable } from '../options.js';
import { invalidOption } from '../../core/errors.js';
import { SYNTH_MODELS, SYNTH_PROFILES, SYNTH_VALUES, writeSynth } from '../../input/synth.js';
import { LATENT_DEFAULT_GROUPS, LATENT_DEFAULTS, type LatentKnobs } from '../../input/synth-latent.js';

export const summary = 'write synthetic Criteo-like TSV rows (deterministic by seed)';

const USAGE = 'pipeline synth --rows N [--seed S] [--model default|latent] [--profile kaggle|terabyte] [--values zipf|uniform] [--out FILE|-] [--probs FILE]';
const DESCRIPTION = [
  'Writes N rows in the raw Kaggle Criteo format (label, 13 integers, 26 hex categoricals),',
  'the same bytes for the same --rows, --seed and --groups. Rows belong to hidden groups whose',
  'values co-occur and share a click propensity; --probs records each row\'s true click probability.',
  '--model latent puts the click in latent vectors of the high-cardinality values (c3, c4, c12, c16,',
  'c21): group vector plus own deviation, pairwise dot products in the logit, so compressing their',
  'embedding memory costs AUC. Its knobs: --latent-dim, --in-group, --deviation, --main, --pair.',
  '--profile terabyte: Criteo Terabyte\'s 26 cardinalities (six of 25.6M to 40M values) and a ~2% click rate;',
  'distinct values grow with --rows toward those cardinalities.',
  '--values uniform: each categorical value uniform over the profile\'s whole cardinality, without groups',
  '(a stress case for counting: 24M Terabyte rows put ~18M distinct values in c1, past a JS Map\'s 2^24).',
].join('\n');

// seed and groups: the generator's own defaults are not exported (input/synth.ts), so the CLI states them.
const OPTIONS = {
  rows: { type: 'int', min: 0, arg: 'N', required: true, help: 'number of rows' },
  seed: { type: 'int', arg: 'S', default: 1, help: 'random seed' },
  out: { type: 'path', arg: 'FILE|-', default: '-', help: 'where the TSV goes; - for stdout' },
  probs: { type: 'path', arg: 'FILE', help: 'also write one true click probability per line (same row order)' },
  model: { type: 'enum', choices: SYNTH_MODELS, default: 'default', help: 'click model: the group offset (default) or latent value vectors' },
  profile: { type: 'enum', choices: SYNTH_PROFILES, default: 'kaggle', help: "cardinalities and click rate: Kaggle's (default) or Criteo Terabyte's" },
  values: { type: 'enum', choices: SYNTH_VALUES, default: 'zipf', help: 'categorical value picks: Zipf within hidden groups (default), or uniform over each whole cardinality' },
  groups: { type: 'int', min: 1, max: 65535, arg: 'G', help: `number of hidden groups (default 256; ${LATENT_DEFAULT_GROUPS} with --model latent)` },
  'latent-dim': { type: 'int', min: 1, max: 64, arg: 'R', help: `latent: size of the true value vectors (default ${LATENT_DEFAULTS.latentDim})` },
  'in-group': { type: 'number', min: 0, max: 1, arg: 'P', help: `latent: probability that a high-cardinality feature picks from the row's group (default ${LATENT_DEFAULTS.inGroup})` },
  deviation: { type: 'number', min: 0, max: 1, arg: 'S', help: `latent: share of a value's vector that is its own (default ${LATENT_DEFAULTS.deviation})` },
  main: { type: 'number', min: 0, max: 100, arg: 'W', help: `latent: weight of the linear value effects (default ${LATENT_DEFAULTS.main})` },
  pair: { type: 'number', min: 0, max: 100, arg: 'W', help: `latent: weight of the pairwise latent interactions (default ${LATENT_DEFAULTS.pair})` },
} satisfies OptionTable;

const KNOBS = [['latent-dim', 'latentDim'], ['in-group', 'inGroup'], ['deviation', 'deviation'], ['main', 'main'], ['pair', 'pair']] as const;

export async function run(argv: string[]): Promise<number | void> {
  const values = parseCommandArgs(argv, USAGE, DESCRIPTION, OPTIONS);
  if (values === null) return 0;
  const { rows, seed, groups, out, probs: probsOut, model, profile, values: valuePicks } = values;
  const latent: Partial<LatentKnobs> = {};
  for (const [flag, key] of KNOBS) {
    const v = values[flag];
    if (v === undefined) continue;
    if (model !== 'latent') throw invalidOption(flag, 'applies to --model latent only', v);
    latent[key] = v;
  }
  const start = performance.now();
  await writeSynth({ rows, seed, model, profile, values: valuePicks, out, ...(groups !== undefined ? { groups } : {}), ...(model === 'latent' ? { latent } : {}), ...(probsOut !== undefined ? { probsOut } : {}) });
  const secs = (performance.now() - start) / 1000;
  process.stderr.write(`synth: ${rows} rows (seed ${seed}) in ${secs.toFixed(2)} s, ${Math.round(rows / Math.max(secs, 1e-9))} rows/s\n`);
}
