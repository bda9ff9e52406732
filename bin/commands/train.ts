/**
 * `pipeline train`: the DLRM training sink, with facebookresearch/dlrm's flag names
 * where they exist. Progress on stderr, the final summary as one JSON line on stdout.
 */
import { parseCommandArgs, type OptionTable } from '../options.js';
import { invalidOption } from '../../core/errors.js';
import { NUM_DENSE } from '../../core/schema.js';
import { parseArch } from '../../core/option-values.js';
import { parseSplit } from '../../stages/split.js';
import { EMBEDDING_KINDS } from '../../model/embedding-kinds.js';
import { train, TRAIN_DEFAULTS as D } from '../../pipeline/train.js';

export const summary = 'train a DLRM (SCMA, HashNet, ROBE or full embeddings) on shards or an Arrow stream';

const arch = (sizes: readonly number[]) => sizes.join('-');

const options = {
  input: { type: 'path', short: 'i', arg: 'DIR|FILE|-', help: "shard directory (_manifest.json), one .parquet/.arrow shard, or '-' for an Arrow IPC stream on stdin (one pass)" },
  'arch-sparse-feature-size': { type: 'int', min: 1, arg: 'D', default: D.embeddingDim, help: 'embedding size d' },
  'arch-mlp-bot': { type: 'string', arg: '13-...-D', default: arch(D.bottomMlp), help: `bottom MLP layer sizes, from ${NUM_DENSE} to d` },
  'arch-mlp-top': { type: 'string', arg: '...-1', default: arch(D.topMlp), help: 'top MLP layer sizes after the interaction, ending in 1' },
  embedding: { type: 'enum', choices: EMBEDDING_KINDS, default: D.embedding, help: 'embedding kind (robe: ROBE-Z, contiguous blocks at hashed offsets in one shared array)' },
  compression: { type: 'fraction', min: 0, minExclusive: true, max: 1, arg: 'R', help: `hashnet/scma/robe memory as a fraction of the full tables, M = R x (sum of per-feature distinct values) x d; ${D.compression} unless --memory-floats is given` },
  'memory-floats': { type: 'int', min: 1, arg: 'M', help: 'hashnet/scma/robe memory size in floats, instead of --compression (at least 26 x d)' },
  'robe-block': { type: 'int', min: 1, arg: 'Z', help: 'robe: floats per contiguous block, at most d (default d)' },
  mapping: { type: 'path', arg: 'FILE', help: 'SCMA mapping (bin/pipeline minhash); built from the training rows when absent' },
  'mapping-sample': { type: 'int', min: 1, arg: 'P', default: D.mappingSample, help: 'rows sampled when the mapping is built on the fly' },
  'min-count': { type: 'int', min: 1, arg: 'N', default: D.minCount, help: 'full tables: values seen fewer times share the out-of-vocabulary row' },
  'embedding-optimizer': { type: 'enum', choices: ['sgd', 'adagrad'] as const, default: D.embeddingOptimizer, help: 'optimizer of the embedding memory (dense weights: SGD)' },
  'mini-batch-size': { type: 'int', min: 1, arg: 'N', default: D.batchSize, help: 'training batch size' },
  'test-mini-batch-size': { type: 'int', min: 1, arg: 'N', default: D.testBatchSize, help: 'evaluation batch size' },
  nepochs: { type: 'int', min: 1, arg: 'N', default: D.epochs, help: 'passes over the training rows' },
  'learning-rate': { type: 'number', min: 0, minExclusive: true, arg: 'LR', default: D.learningRate, help: 'SGD learning rate' },
  'print-freq': { type: 'int', min: 1, arg: 'N', default: D.printFreq, help: 'report the training loss every N steps' },
  'test-freq': { type: 'int', min: 0, arg: 'N', default: D.testFreq, help: 'evaluate validation/test every N steps (0: at the end only)' },
  split: {
    type: 'enum',
    choices: ['dlrm', 'dlrm-terabyte'] as const,
    help: "DLRM's split (needs shards). dlrm: 7 equal days, first 6/7 train, last 1/7 halved into test and validation; on shards of two or more day_N files it means dlrm-terabyte: every day file but the last trains, the last (day_23) halved into test and validation",
  },
  'test-fraction': { type: 'number', min: 0, max: 1, maxExclusive: true, arg: 'F', help: 'the last F of the rows (input order) are the test set, never trained on' },
  'val-fraction': { type: 'number', min: 0, max: 1, maxExclusive: true, arg: 'F', help: 'the V of the rows just before the test set are the validation set' },
  'shuffle-buffer': { type: 'int', min: 0, arg: 'ROWS', default: D.shuffleBuffer, help: 'seeded shuffle buffer size (0: input order)' },
  seed: { type: 'int', min: 0, arg: 'N', default: D.seed, help: 'seed of the initialisation, shuffle, HashNet codes and on-the-fly mapping' },
  backend: { type: 'string', arg: 'NAME', default: D.backend, help: 'auto | tensorflow | webgpu | wasm | cpu' },
  'embedding-impl': { type: 'string', arg: 'NAME', default: D.embeddingImpl, help: 'auto | fused | composite | cpu-sparse | webgpu (auto: fused on webgpu, the whole step in WGSL)' },
  metrics: { type: 'path', arg: 'FILE', help: 'write metrics as JSON lines (train loss, evaluations, summary)' },
  out: { type: 'path', short: 'o', arg: 'DIR', help: 'checkpoints and the saved model (DIR/model)' },
  resume: { type: 'boolean', help: 'continue from the checkpoint in --out' },
  'checkpoint-freq': { type: 'int', min: 1, arg: 'N', default: D.checkpointFreq, help: 'checkpoint every N steps (and at the end)' },
} satisfies OptionTable;

export async function run(argv: string[]): Promise<number | void> {
  const v = parseCommandArgs(argv, 'pipeline train --input DIR|FILE|- [options]', summary, options);
  if (!v) return;
  if (v.input === undefined) throw invalidOption('input', "is required: a shard directory, a shard file or '-'", v.input);
  const d = v['arch-sparse-feature-size'];
  const bottom = parseArch(v['arch-mlp-bot'], 'arch-mlp-bot');
  const top = parseArch(v['arch-mlp-top'], 'arch-mlp-top');
  if (bottom[0] !== NUM_DENSE) throw invalidOption('arch-mlp-bot', `must start with ${NUM_DENSE} (the dense features)`, v['arch-mlp-bot']);
  if (bottom[bottom.length - 1] !== d) throw invalidOption('arch-mlp-bot', `must end with d = ${d} (--arch-sparse-feature-size)`, v['arch-mlp-bot']);
  if (top[top.length - 1] !== 1) throw invalidOption('arch-mlp-top', 'must end with 1 (the click probability)', v['arch-mlp-top']);
  const summaryLine = await train({
    input: v.input,
    embeddingDim: d,
    bottomMlp: bottom,
    topMlp: top,
    embedding: v.embedding,
    compression: v.compression,
    memoryFloats: v['memory-floats'],
    robeBlock: v['robe-block'],
    mapping: v.mapping,
    mappingSample: v['mapping-sample'],
    minCount: v['min-count'],
    embeddingOptimizer: v['embedding-optimizer'],
    batchSize: v['mini-batch-size'],
    testBatchSize: v['test-mini-batch-size'],
    epochs: v.nepochs,
    learningRate: v['learning-rate'],
    printFreq: v['print-freq'],
    testFreq: v['test-freq'],
    checkpointFreq: v['checkpoint-freq'],
    split: parseSplit({ split: v.split, testFraction: v['test-fraction'], valFraction: v['val-fraction'] }),
    shuffleBuffer: v['shuffle-buffer'],
    seed: v.seed,
    backend: v.backend,
    embeddingImpl: v['embedding-impl'],
    metricsFile: v.metrics,
    outDir: v.out,
    resume: v.resume,
  });
  process.stdout.write(JSON.stringify(summaryLine) + '\n');
}
