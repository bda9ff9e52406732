/**
 * predictToStream(): one click probability per input row
 * on stdout, from a model saved by `pipeline train --out`. Raw TSV is parsed and
 * featurized with the training data's settings (buckets, hash seed, recorded in
 * model.json); shards are read as they are.
 */
import { Readable, pipeline, type Writable } from 'node:stream';
import { once } from 'node:events';
import { invalidOption } from '../core/errors.js';
import type { FeatureBatch } from '../core/schema.js';
import { restoreDlrm } from '../model/saved-model.js';
import { isShardInput, readCheckedArrowStream, readFeatureBatches } from '../io/read-shards.js';
import { batchRows } from '../stages/batcher.js';

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
  const { openInput } = await import('../input/open.js');
  const { parseTsv } = await import('../stages/parse.js');
  const { featurize } = await import('../stages/featurize.js');
  const src = openInput(input, stdin ? { stdin } : {});
  const f = featurizeOpts ?? { buckets: null, seed: 0 };
  // pipeline() destroys every stage with the first error, so iterating the last one surfaces it.
  const chain = pipeline(src, parseTsv({ labeled }), featurize({ ...(f.buckets !== null ? { buckets: f.buckets } : {}), seed: f.seed }), () => {});
  yield* chain as AsyncIterable<FeatureBatch>;
}

/** The defaults of predictToStream() (the CLI's option table shows these). */
export const PREDICT_DEFAULTS = Object.freeze({ labeled: true, batchSize: 4096, backend: 'auto' });

export async function predictToStream(opts: { model: string; input: string; labeled?: boolean; batchSize?: number; backend?: string; out?: Writable; stdin?: Readable; log?: (l: string) => void }): Promise<number> {
  const { labeled = PREDICT_DEFAULTS.labeled, batchSize = PREDICT_DEFAULTS.batchSize, out = process.stdout, log = (l: string) => process.stderr.write(l + '\n') } = opts;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw invalidOption('mini-batch-size', 'must be a positive integer', batchSize);
  const { model, featurize } = await restoreDlrm(opts.model, { backend: opts.backend ?? PREDICT_DEFAULTS.backend, log });
  try {
    let source: AsyncIterable<FeatureBatch>;
    if (opts.input === '-') {
      const { arrow, stream } = await sniffStdin(opts.stdin ?? process.stdin);
      if (arrow) {
        // Checked for its end marker: a producer that died mid-stream must not yield fewer rows silently.
        source = readCheckedArrowStream(stream);
      } else source = tsvBatches('-', labeled, featurize, stream);
    } else if (isShardInput(opts.input)) {
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

