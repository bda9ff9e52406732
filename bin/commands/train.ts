/**
 * `pipeline train`: the DLRM training sink, with facebookresearch/dlrm's flag names
 * where they exist. Progress on stderr, the final summary as one JSON line on stdout.
 */
import { parseCommandArgs, type OptionTable } from '../options.js';
import { invalidOption } from '../../core/errors.js';
import { NUM_DENSE } from '../../core/schema.js';
import { parseArch } from '../../core/option-values.js';
import { parseSplit } from '../../stages/split.js';
import { EMBEDDING_KINDS, STREAM_MEMORY_FLOATS } from '../../model/embedding-kinds.js';
import { train, TRAIN_DEFAULTS as D } from '../../pipeline/train.js';
import { progressSetting } from '../../core/progress.js';
import { roundSignificant } from '../../core/round.js';

export const summary = 'train a DLRM (SCMA, HashNet, ROBE or full embeddings) on shards or an Arrow stream';

const arch = (sizes: readonly number[]) => sizes.join('-');

const options = {
  input: { type: 'path', short: 'i', arg: 'DIR|FILE|-', help: "shard directory (_manifest.json), one .parquet/.arrow shard, or '-' for an Arrow IPC stream on stdin (one pass)" },
  'arch-sparse-feature-size': { type: 'int', min: 1, arg: 'D', default: D.embeddingDim, help: 'embedding size d' },
  'arch-mlp-bot': { type: 'string', arg: '13-...-D', default: arch(D.bottomMlp), help: `bottom MLP layer sizes, from ${NUM_DENSE} to d` },
  'arch-mlp-top': { type: 'string', arg: '...-1', default: arch(D.topMlp), help: 'top MLP layer sizes after the interaction, ending in 1' },
  embedding: { type: 'enum', choices: EMBEDDING_KINDS, help: `embedding kind (default ${D.embedding}; robe: ROBE-Z, contiguous blocks at hashed offsets in one shared array)` },
  compression: { type: 'fraction', min: 0, minExclusive: true, max: 1, arg: 'R', help: `hashnet/scma/robe memory as a fraction of the full tables, M = R x (sum of per-feature distinct values) x d; ${D.compression} unless --memory-floats is given. A stdin stream has no counts: there the default is ${STREAM_MEMORY_FLOATS.toLocaleString('en-US')} floats. Ignored, with a log line, for full` },
  'memory-floats': { type: 'int', min: 1, arg: 'M', help: 'hashnet/scma/robe memory size in floats, instead of --compression (at least 26 x d; ignored, with a log line, for full)' },
  'robe-block': { type: 'int', min: 1, arg: 'Z', help: 'robe: floats per contiguous block, at most d (default d)' },
  mapping: { type: 'path', arg: 'FILE', help: 'SCMA mapping (bin/pipeline minhash); built from the training rows when absent' },
  'mapping-sample': { type: 'int', min: 1, arg: 'P', default: D.mappingSample, help: 'rows sampled when the mapping is built on the fly' },
  'min-count': { type: 'int', min: 1, arg: 'N', default: D.minCount, help: 'full tables: values seen fewer times share the out-of-vocabulary row' },
  'embedding-optimizer': { type: 'enum', choices: ['sgd', 'adagrad'] as const, help: 'optimizer of the embedding memory (default: --optimizer\'s)' },
  optimizer: { type: 'enum', choices: ['sgd', 'adagrad'] as const, default: D.denseOptimizer, help: "DLRM's --optimizer: of the MLP weights, and of the embedding memory unless --embedding-optimizer says otherwise (Adagrad as torch.optim.Adagrad)" },
  'mini-batch-size': { type: 'int', min: 1, arg: 'N', default: D.batchSize, help: 'training batch size' },
  'test-mini-batch-size': { type: 'int', min: 1, arg: 'N', default: D.testBatchSize, help: 'evaluation batch size' },
  nepochs: { type: 'int', min: 1, arg: 'N', default: D.epochs, help: 'passes over the training rows' },
  'learning-rate': { type: 'number', min: 0, minExclusive: true, arg: 'LR', default: D.learningRate, help: 'learning rate (the base rate of the schedule below)' },
  'lr-num-warmup-steps': { type: 'int', min: 0, arg: 'W', default: D.lrSchedule.warmupSteps, help: "DLRM's schedule: the rate rises linearly from 0 over the first W steps" },
  'lr-decay-start-step': { type: 'int', min: 0, arg: 'D', default: D.lrSchedule.decayStartStep, help: "DLRM's schedule: the polynomial (power 2) decay starts at step D (>= W); between warmup and decay the rate stays at the last warmup rate, as in DLRM" },
  'lr-num-decay-steps': { type: 'int', min: 0, arg: 'N', default: D.lrSchedule.decaySteps, help: "DLRM's schedule: the decay lasts N steps (to lr/N^2, then frozen; 0: no schedule after the warmup)" },
  'print-freq': { type: 'int', min: 1, arg: 'N', default: D.printFreq, help: 'report the training loss every N steps' },
  'test-freq': { type: 'int', min: 0, arg: 'N', default: D.testFreq, help: 'evaluate validation/test every N steps (0: at the end only)' },
  split: {
    type: 'enum',
    choices: ['dlrm', 'dlrm-terabyte'] as const,
    help: "DLRM's split (needs shards). dlrm: 7 equal days, first 6/7 train, last 1/7 halved into test and validation; on shards of two or more day_N files it means dlrm-terabyte: every day file but the last trains, the last (day_23) halved into test and validation",
  },
  'test-fraction': { type: 'number', min: 0, max: 1, maxExclusive: true, arg: 'F', help: 'the last F of the rows (input order) are the test set, never trained on. Without --split, --test-fraction or --val-fraction every row trains and nothing is evaluated (a warning says so)' },
  'val-fraction': { type: 'number', min: 0, max: 1, maxExclusive: true, arg: 'F', help: 'the V of the rows just before the test set are the validation set' },
  'shuffle-buffer': { type: 'int', min: 0, arg: 'ROWS', default: D.shuffleBuffer, help: 'seeded shuffle buffer size (0: input order)' },
  seed: { type: 'int', min: 0, arg: 'N', default: D.seed, help: 'seed of the initialisation, shuffle, HashNet codes and on-the-fly mapping' },
  backend: { type: 'string', arg: 'NAME', default: D.backend, help: 'auto | tensorflow | webgpu | wasm | cpu' },
  'embedding-impl': { type: 'string', arg: 'NAME', default: D.embeddingImpl, help: 'auto | fused | cpu-step | composite | cpu-sparse | webgpu (auto: fused on webgpu, the whole step in WGSL; cpu-step on wasm and cpu, the whole step in JS loops and XNNPACK matmuls)' },
  threads: { type: 'int', min: 1, max: 64, arg: 'N', help: 'threads of the CPU step (wasm and cpu backends), the main thread included: each step splits its rows across them (default: the cores Node may use, at most 4)' },
  metrics: { type: 'path', arg: 'FILE', help: 'write metrics as JSON lines (train loss, evaluations, summary)' },
  out: { type: 'path', short: 'o', arg: 'DIR', help: 'checkpoints and the saved model (DIR/model)' },
  resume: { type: 'boolean', help: 'continue from the checkpoint in --out (kept only if the input shards and the --mapping file have the same contents, whatever their paths)' },
  verify: { type: 'boolean', default: true, help: "check each shard's size and checksum against the manifest, and the mapping file's checksum (--no-verify skips it)" },
  'checkpoint-freq': { type: 'int', min: 1, arg: 'N', default: D.checkpointFreq, help: 'checkpoint every N steps (and at the end)' },
  progress: { type: 'boolean', help: 'progress lines by time (step/total, epoch, loss, samples/s, ETA) every 2 s on a terminal, 10 s otherwise, besides the --print-freq lines; default: on when stderr is a terminal; --no-progress: off' },
  // yanzhoupan/dlrm_ssm's flags, so its command lines run as they are.
  'lsh-emb-flag': { type: 'boolean', help: "dlrm_ssm's flag: alias of --embedding scma" },
  'lsh-emb-compression-rate': { type: 'fraction', min: 0, minExclusive: true, max: 1, arg: 'R', help: "dlrm_ssm's flag: alias of --embedding scma --compression R" },
  'rand-emb-flag': { type: 'boolean', help: "dlrm_ssm's flag: alias of --embedding hashnet" },
  'rand-emb-compression-rate': { type: 'fraction', min: 0, minExclusive: true, max: 1, arg: 'R', help: "dlrm_ssm's flag: alias of --embedding hashnet --compression R" },
  // facebookresearch/dlrm's run flags that have a meaning here, or none.
  'loss-function': { type: 'enum', choices: ['bce'] as const, help: "DLRM's flag: only bce (binary cross-entropy), which train always uses" },
  'round-targets': { type: 'enum', choices: ['True', 'true'] as const, arg: 'True', help: "DLRM's flag: labels are already 0/1 here; only True is accepted" },
  'print-time': { type: 'boolean', help: "DLRM's flag: no effect, every progress line gives samples/s and an ETA" },
  'use-gpu': { type: 'boolean', help: "DLRM's flag: alias of --backend webgpu (which falls back, with a log line, where there is no GPU)" },
  'test-num-workers': { type: 'int', min: 0, arg: 'N', help: "DLRM's flag: no effect, evaluation reads in this process" },
  'mlperf-logging': { type: 'boolean', help: "DLRM's flag: no effect (--metrics writes JSON lines)" },
  'save-model': { type: 'path', arg: 'DIR', help: "DLRM's flag: alias of --out DIR (a directory here: checkpoints and DIR/model)" },
} satisfies OptionTable;

/** dlrm_ssm's --lsh-emb-* / --rand-emb-* flags as --embedding and --compression, refusing contradictions. */
function embeddingAliases(v: { embedding?: string; compression?: number; 'lsh-emb-flag': boolean; 'lsh-emb-compression-rate'?: number; 'rand-emb-flag': boolean; 'rand-emb-compression-rate'?: number }): { embedding?: 'full' | 'hashnet' | 'scma'; compression?: number } {
  const lsh = v['lsh-emb-flag'] || v['lsh-emb-compression-rate'] !== undefined;
  const rand = v['rand-emb-flag'] || v['rand-emb-compression-rate'] !== undefined;
  if (lsh && rand) throw invalidOption('lsh-emb-flag', 'and --rand-emb-flag choose different embeddings (scma, hashnet): give one', true);
  const kind = lsh ? 'scma' : rand ? 'hashnet' : undefined;
  if (kind && v.embedding !== undefined && v.embedding !== kind) throw invalidOption('embedding', `contradicts --${lsh ? 'lsh' : 'rand'}-emb-flag (${kind})`, v.embedding);
  const rate = lsh ? v['lsh-emb-compression-rate'] : v['rand-emb-compression-rate'];
  if (rate !== undefined && v.compression !== undefined && rate !== v.compression) throw invalidOption('compression', `contradicts --${lsh ? 'lsh' : 'rand'}-emb-compression-rate ${rate}`, v.compression);
  return { embedding: (v.embedding as 'full' | 'hashnet' | 'scma' | undefined) ?? kind, compression: v.compression ?? rate };
}

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
  const aliased = embeddingAliases(v);
  if (v['save-model'] !== undefined && v.out !== undefined && v['save-model'] !== v.out) throw invalidOption('save-model', `contradicts --out ${v.out}`, v['save-model']);
  const p = progressSetting(v.progress);
  const summaryLine = await train({
    input: v.input,
    embeddingDim: d,
    bottomMlp: bottom,
    topMlp: top,
    embedding: aliased.embedding,
    compression: aliased.compression,
    memoryFloats: v['memory-floats'],
    robeBlock: v['robe-block'],
    mapping: v.mapping,
    mappingSample: v['mapping-sample'],
    minCount: v['min-count'],
    embeddingOptimizer: v['embedding-optimizer'] ?? v.optimizer,
    denseOptimizer: v.optimizer,
    lrSchedule: { warmupSteps: v['lr-num-warmup-steps'], decayStartStep: v['lr-decay-start-step'], decaySteps: v['lr-num-decay-steps'] },
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
    backend: v['use-gpu'] && v.backend === D.backend ? 'webgpu' : v.backend,
    embeddingImpl: v['embedding-impl'],
    threads: v.threads,
    metricsFile: v.metrics,
    outDir: v.out ?? v['save-model'],
    resume: v.resume,
    verify: v.verify,
    progress: p.enabled ? { intervalMs: p.intervalMs } : undefined,
  });
  // For people: 4 significant digits (the --metrics file keeps full precision).
  process.stdout.write(JSON.stringify(roundSignificant(summaryLine)) + '\n');
}
