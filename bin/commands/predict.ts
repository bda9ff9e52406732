/**
 * `pipeline predict --model DIR --input FILE|-`: argv -> predictToStream() (pipeline/predict.ts).
 */
import { parseCommandArgs, type OptionTable } from '../options.js';
import { invalidOption } from '../../core/errors.js';
import { predictToStream, PREDICT_DEFAULTS as D } from '../../pipeline/predict.js';
import { progressSetting } from '../../core/progress.js';

export const summary = 'write one click probability per input row, from a model saved by train --out';

const options = {
  model: { type: 'path', short: 'm', arg: 'DIR', help: 'saved model directory (train --out DIR: DIR/model, or DIR itself)' },
  input: { type: 'path', short: 'i', arg: 'FILE|-', help: "raw Criteo TSV (.gz too), a shard directory/file, or '-' (stdin: TSV, or an Arrow IPC stream)" },
  label: { type: 'boolean', default: D.labeled, help: "raw TSV rows start with a label; --no-label for unlabeled rows (Kaggle's test.txt)" },
  'mini-batch-size': { type: 'int', min: 1, arg: 'N', default: D.batchSize, help: 'rows per prediction batch' },
  backend: { type: 'string', arg: 'NAME', default: D.backend, help: 'auto | tensorflow | webgpu | wasm | cpu' },
  id: { type: 'string', arg: 'N|column', help: "write a row id before each probability: N numbers the rows N, N+1, ...; 'column': each TSV line starts with its id, which is carried through" },
  csv: { type: 'boolean', help: 'write CSV with a header, Id,Predicted (a Kaggle submission); needs --id' },
  progress: { type: 'boolean', help: 'progress lines on stderr; default: on when stderr is a terminal' },
} satisfies OptionTable;

export async function run(argv: string[]): Promise<number | void> {
  const v = parseCommandArgs(argv, 'pipeline predict --model DIR --input FILE|- [--no-label] [--id N|column [--csv]]', summary, options);
  if (!v) return;
  if (v.model === undefined) throw invalidOption('model', 'is required: the directory train --out wrote', v.model);
  if (v.input === undefined) throw invalidOption('input', "is required: a TSV file, shards, or '-'", v.input);
  const t0 = Date.now();
  let id: number | 'column' | undefined;
  if (v.id !== undefined) {
    if (v.id === 'column') id = 'column';
    else if (/^\d+$/.test(v.id) && Number.isSafeInteger(Number(v.id))) id = Number(v.id);
    else throw invalidOption('id', "must be 'column' or a first id (a non-negative integer)", v.id);
  }
  if (v.csv && id === undefined) throw invalidOption('csv', 'needs --id (the Id column of Id,Predicted)', true);
  const p = progressSetting(v.progress);
  const progress = p.enabled ? { write: (l: string) => process.stderr.write(l + '\n'), intervalMs: p.intervalMs } : undefined;
  const rows = await predictToStream({ model: v.model, input: v.input, labeled: v.label, batchSize: v['mini-batch-size'], backend: v.backend, id, format: v.csv ? 'csv' : 'plain', progress });
  process.stderr.write(`predict: ${rows} rows in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}
