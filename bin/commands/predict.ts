/**
 * `pipeline predict --model DIR --input FILE|-`: argv -> predictToStream() (pipeline/predict.ts).
 */
import { parseCommandArgs, type OptionTable } from '../options.js';
import { invalidOption } from '../../core/errors.js';
import { predictToStream, PREDICT_DEFAULTS as D } from '../../pipeline/predict.js';

export const summary = 'write one click probability per input row, from a model saved by train --out';

const options = {
  model: { type: 'path', short: 'm', arg: 'DIR', help: 'saved model directory (train --out DIR: DIR/model, or DIR itself)' },
  input: { type: 'path', short: 'i', arg: 'FILE|-', help: "raw Criteo TSV (.gz too), a shard directory/file, or '-' (stdin: TSV, or an Arrow IPC stream)" },
  label: { type: 'boolean', default: D.labeled, help: "raw TSV rows start with a label; --no-label for unlabeled rows (Kaggle's test.txt)" },
  'mini-batch-size': { type: 'int', min: 1, arg: 'N', default: D.batchSize, help: 'rows per prediction batch' },
  backend: { type: 'string', arg: 'NAME', default: D.backend, help: 'auto | tensorflow | webgpu | wasm | cpu' },
} satisfies OptionTable;

export async function run(argv: string[]): Promise<number | void> {
  const v = parseCommandArgs(argv, 'pipeline predict --model DIR --input FILE|- [--no-label]', summary, options);
  if (!v) return;
  if (v.model === undefined) throw invalidOption('model', 'is required: the directory train --out wrote', v.model);
  if (v.input === undefined) throw invalidOption('input', "is required: a TSV file, shards, or '-'", v.input);
  const t0 = Date.now();
  const rows = await predictToStream({ model: v.model, input: v.input, labeled: v.label, batchSize: v['mini-batch-size'], backend: v.backend });
  process.stderr.write(`predict: ${rows} rows in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}
