/**
 * predictToStream(): one click probability per input row
 * on stdout, from a model saved by `pipeline train --out`. Raw TSV is parsed and
 * featurized with the training data's settings (buckets, hash seed, recorded in
 * model.json); shards are read as they are.
 */
import { Progress } from '../core/progress.js';
import { Readable, Transform, pipeline, type Writable } from 'node:stream';
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

async function* tsvBatches(input: string, labeled: boolean, featurizeOpts: { buckets: number | number[] | null; seed: number } | null, stdin?: Readable, ids?: string[]): AsyncGenerator<FeatureBatch> {
  const { openInput } = await import('../input/open.js');
  const { parseTsv } = await import('../stages/parse.js');
  const { featurize } = await import('../stages/featurize.js');
  const f = featurizeOpts ?? { buckets: null, seed: 0 };
  const parse = parseTsv({ labeled });
  const feat = featurize({ ...(f.buckets !== null ? { buckets: f.buckets } : {}), seed: f.seed });
  // pipeline() destroys every stage with the first error, so iterating the last one surfaces it.
  const chain = ids
    ? pipeline(openInput(input, { markers: false, ...(stdin ? { stdin } : {}) }), idColumnSplitter(ids), parse, feat, () => {})
    : pipeline(openInput(input, stdin ? { stdin } : {}), parse, feat, () => {});
  yield* chain as AsyncIterable<FeatureBatch>;
}

/**
 * Splits the first tab-separated field off every line (an id column), so the rest
 * parses as a Criteo row; the ids queue up in order, one per line, for the writer.
 */
export function idColumnSplitter(ids: string[]): Transform {
  let rest = '';
  const cut = (line: string): string => {
    const tab = line.indexOf('\t');
    ids.push(tab < 0 ? line : line.slice(0, tab));
    return tab < 0 ? '' : line.slice(tab + 1);
  };
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      const text = rest + chunk.toString('latin1');
      const lines = text.split('\n');
      rest = lines.pop()!;
      cb(null, lines.length ? Buffer.from(lines.map(cut).join('\n') + '\n', 'latin1') : Buffer.alloc(0));
    },
    flush(cb) {
      cb(null, rest.length ? Buffer.from(cut(rest.replace(/\r$/, '')) + '\n', 'latin1') : undefined);
    },
  });
}

export interface PredictSourceOptions {
  input: string;
  labeled?: boolean;
  stdin?: Readable;
  /** Collects the first field of each TSV line as the row's id (TSV input only). */
  ids?: string[];
}

/** Feature batches of a predict/evaluate input, TSV featurized as the model's training data was. */
export async function openPredictSource(
  { input, labeled = true, stdin, ids }: PredictSourceOptions,
  featurizeOpts: { buckets: number | number[] | null; seed: number } | null,
): Promise<AsyncIterable<FeatureBatch>> {
  const tsv = (name: string, stream?: Readable) => tsvBatches(name, labeled, featurizeOpts, stream, ids);
  if (input === '-') {
    const { arrow, stream } = await sniffStdin(stdin ?? process.stdin);
    if (arrow) {
      if (ids) throw invalidOption('id', "'column' needs TSV input: an Arrow stream has no id column", 'column');
      // Checked for its end marker: a producer that died mid-stream must not yield fewer rows silently.
      return readCheckedArrowStream(stream);
    }
    return tsv('-', stream);
  }
  if (isShardInput(input)) {
    if (ids) throw invalidOption('id', "'column' needs TSV input: shards have no id column", 'column');
    return readFeatureBatches(input);
  }
  return tsv(input);
}

/** The defaults of predictToStream() (the CLI's option table shows these). */
export const PREDICT_DEFAULTS = Object.freeze({ labeled: true, batchSize: 4096, backend: 'auto' });

export interface PredictOptions {
  model: string;
  input: string;
  labeled?: boolean;
  batchSize?: number;
  backend?: string;
  out?: Writable;
  stdin?: Readable;
  log?: (l: string) => void;
  /**
   * Row ids written before each probability: a number N numbers the rows N, N+1,
   * ...; 'column' takes the first field of each TSV line (which is then not a feature).
   */
  id?: number | 'column';
  /** 'csv': a header `Id,Predicted` and `id,probability` lines (needs id), as Kaggle takes a submission. Default: one value per line, tab-separated after the id. */
  format?: 'plain' | 'csv';
  /** Progress lines by time (rows, rows/s); default none. */
  progress?: { write: (line: string) => void; intervalMs?: number };
}

export async function predictToStream(opts: PredictOptions): Promise<number> {
  const { labeled = PREDICT_DEFAULTS.labeled, batchSize = PREDICT_DEFAULTS.batchSize, out = process.stdout, log = (l: string) => process.stderr.write(l + '\n'), id, format = 'plain' } = opts;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw invalidOption('mini-batch-size', 'must be a positive integer', batchSize);
  if (id !== undefined && id !== 'column' && !(Number.isSafeInteger(id) && id >= 0)) throw invalidOption('id', "must be 'column' or a first id (a non-negative integer)", id);
  if (format !== 'plain' && format !== 'csv') throw invalidOption('format', "must be 'plain' or 'csv'", format);
  if (format === 'csv' && id === undefined) throw invalidOption('format', 'csv (Id,Predicted) needs --id', format);
  const { model, featurize } = await restoreDlrm(opts.model, { backend: opts.backend ?? PREDICT_DEFAULTS.backend, log });
  const progress = opts.progress ? new Progress({ label: 'predict', ...opts.progress }) : undefined;
  try {
    const ids: string[] | undefined = id === 'column' ? [] : undefined;
    const source = await openPredictSource({ input: opts.input, labeled, stdin: opts.stdin, ids }, featurize);
    const sep = format === 'csv' ? ',' : '\t';
    if (format === 'csv' && !out.write('Id,Predicted\n')) await once(out, 'drain');
    let rows = 0;
    for await (const b of batchRows(source, { batchSize })) {
      const p = await model.predict(b);
      const lines: string[] = new Array(b.rows);
      for (let i = 0; i < b.rows; i++) {
        const v = p[i].toPrecision(7);
        if (id === undefined) lines[i] = v;
        else lines[i] = `${ids ? ids[i] : (id as number) + rows + i}${sep}${v}`;
      }
      ids?.splice(0, b.rows); // written: only the ids read ahead stay in memory
      rows += b.rows;
      progress?.tick(rows);
      if (!out.write(lines.join('\n') + '\n')) await once(out, 'drain');
    }
    return rows;
  } finally {
    model.dispose();
  }
}

