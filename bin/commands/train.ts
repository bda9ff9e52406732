/**
 * `pipeline train`: the DLRM training sink, with facebookresearch/dlrm's flag names
 * where they exist. Progress on stderr, the final summary as one JSON line on stdout.
 */
import { parseCommandArgs, type OptionSpec } from '../options.js';
import { invalidOption } from '../../core/errors.js';
import { NUM_DENSE } from '../../core/schema.js';
import { parseArch } from '../../core/option-values.js';
import { parseSplit } from '../../stages/split.js';
import { train, type EmbeddingKind } from '../../pipeline/train.js';

export const summary = 'train a DLRM (SCMA, HashNet or full embeddings) on shards or an Arrow stream';

const options: Record<string, OptionSpec> = {
  input: { type: 'string', short: 'i', arg: 'DIR|FILE|-', help: "shard directory (manifest.json), one .parquet/.arrow shard, or '-' for an Arrow IPC stream on stdin (one pass)" },
  'arch-sparse-feature-size': { type: 'string', arg: 'D', default: '16', help: 'embedding size d' },
  'arch-mlp-bot': { type: 'string', arg: '13-...-D', default: '13-64-16', help: 'bottom MLP layer sizes, from 13 to d' },
  'arch-mlp-top': { type: 'string', arg: '...-1', default: '64-1', help: 'top MLP layer sizes after the interaction, ending in 1' },
  embedding: { type: 'string', arg: 'full|hashnet|scma', default: 'scma', help: 'embedding kind' },
  compression: { type: 'string', arg: 'R', help: 'hashnet/scma memory as a fraction in (0, 1] of the full tables: M = R x (sum of per-feature distinct values) x d (default 0.0625)' },
  'memory-floats': { type: 'string', arg: 'M', help: 'hashnet/scma memory size in floats, instead of --compression' },
  mapping: { type: 'string', arg: 'FILE', help: 'SCMA mapping (bin/pipeline minhash); built from the training rows when absent' },
  'mapping-sample': { type: 'string', arg: 'P', help: 'rows sampled when the mapping is built on the fly (default 125000)' },
  'min-count': { type: 'string', arg: 'N', default: '1', help: 'full tables: values seen fewer times share the out-of-vocabulary row' },
  'embedding-optimizer': { type: 'string', arg: 'sgd|adagrad', default: 'sgd', help: 'optimizer of the embedding memory (dense weights: SGD)' },
  'mini-batch-size': { type: 'string', arg: 'N', default: '128', help: 'training batch size' },
  'test-mini-batch-size': { type: 'string', arg: 'N', default: '4096', help: 'evaluation batch size' },
  nepochs: { type: 'string', arg: 'N', default: '1', help: 'passes over the training rows' },
  'learning-rate': { type: 'string', arg: 'LR', default: '0.1', help: 'SGD learning rate' },
  'print-freq': { type: 'string', arg: 'N', default: '100', help: 'report the training loss every N steps' },
  'test-freq': { type: 'string', arg: 'N', default: '0', help: 'evaluate validation/test every N steps (0: at the end only)' },
  split: { type: 'string', arg: 'dlrm', help: "DLRM's 7 days: first 6/7 train, last 1/7 halved into test and validation (needs shards)" },
  'test-fraction': { type: 'string', arg: 'F', help: 'the last F of the rows (input order) are the test set, never trained on' },
  'val-fraction': { type: 'string', arg: 'F', help: 'the V of the rows just before the test set are the validation set' },
  'shuffle-buffer': { type: 'string', arg: 'ROWS', default: '10000', help: 'seeded shuffle buffer size (0: input order)' },
  seed: { type: 'string', arg: 'N', default: '0', help: 'seed of the initialisation, shuffle, HashNet codes and on-the-fly mapping' },
  backend: { type: 'string', arg: 'NAME', default: 'auto', help: 'auto | tensorflow | webgpu | wasm | cpu' },
  'embedding-impl': { type: 'string', arg: 'NAME', default: 'auto', help: 'auto | fused | composite | cpu-sparse | webgpu (auto: fused on webgpu, the whole step in WGSL)' },
  metrics: { type: 'string', arg: 'FILE', help: 'write metrics as JSON lines (train loss, evaluations, summary)' },
  out: { type: 'string', short: 'o', arg: 'DIR', help: 'checkpoints and the saved model (DIR/model)' },
  resume: { type: 'boolean', help: 'continue from the checkpoint in --out' },
  'checkpoint-freq': { type: 'string', arg: 'N', default: '1000', help: 'checkpoint every N steps (and at the end)' },
};

function int(v: unknown, name: string, min = 1): number {
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw invalidOption(name, min === 0 ? 'must be a non-negative integer' : 'must be a positive integer', v);
  return n;
}

function num(v: unknown, name: string, check: (x: number) => boolean, expected: string): number {
  let x = NaN;
  if (typeof v === 'string' && v.trim() !== '') {
    const frac = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(v); // "1/16" reads as a fraction
    x = frac ? Number(frac[1]) / Number(frac[2]) : Number(v);
  }
  if (!Number.isFinite(x) || !check(x)) throw invalidOption(name, expected, v);
  return x;
}

export async function run(argv: string[]): Promise<number | void> {
  const v = parseCommandArgs(argv, 'pipeline train --input DIR|FILE|- [options]', summary, options);
  if (!v) return;
  if (typeof v.input !== 'string') throw invalidOption('input', "is required: a shard directory, a shard file or '-'", v.input);
  const d = int(v['arch-sparse-feature-size'], 'arch-sparse-feature-size');
  const bottom = parseArch(v['arch-mlp-bot'] as string, 'arch-mlp-bot');
  const top = parseArch(v['arch-mlp-top'] as string, 'arch-mlp-top');
  if (bottom[0] !== NUM_DENSE) throw invalidOption('arch-mlp-bot', `must start with ${NUM_DENSE} (the dense features)`, v['arch-mlp-bot']);
  if (bottom[bottom.length - 1] !== d) throw invalidOption('arch-mlp-bot', `must end with d = ${d} (--arch-sparse-feature-size)`, v['arch-mlp-bot']);
  if (top[top.length - 1] !== 1) throw invalidOption('arch-mlp-top', 'must end with 1 (the click probability)', v['arch-mlp-top']);
  const kind = v.embedding as string;
  if (!['full', 'hashnet', 'scma'].includes(kind)) throw invalidOption('embedding', 'must be full, hashnet or scma', kind);
  const opt = v['embedding-optimizer'] as string;
  if (opt !== 'sgd' && opt !== 'adagrad') throw invalidOption('embedding-optimizer', 'must be sgd or adagrad', opt);
  const summaryLine = await train({
    input: v.input,
    embeddingDim: d,
    bottomMlp: bottom,
    topMlp: top,
    embedding: kind as EmbeddingKind,
    compression: v.compression !== undefined ? num(v.compression, 'compression', (x) => x > 0 && x <= 1, 'must be in (0, 1]') : undefined,
    memoryFloats: v['memory-floats'] !== undefined ? int(v['memory-floats'], 'memory-floats') : undefined,
    mapping: v.mapping as string | undefined,
    mappingSample: v['mapping-sample'] !== undefined ? int(v['mapping-sample'], 'mapping-sample') : undefined,
    minCount: int(v['min-count'], 'min-count'),
    embeddingOptimizer: opt,
    batchSize: int(v['mini-batch-size'], 'mini-batch-size'),
    testBatchSize: int(v['test-mini-batch-size'], 'test-mini-batch-size'),
    epochs: int(v.nepochs, 'nepochs'),
    learningRate: num(v['learning-rate'], 'learning-rate', (x) => x > 0, 'must be a positive number'),
    printFreq: int(v['print-freq'], 'print-freq'),
    testFreq: int(v['test-freq'], 'test-freq', 0),
    checkpointFreq: int(v['checkpoint-freq'], 'checkpoint-freq'),
    split: parseSplit({ split: v.split as string | undefined, testFraction: v['test-fraction'] as string | undefined, valFraction: v['val-fraction'] as string | undefined }),
    shuffleBuffer: int(v['shuffle-buffer'], 'shuffle-buffer', 0),
    seed: int(v.seed, 'seed', 0),
    backend: v.backend as string,
    embeddingImpl: v['embedding-impl'] === 'auto' ? undefined : (v['embedding-impl'] as string),
    metricsFile: v.metrics as string | undefined,
    outDir: v.out as string | undefined,
    resume: v.resume === true,
  });
  process.stdout.write(JSON.stringify(summaryLine) + '\n');
}
