/**
 * `pipeline predict --model DIR --input FILE|-`: one click probability per input row
 * on stdout, from a model saved by `pipeline train --out`. Raw TSV is parsed and
 * featurized with the training data's settings (buckets, hash seed, recorded in
 * model.json); shards are read as they are.
 */
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { pipeline, Readable, type Writable } from 'node:stream';
import { once } from 'node:events';
import { parseCommandArgs, type OptionSpec } from '../options.js';
import { invalidOption, PipelineError } from '../../core/errors.js';
import type { FeatureBatch } from '../../core/schema.js';
import type { Dlrm, EmbeddingSpec } from '../../model/types.js';
import { loadModel } from '../../model/checkpoint.js';
import { batchRows } from '../../stages/batcher.js';
import { decodeVocabulary, IdentityVocabulary } from '../../stages/vocab.js';

export const summary = 'write one click probability per input row, from a model saved by train --out';

const options: Record<string, OptionSpec> = {
  model: { type: 'string', short: 'm', arg: 'DIR', help: 'saved model directory (train --out DIR: DIR/model, or DIR itself)' },
  input: { type: 'string', short: 'i', arg: 'FILE|-', help: "raw Criteo TSV (.gz too), a shard directory/file, or '-' (stdin: TSV, or an Arrow IPC stream)" },
  'no-label': { type: 'boolean', help: "the TSV has no label column (Kaggle's test.txt)" },
  'mini-batch-size': { type: 'string', arg: 'N', default: '4096', help: 'rows per prediction batch' },
  backend: { type: 'string', arg: 'NAME', default: 'auto', help: 'auto | tensorflow | webgpu | wasm | cpu' },
};

export async function loadSavedDlrm(dir: string, opts: { backend?: string; log?: (l: string) => void } = {}): Promise<{ model: Dlrm; featurize: { buckets: number | number[] | null; seed: number } | null }> {
  let modelDir = dir;
  try {
    await fsp.access(path.join(dir, 'model', 'model.json'));
    modelDir = path.join(dir, 'model');
  } catch {
    /* DIR itself is the model directory */
  }
  const { json, state } = await loadModel(modelDir);
  const e = json.embedding;
  const topo = json.modelTopology.config;
  let spec: EmbeddingSpec;
  if (e.kind === 'full') {
    if (e.vocab?.kind === 'identity') spec = { kind: 'full', vocab: new IdentityVocabulary(e.vocab.buckets) };
    else if (e.vocab?.kind === 'table') {
      const buf = await fsp.readFile(path.join(modelDir, e.vocab.file));
      const words = new Uint32Array(buf.byteLength / 4);
      new Uint8Array(words.buffer).set(buf);
      spec = { kind: 'full', vocab: decodeVocabulary(words) };
    } else throw new PipelineError('ERR_MODEL', 'full embedding without a vocabulary', { file: modelDir });
  } else if (e.kind === 'hashnet') {
    const { hashNetCodes } = await import('../../scma/codes.js');
    spec = { kind: 'hashnet', memoryFloats: e.memoryFloats!, codes: hashNetCodes(e.dim, e.hashSeed ?? 0) };
  } else {
    const { loadMapping } = await import('../../scma/mapping-file.js');
    const file = path.resolve(modelDir, e.mapping!.file);
    spec = { kind: 'scma', memoryFloats: e.memoryFloats!, codes: await loadMapping(file, { dim: e.dim }) };
  }
  const { createDlrm } = await import('../../model/dlrm.js');
  const model = await createDlrm(
    // SGD: prediction needs no optimizer state.
    { embeddingDim: topo.embeddingDim, bottomMlp: topo.bottomMlp, topMlp: topo.topMlp, embedding: spec, learningRate: 0.1, embeddingOptimizer: 'sgd', seed: 0 },
    opts,
  );
  model.importState(state);
  return { model, featurize: json.featurize as { buckets: number | number[] | null; seed: number } | null };
}

/** '-' as TSV or Arrow: an Arrow IPC stream starts with the 0xFFFFFFFF continuation marker. */
async function sniffStdin(stdin: Readable): Promise<{ arrow: boolean; stream: Readable }> {
  const it = stdin[Symbol.asyncIterator]();
  const first = await it.next();
  const head: Buffer | undefined = first.done ? undefined : Buffer.from(first.value);
  const arrow = !!head && head.length >= 4 && head.readUInt32LE(0) === 0xffffffff;
  const stream = Readable.from(
    (async function* () {
      if (head) yield head;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield Buffer.from(r.value);
      }
    })(),
    { objectMode: false },
  );
  return { arrow, stream };
}

async function* tsvBatches(input: string, labeled: boolean, featurizeOpts: { buckets: number | number[] | null; seed: number } | null, stdin?: Readable): AsyncGenerator<FeatureBatch> {
  const { openInput } = await import('../../input/open.js');
  const { parseTsv } = await import('../../stages/parse.js');
  const { featurize } = await import('../../stages/featurize.js');
  const src = openInput(input, stdin ? { stdin } : {});
  const f = featurizeOpts ?? { buckets: null, seed: 0 };
  // pipeline() destroys every stage with the first error, so iterating the last one surfaces it.
  const chain = pipeline(src, parseTsv({ labeled }), featurize({ ...(f.buckets !== null ? { buckets: f.buckets } : {}), seed: f.seed }), () => {});
  yield* chain as AsyncIterable<FeatureBatch>;
}

async function isShardInput(input: string): Promise<boolean> {
  if (/\.(parquet|arrow)$/i.test(input)) return true;
  try {
    return (await fsp.stat(input)).isDirectory();
  } catch {
    return false;
  }
}

export async function predictToStream(opts: { model: string; input: string; labeled?: boolean; batchSize?: number; backend?: string; out?: Writable; stdin?: Readable; log?: (l: string) => void }): Promise<number> {
  const { labeled = true, batchSize = 4096, out = process.stdout, log = (l: string) => process.stderr.write(l + '\n') } = opts;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw invalidOption('mini-batch-size', 'must be a positive integer', batchSize);
  const { model, featurize } = await loadSavedDlrm(opts.model, { backend: opts.backend, log });
  try {
    let source: AsyncIterable<FeatureBatch>;
    if (opts.input === '-') {
      const { arrow, stream } = await sniffStdin(opts.stdin ?? process.stdin);
      if (arrow) {
        // Checked for its end marker: a producer that died mid-stream must not yield fewer rows silently.
        const { readCheckedArrowStream } = await import('../../pipeline/train.js');
        source = readCheckedArrowStream(stream);
      } else source = tsvBatches('-', labeled, featurize, stream);
    } else if (await isShardInput(opts.input)) {
      const { readFeatureBatches } = await import('../../io/read-shards.js');
      source = readFeatureBatches(opts.input);
    } else source = tsvBatches(opts.input, labeled, featurize);
    let rows = 0;
    for await (const b of batchRows(source, { batchSize })) {
      const p = await model.predict(b);
      const lines: string[] = new Array(b.rows);
      for (let i = 0; i < b.rows; i++) lines[i] = p[i].toPrecision(7);
      rows += b.rows;
      if (!out.write(lines.join('\n') + '\n')) await once(out, 'drain');
    }
    return rows;
  } finally {
    model.dispose();
  }
}

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
