/**
 * `pipeline evaluate --model DIR --input FILE|DIR|-`: argv -> evaluateModel() (pipeline/evaluate.ts).
 */
import { parseCommandArgs, type OptionTable } from '../options.js';
import { progressSetting } from '../../core/progress.js';
import { roundSignificant } from '../../core/round.js';
import { evaluateModel } from '../../pipeline/evaluate.js';

export const summary = 'AUC, logloss and accuracy of a saved model on labelled shards or TSV (one JSON line)';

const options = {
  model: { type: 'path', short: 'm', arg: 'DIR', required: true, help: 'saved model directory (train --out DIR: DIR/model, or DIR itself)' },
  input: { type: 'path', short: 'i', arg: 'FILE|DIR|-', required: true, help: "labelled rows: raw Criteo TSV (.gz too), a shard directory/file, or '-' (stdin: TSV, or an Arrow IPC stream)" },
  'mini-batch-size': { type: 'int', min: 1, arg: 'N', default: 4096, help: 'rows per prediction batch' },
  backend: { type: 'string', arg: 'NAME', default: 'auto', help: 'auto | tensorflow | webgpu | wasm | cpu' },
  progress: { type: 'boolean', help: 'progress lines on stderr; default: on when stderr is a terminal' },
} satisfies OptionTable;

export async function run(argv: string[]): Promise<number | void> {
  const v = parseCommandArgs(
    argv,
    'pipeline evaluate --model DIR --input FILE|DIR|-',
    'Scores every labelled input row with a saved model and prints one JSON line: rows, positives, logloss,\nexact AUC (ties count half) and accuracy (threshold 0.5), as train reports them.',
    options,
  );
  if (!v) return;
  const bs = v['mini-batch-size'];
  const p = progressSetting(v.progress);
  const m = await evaluateModel({
    model: v.model,
    input: v.input,
    batchSize: bs,
    backend: v.backend,
    progress: p.enabled ? { write: (l) => process.stderr.write(l + '\n'), intervalMs: p.intervalMs } : undefined,
  });
  process.stdout.write(JSON.stringify(roundSignificant({ model: v.model, input: v.input, ...m })) + '\n');
}
