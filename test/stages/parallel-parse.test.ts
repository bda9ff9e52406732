import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseTsv, type ParseStats, type RejectRecord } from '../../stages/parse.js';
import { featurize, type SourcedFeatureBatch } from '../../stages/featurize.js';
import { parseFeaturizeParallel, type ParallelParseOptions } from '../../stages/parallel-parse.js';
import { openInput, type InputMarker } from '../../input/open.js';
import { PipelineError } from '../../core/errors.js';
import { mulberry32 } from '../../core/hash.js';
import { preprocess } from '../../pipeline/preprocess.js';
import { SAMPLE_10K, SAMPLE_TRIMMED, SAMPLE_1K } from '../helpers/samples.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'parallel-parse-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Everything a consumer can observe, flattened per row. */
interface Observed {
  rows: number;
  label: number[];
  values: number[]; // dense bits then cats, row-major
  file: string[];
  line: number[];
  firstRow: number[]; // per row: its batch's firstRow + offset in the batch
  rejects: string[];
  stats: Omit<ParseStats, 'batches'>;
  error: PipelineError | null;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

async function observe(items: (Buffer | InputMarker)[], make: (onReject: (r: RejectRecord) => void) => NodeJS.ReadWriteStream[]): Promise<Observed> {
  const o: Observed = { rows: 0, label: [], values: [], file: [], line: [], firstRow: [], rejects: [], stats: null as never, error: null };
  const stages = make((r) => o.rejects.push(`${r.file}|${r.line}|${r.reason}|${r.field}|${r.message}|${r.truncated}|${Buffer.from(r.raw).toString('hex')}`));
  try {
    await pipeline([
      Readable.from(items, { objectMode: true }),
      ...stages,
      new Writable({
        objectMode: true,
        write(b: SourcedFeatureBatch, _e, cb) {
          for (let r = 0; r < b.rows; r++) {
            o.label.push(b.label ? b.label[r] : -1);
            for (const c of b.dense) {
              f32[0] = c[r];
              o.values.push(u32[0]);
            }
            for (const c of b.cats) o.values.push(c[r]);
            o.file.push(b.source!.file);
            o.line.push(b.source!.lines[r]);
            o.firstRow.push(b.source!.firstRow + r);
          }
          o.rows += b.rows;
          cb();
        },
      }),
    ]);
  } catch (err) {
    o.error = err as PipelineError;
  }
  const { batches: _b, ...stats } = (stages[0] as unknown as { stats: ParseStats }).stats;
  o.stats = stats;
  return o;
}

function firstDiff(a: Observed, b: Observed): string | null {
  if (a.rows !== b.rows) return `rows ${a.rows} vs ${b.rows}`;
  for (const k of ['label', 'file', 'line', 'firstRow', 'values', 'rejects'] as const) {
    const x = a[k] as unknown[];
    const y = b[k] as unknown[];
    if (x.length !== y.length) return `${k}: length ${x.length} vs ${y.length}`;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return `${k}[${i}]: ${String(x[i])} vs ${String(y[i])}`;
  }
  return null;
}

/** Input items: a marker per file, then its bytes in pieces of random sizes (1 byte to 200 kB). */
function items(files: { name: string; bytes: Buffer }[], seed: number): (Buffer | InputMarker)[] {
  const rand = mulberry32(seed);
  const out: (Buffer | InputMarker)[] = [];
  files.forEach((f, index) => {
    out.push({ kind: 'input-file', file: f.name, index });
    for (let p = 0; p < f.bytes.length; ) {
      const n = Math.max(1, Math.floor(rand() ** 3 * 200_000));
      out.push(f.bytes.subarray(p, p + n));
      p += n;
    }
  });
  return out;
}

const MAX_LINE = 1000;
const kaggle = fs.readFileSync(SAMPLE_10K);
/** A file with every quirk: CRLF, empty lines, bad rows of each kind, over-long lines (with and without CR), no final newline. */
function dirtyFile(): Buffer {
  const lines = kaggle.toString('latin1').split('\n').slice(0, 3000);
  const rand = mulberry32(7);
  const bad = [
    (l: string) => l.replace(/^([01])\t[^\t]*\t/, '$1\tx7\t'),
    (l: string) => '2' + l.slice(1),
    (l: string) => l + '\textra\tfields',
    (l: string) => l.replace(/\t([0-9a-f]{8})\t/, '\t$1ff\t'),
    (l: string) => l.replace(/\t([0-9a-f]{8})\t/, '\tzz\t'),
    (l: string) => l.slice(0, 20) + '\x00' + l.slice(21),
    (l: string) => l + '\t'.repeat(3) + 'y'.repeat(MAX_LINE * 3), // far too long
    (l: string) => l.slice(0, 2) + 'z'.repeat(MAX_LINE - 1) + '\r', // exactly maxLineBytes + 1 with a CR: fine length, bad int
    (l: string) => l.slice(0, 2) + '1'.repeat(MAX_LINE + 1), // maxLineBytes + 1 without CR: too long
    () => '',
    (l: string) => l + '\r',
  ];
  const out = lines.map((l) => (rand() < 0.08 ? bad[Math.floor(rand() * bad.length)](l) : l));
  out.push('y'.repeat(MAX_LINE * 5)); // an over-long last line without a final newline
  return Buffer.from(out.join('\n'), 'latin1');
}

/** A byte order mark, rows with too few fields, and a last line cut inside a categorical (no newline). */
function bomFile(): Buffer {
  const lines = kaggle.toString('latin1').split('\n').slice(0, 500);
  lines[10] = '1';
  lines[20] = lines[20].split('\t').slice(0, 14).join('\t');
  lines[30] = lines[30].split('\t').slice(0, 15).join('\t');
  lines[40] = '0\t';
  const last = lines[499].replace(/\t+$/, '');
  lines[499] = /[0-9a-f]{8}$/.test(last) ? last.slice(0, -3) : last + '\tabc';
  return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(lines.join('\n'), 'latin1')]);
}

const FILES = [
  { name: 'kaggle.tsv', bytes: kaggle },
  { name: 'dirty.tsv', bytes: dirtyFile() },
  { name: 'empty.tsv', bytes: Buffer.alloc(0) },
  { name: 'quirks.tsv', bytes: fs.readFileSync(SAMPLE_TRIMMED) },
  { name: 'terabyte.tsv', bytes: fs.readFileSync(SAMPLE_1K) },
  { name: 'bom.tsv', bytes: bomFile() },
];

function single(opts: { onBadRow?: 'fail' | 'skip'; buckets?: number; seed?: number }) {
  return (onReject: (r: RejectRecord) => void) => [parseTsv({ maxLineBytes: MAX_LINE, onBadRow: opts.onBadRow, onReject, batchRows: 999 }), featurize({ buckets: opts.buckets, seed: opts.seed })];
}
function parallel(opts: Partial<ParallelParseOptions>) {
  return (onReject: (r: RejectRecord) => void) => [parseFeaturizeParallel({ maxLineBytes: MAX_LINE, onReject, ...opts })];
}

t.test('same rows, values, lines, sources, rejects and stats as parseTsv | featurize, whatever the chunking', async (t) => {
  const input = items(FILES, 1);
  const ref = await observe(input, single({ onBadRow: 'skip', buckets: 1000, seed: 3 }));
  t.equal(ref.error, null);
  t.ok(ref.rejects.length > 100, `the dirty file has rejects (${ref.rejects.length})`);
  t.ok(ref.rejects.some((r) => r.includes('line-too-long')));
  t.ok(['too-few-fields', 'truncated-line'].every((k) => ref.rejects.some((r) => r.includes(`bom.tsv|`) && r.includes(k))), 'bom.tsv: short rows and a cut-off last line rejected');
  t.ok(!ref.rejects.some((r) => r.startsWith('bom.tsv|1|')), 'bom.tsv: the BOM is not a bad label');
  t.ok(ref.stats.trimmedRows > 100, `trimmed rows counted (${ref.stats.trimmedRows})`);
  for (const [workers, chunkBytes] of [
    [1, 1 << 20],
    [2, 1],
    [2, 4096],
    [3, 50_000],
  ]) {
    const got = await observe(items(FILES, 2 + workers), parallel({ workers, chunkBytes, onBadRow: 'skip', buckets: 1000, seed: 3 }));
    t.equal(got.error, null);
    t.equal(firstDiff(got, ref), null, `workers ${workers}, chunks of ${chunkBytes} bytes`);
    t.same(got.stats, ref.stats, 'stats');
  }
});

t.test("onBadRow 'fail': the same error (file, line, field, reason) after the same rows", async (t) => {
  const lines = kaggle.toString('latin1').split('\n');
  lines[8500] = lines[8500].replace(/^([01])\t[^\t]*\t/, '$1\tx7\t');
  const files = [FILES[4], { name: 'bad.tsv', bytes: Buffer.from(lines.join('\n'), 'latin1') }];
  const ref = await observe(items(files, 9), single({}));
  t.match(ref.error, { code: 'ERR_BAD_ROW', message: /^bad\.tsv, line 8501, field i1: .*bad-int/ });
  for (const chunkBytes of [4096, 1 << 20]) {
    const got = await observe(items(files, 10), parallel({ workers: 2, chunkBytes }));
    t.ok(got.error instanceof PipelineError, 'the worker\'s PipelineError arrives as one');
    t.equal(got.error!.code, ref.error!.code);
    t.equal(got.error!.message, ref.error!.message);
    t.same(got.error!.context, ref.error!.context);
    // Rows before the bad one may be delivered (or not); none after it.
    t.ok(got.rows <= 1000 + 8500, `${got.rows} rows before the error`);
    t.same(got.line.slice(0, 1000), ref.line.slice(0, 1000));
  }
});

t.test('CR-only line endings stop both parsers with ERR_LINE_ENDINGS, also when skipping bad rows', async (t) => {
  const cr = Buffer.from(kaggle.toString('latin1').split('\n').slice(0, 3000).join('\r'), 'latin1');
  const files = [FILES[4], { name: 'mac.tsv', bytes: cr }];
  const ref = await observe(items(files, 3), single({ onBadRow: 'skip' }));
  t.match(ref.error, { code: 'ERR_LINE_ENDINGS', context: { file: 'mac.tsv', line: 1 } });
  const got = await observe(items(files, 4), parallel({ workers: 2, chunkBytes: 50_000, onBadRow: 'skip' }));
  t.match(got.error, { code: 'ERR_LINE_ENDINGS', context: { file: 'mac.tsv', line: 1 } });
  const small = [{ name: 'mac2.tsv', bytes: Buffer.from(kaggle.toString('latin1').split('\n').slice(0, 2).join('\r'), 'latin1') }];
  t.match((await observe(items(small, 5), single({ onBadRow: 'skip' }))).error, { code: 'ERR_LINE_ENDINGS' }, 'two rows: short enough to be one line');
  t.match((await observe(items(small, 5), parallel({ workers: 2, onBadRow: 'skip' }))).error, { code: 'ERR_LINE_ENDINGS' });
});

t.test('reads gzip input and several files through openInput', async (t) => {
  const gz = path.join(tmp, 'k.tsv.gz');
  fs.writeFileSync(gz, zlib.gzipSync(kaggle));
  const run = async (stages: NodeJS.ReadWriteStream[]) => {
    let rows = 0;
    let lastLine = 0;
    const files = new Set<string>();
    const sink = new Writable({
      objectMode: true,
      write(b: SourcedFeatureBatch, _e, cb) {
        rows += b.rows;
        lastLine = b.source!.lines[b.rows - 1];
        files.add(b.source!.file);
        cb();
      },
    });
    await pipeline([openInput([gz, SAMPLE_1K]), ...stages, sink]);
    return { rows, lastLine, files: [...files] };
  };
  const got = await run([parseFeaturizeParallel({ workers: 2, chunkBytes: 100_000 })]);
  t.same(got, await run([parseTsv(), featurize()]));
  t.same(got.files, [gz, SAMPLE_1K]);
  t.equal(got.rows, 11000);
});

t.test('backpressure: a consumer that does not read stops the input after a few chunks', async (t) => {
  let yielded = 0;
  const src = Readable.from(
    (function* () {
      for (let i = 0; i < 300; i++) {
        yielded++;
        yield kaggle.subarray(0, 65536 * 4);
      }
    })(),
    { objectMode: true, highWaterMark: 1 },
  );
  const p = parseFeaturizeParallel({ workers: 2, chunkBytes: 65536, onBadRow: 'skip' });
  src.pipe(p);
  // Wait for the stalled state itself, not for a guess of how long it takes: the
  // output buffer is full, and the parser refuses more input (pipe paused the source).
  // No wall-clock bound: on a loaded machine this just takes longer.
  const stalled = () => p.stats.rows > 0 && p.readableLength >= p.readableHighWaterMark && p.writableNeedDrain && src.isPaused();
  while (!stalled()) await new Promise((r) => setImmediate(r));
  const atStall = yielded;
  // Let any jobs still on the workers land: delivering them must not pull input.
  for (let i = 0; i < 200; i++) await new Promise((r) => setImmediate(r));
  t.ok(p.stats.rows > 0, 'it did parse');
  t.ok(yielded < 15, `only ${yielded} of 300 input chunks read while nobody consumed (${atStall} at the stall)`);
  p.destroy();
  src.destroy();
});

t.test('validates options', async (t) => {
  t.throws(() => parseFeaturizeParallel({ workers: 0 }), { message: /Invalid option workers: must be a positive integer, got 0/ });
  t.throws(() => parseFeaturizeParallel({ chunkBytes: -1 }), { message: /Invalid option chunkBytes/ });
  t.throws(() => parseFeaturizeParallel({ buckets: 1 }), { message: /Invalid option buckets/ });
  t.throws(() => parseFeaturizeParallel({ onBadRow: 'ignore' as never }), { message: /Invalid option onBadRow/ });
});

t.test('preprocess: shards, manifest and rejects file are byte-identical with and without parse workers', async (t) => {
  const dirty = path.join(tmp, 'dirty.tsv');
  fs.writeFileSync(dirty, FILES[1].bytes);
  const content = (dir: string) =>
    Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex')]));
  const run = async (parseWorkers: number, format: 'arrow' | 'parquet') => {
    const out = path.join(tmp, `pp-${parseWorkers}-${format}`);
    const rejects = path.join(tmp, `rej-${parseWorkers}-${format}.tsv`);
    const s = await preprocess({ inputs: [SAMPLE_10K, dirty, SAMPLE_1K], out, format, shardRows: 3000, onBadRow: 'skip', rejects, parseWorkers, chunkBytes: 20_000, concurrency: 1 });
    return { s, dir: content(out), rejects: fs.readFileSync(rejects, 'utf8') };
  };
  for (const format of ['arrow', 'parquet'] as const) {
    const a = await run(0, format);
    const b = await run(2, format);
    t.same(b.dir, a.dir, `${format}: same files, same bytes`);
    t.equal(b.rejects, a.rejects);
    t.same({ ...b.s, out: '', seconds: 0, rowsPerSecond: 0 }, { ...a.s, out: '', seconds: 0, rowsPerSecond: 0 }, 'same summary');
    t.ok(a.s.rejected > 100);
  }
});
