/**
 * bench/parquet: which Parquet library writes and reads our shard shape fastest?
 *
 *     node dist/bench/parquet.js [--rows 100000] [--slow-rows 20000]
 *
 * One shard of real Criteo values (the Kaggle 10k sample repeated, parsed and
 * featurized as preprocess does): label uint8, i1..i13 float32, c1..c26 uint32.
 * parquetjs-lite works on row objects and is far slower, so it gets --slow-rows
 * (rows/s is per row either way). Prints a table: write rows/s, read rows/s, bytes,
 * and whether the values read back equal the values written.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { tableFromIPC } from 'apache-arrow';
import * as parquetWasm from 'parquet-wasm';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { parquetRead } from 'hyparquet';
import { TsvParser, type RawBatch } from '../stages/parse.js';
import { featurizeBatch } from '../stages/featurize.js';
import { CAT_NAMES, DENSE_NAMES, NUM_CAT, NUM_DENSE, emptyFeatureBatch, type FeatureBatch } from '../core/schema.js';
import { encodeShard, decodeShard } from '../io/shard-format.js';
import { KAGGLE_10K } from '../test/helpers/paths.js';

const { values: args } = parseArgs({ options: { rows: { type: 'string', default: '100000' }, 'slow-rows': { type: 'string', default: '20000' } } });
const ROWS = Number(args.rows);
const SLOW_ROWS = Number(args['slow-rows']);

function realisticShard(rows: number): FeatureBatch {
  const text = fs.readFileSync(KAGGLE_10K);
  const out = emptyFeatureBatch(rows);
  let at = 0;
  const parser = new TsvParser({ batchRows: 10000 });
  const raws: RawBatch[] = [];
  parser.write(text, (b) => raws.push(b));
  parser.end((b) => raws.push(b));
  const batches = raws.map((r) => featurizeBatch(r));
  // Each repeat salts the categorical ids so the shard is not 10 copies of one dictionary.
  for (let rep = 0; at < rows; rep++) {
    for (const b of batches) {
      const n = Math.min(b.rows, rows - at);
      if (n <= 0) break;
      out.label!.set(b.label!.subarray(0, n), at);
      for (let i = 0; i < NUM_DENSE; i++) out.dense[i].set(b.dense[i].subarray(0, n), at);
      for (let i = 0; i < NUM_CAT; i++) for (let r = 0; r < n; r++) out.cats[i][at + r] = b.cats[i][r] === 0 ? 0 : (b.cats[i][r] + rep * 0x9e3779b1) >>> 0;
      at += n;
    }
  }
  return out;
}

function head(b: FeatureBatch, rows: number): FeatureBatch {
  return { rows, label: b.label!.subarray(0, rows), dense: b.dense.map((a) => a.subarray(0, rows)), cats: b.cats.map((a) => a.subarray(0, rows)) };
}

function same(a: FeatureBatch, b: FeatureBatch): boolean {
  if (a.rows !== b.rows) return false;
  for (let r = 0; r < a.rows; r++) if (a.label![r] !== b.label![r]) return false;
  for (let i = 0; i < NUM_DENSE; i++) for (let r = 0; r < a.rows; r++) if (!Object.is(a.dense[i][r], b.dense[i][r])) return false;
  for (let i = 0; i < NUM_CAT; i++) for (let r = 0; r < a.rows; r++) if (a.cats[i][r] !== b.cats[i][r]) return false;
  return true;
}

function concat(parts: FeatureBatch[]): FeatureBatch {
  const n = parts.reduce((s, p) => s + p.rows, 0);
  const out = emptyFeatureBatch(n);
  let at = 0;
  for (const p of parts) {
    out.label!.set(p.label!, at);
    p.dense.forEach((c, i) => out.dense[i].set(c, at));
    p.cats.forEach((c, i) => out.cats[i].set(c, at));
    at += p.rows;
  }
  return out;
}

function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const v = fn();
  return [v, (performance.now() - t0) / 1000];
}
async function timeAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, (performance.now() - t0) / 1000];
}

interface Result {
  library: string;
  rows: number;
  writeRowsPerSec: number;
  readRowsPerSec: number;
  bytes: number;
  identical: boolean;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-parquet-'));
const shard = realisticShard(ROWS);
const results: Result[] = [];

// parquet-wasm via Arrow IPC (what io/shard-format.ts does), snappy, no dictionary.
{
  encodeShard(head(shard, 1000), 'parquet'); // warm up the wasm module
  const [bytes, w] = time(() => encodeShard(shard, 'parquet'));
  const [back, r] = time(() => concat(decodeShard(bytes, 'parquet', 'bench')));
  results.push({ library: 'parquet-wasm 0.8 (snappy, via Arrow IPC)', rows: ROWS, writeRowsPerSec: ROWS / w, readRowsPerSec: ROWS / r, bytes: bytes.byteLength, identical: same(back, shard) });
  // Its default properties (dictionary pages) for comparison: smaller, but parquetjs-lite cannot read them.
  const dictProps = () => new parquetWasm.WriterPropertiesBuilder().setCompression(parquetWasm.Compression.SNAPPY).build();
  const { tableToIPC } = await import('apache-arrow');
  const { featureBatchToTable } = await import('../io/arrow-batch.js');
  const [bytes2, w2] = time(() => parquetWasm.writeParquet(parquetWasm.Table.fromIPCStream(tableToIPC(featureBatchToTable(shard), 'stream')), dictProps()));
  const [, r2] = time(() => tableFromIPC(parquetWasm.readParquet(bytes2, { batchSize: 1 << 20 }).intoIPCStream()));
  results.push({ library: 'parquet-wasm 0.8 (snappy + dictionary)', rows: ROWS, writeRowsPerSec: ROWS / w2, readRowsPerSec: ROWS / r2, bytes: bytes2.byteLength, identical: same(concat(decodeShard(bytes2, 'parquet', 'bench')), shard) });
}

// hyparquet-writer (columnar typed arrays) / hyparquet.
{
  const schema = [
    { name: 'root', num_children: 1 + NUM_DENSE + NUM_CAT },
    { name: 'label', type: 'INT32', converted_type: 'UINT_8', repetition_type: 'REQUIRED' },
    ...DENSE_NAMES.map((name) => ({ name, type: 'FLOAT', repetition_type: 'REQUIRED' })),
    // hyparquet-writer 0.17 turns UINT_32 values >= 2^31 into numbers its INT32 writer
    // then refuses ("expected int32 value"), so the ids go in as plain INT32 bits here:
    // a handicap in correctness (readers see signed ids), not in speed.
    ...CAT_NAMES.map((name) => ({ name, type: 'INT32', repetition_type: 'REQUIRED' })),
  ];
  const columnData = [
    { name: 'label', data: Int32Array.from(shard.label!) },
    ...DENSE_NAMES.map((name, i) => ({ name, data: shard.dense[i] })),
    ...CAT_NAMES.map((name, i) => ({ name, data: new Int32Array(shard.cats[i].buffer, shard.cats[i].byteOffset, shard.rows) })),
  ];
  const [buf, w] = time(() => parquetWriteBuffer({ columnData, schema } as unknown as Parameters<typeof parquetWriteBuffer>[0]));
  const [cols, r] = await timeAsync(async () => {
    const got: Record<string, { rowStart: number; columnData: ArrayLike<number> }[]> = {};
    await parquetRead({ file: buf, onChunk: (c: { columnName: string; rowStart: number; columnData: ArrayLike<number> }) => (got[c.columnName] ??= []).push(c) } as never);
    return got;
  });
  const back = emptyFeatureBatch(ROWS);
  const fill = (dst: { [i: number]: number }, parts: { rowStart: number; columnData: ArrayLike<number> }[], u32 = false) => {
    for (const p of parts) for (let k = 0; k < p.columnData.length; k++) dst[p.rowStart + k] = u32 ? Number(p.columnData[k]) >>> 0 : Number(p.columnData[k]);
  };
  fill(back.label!, cols.label);
  DENSE_NAMES.forEach((n, i) => fill(back.dense[i], cols[n]));
  CAT_NAMES.forEach((n, i) => fill(back.cats[i], cols[n], true));
  results.push({ library: 'hyparquet-writer 0.17 / hyparquet (snappy; ids as plain INT32)', rows: ROWS, writeRowsPerSec: ROWS / w, readRowsPerSec: ROWS / r, bytes: buf.byteLength, identical: same(back, shard) });
}

// parquetjs-lite (row objects), the package named in the design card.
{
  const require = createRequire(import.meta.url);
  const parquet = require('parquetjs-lite');
  const fields: Record<string, unknown> = { label: { type: 'UINT_8', compression: 'SNAPPY' } };
  for (const n of DENSE_NAMES) fields[n] = { type: 'FLOAT', compression: 'SNAPPY' };
  // parquetjs-lite cannot write UINT_32 values >= 2^31 (its toPrimitive refuses them, and
  // its INT32 encoder refuses them unsigned), so ids go in as INT32 bits, as for hyparquet.
  for (const n of CAT_NAMES) fields[n] = { type: 'INT32', compression: 'SNAPPY' };
  const schema = new parquet.ParquetSchema(fields);
  const small = head(shard, SLOW_ROWS);
  const file = path.join(tmp, 'lite.parquet');
  const [, w] = await timeAsync(async () => {
    const writer = await parquet.ParquetWriter.openFile(schema, file, { rowGroupSize: SLOW_ROWS });
    for (let r = 0; r < SLOW_ROWS; r++) {
      const row: Record<string, number> = { label: small.label![r] };
      for (let i = 0; i < NUM_DENSE; i++) row[DENSE_NAMES[i]] = small.dense[i][r];
      for (let i = 0; i < NUM_CAT; i++) row[CAT_NAMES[i]] = small.cats[i][r] | 0;
      await writer.appendRow(row);
    }
    await writer.close();
  });
  const back = emptyFeatureBatch(SLOW_ROWS);
  const [, r] = await timeAsync(async () => {
    const reader = await parquet.ParquetReader.openFile(file);
    const cursor = reader.getCursor();
    let rec;
    let k = 0;
    while ((rec = await cursor.next())) {
      back.label![k] = rec.label;
      for (let i = 0; i < NUM_DENSE; i++) back.dense[i][k] = rec[DENSE_NAMES[i]];
      for (let i = 0; i < NUM_CAT; i++) back.cats[i][k] = rec[CAT_NAMES[i]] >>> 0; // it returns UINT_32 signed
      k++;
    }
    await reader.close();
  });
  results.push({ library: 'parquetjs-lite 0.8 (snappy, row objects; ids as plain INT32)', rows: SLOW_ROWS, writeRowsPerSec: SLOW_ROWS / w, readRowsPerSec: SLOW_ROWS / r, bytes: fs.statSync(file).size * (ROWS / SLOW_ROWS), identical: same(back, small) });
}

fs.rmSync(tmp, { recursive: true, force: true });
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(`Parquet libraries on one shard of ${fmt(ROWS)} rows x 40 columns (label uint8, 13 float32, 26 uint32), node ${process.version}, ${os.cpus().length} CPUs`);
console.log('| library | rows | write rows/s | read rows/s | bytes per 100k rows | values identical |');
console.log('|---|---:|---:|---:|---:|---|');
for (const r of results) console.log(`| ${r.library} | ${fmt(r.rows)} | ${fmt(r.writeRowsPerSec)} | ${fmt(r.readRowsPerSec)} | ${fmt((r.bytes / Math.max(r.rows, ROWS)) * 100000)} | ${r.identical ? 'yes' : 'NO'} |`);
