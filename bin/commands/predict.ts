/**
 * `pipeline predict --model DIR --input FILE|-`: argv -> predictToStream() (pipeline/predict.ts).
 */
import { parseCommandArgs, type OptionSpec } from '../options.js';
import { invalidOption } from '../../core/errors.js';
import { predictToStream } from '../../pipeline/predict.js';

export const summary = 'write one click probability per input row, from a model saved by train --out';

const options: Record<string, OptionSpec> = {
  model: { type: 'string', short: 'm', arg: 'DIR', help: 'saved model directory (train --out DIR: DIR/model, or DIR itself)' },
  input: { type: 'string', short: 'i', arg: 'FILE|-', help: "raw Criteo TSV (.gz too), a shard directory/file, or '-' (stdin: TSV, or an Arrow IPC stream)" },
  'no-label': { type: 'boolean', help: "the TSV has no label column (Kaggle's test.txt)" },
  'mini-batch-size': { type: 'string', arg: 'N', default: '4096', help: 'rows per prediction batch' },
  backend: { type: 'string', arg: 'NAME', default: 'auto', help: 'auto | tensorflow | webgpu | wasm | cpu' },
};

export async function run(argv: string[]): Promise<number | void> {
  const v = parseCommandArgs(argv, 'pipeline predict --model DIR --input FILE|- [--no-label]', summary, options);
  if (!v) return;
  if (typeof v.model !== 'string') throw invalidOption('model', 'is required: the directory train --out wrote', v.model);
  if (typeof v.input !== 'string') throw invalidOption('input', "is required: a TSV file, shards, or '-'", v.input);
  const bs = Number(v['mini-batch-size']);
  const t0 = Date.now();
  const rows = await predictToStream({ model: v.model, input: v.input, labeled: !(v['no-label'] === true || (v as Record<string, unknown>).label === false), batchSize: bs, backend: v.backend as string });
  process.stderr.write(`predict: ${rows} rows in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}
