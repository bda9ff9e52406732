/**
 * One shard <-> bytes, in either on-disk format. Pure and synchronous so that it runs
 * the same on the main thread (tests, small jobs) and on encode workers.
 *
 * Parquet goes through parquet-wasm (Rust's parquet crate): bench/parquet.ts measured
 * it fastest on our shard shape. Dictionary encoding is off because parquetjs-lite,
 * the other reader we promise, cannot decode RLE_DICTIONARY pages; snappy keeps files
 * small anyway. uint8/uint32 columns are written as INT32 with the UINT_8/UINT_32
 * logical types, which pyarrow, DuckDB and parquet-wasm read back as unsigned.
 */
import { RecordBatchFileWriter, tableFromIPC, tableToIPC, type Table } from 'apache-arrow';
import { openSync, writevSync, fsyncSync, closeSync } from 'node:fs';
import * as parquetWasm from 'parquet-wasm';
import { featureBatchToTable, tableToFeatureBatches } from './arrow-batch.js';
import type { FeatureBatch } from '../core/schema.js';
import type { ShardFormat } from './manifest.js';
import { PipelineError, invalidOption } from '../core/errors.js';
import { crc32Pieces } from '../core/checksum.js';

function parquetWriterProps(): parquetWasm.WriterProperties {
  // Built per call: writeParquet takes ownership of (frees) the properties it is given,
  // and a reused one silently falls back to defaults (dictionary pages, no snappy).
  // A fixed created_by keeps files byte-identical across runs.
  return new parquetWasm.WriterPropertiesBuilder()
    .setCompression(parquetWasm.Compression.SNAPPY)
    .setDictionaryEnabled(false)
    .setMaxRowGroupSize(1 << 20)
    .setCreatedBy('scma-pipeline')
    .build();
}

export function tableToParquet(table: Table): Uint8Array {
  const wasmTable = parquetWasm.Table.fromIPCStream(tableToIPC(table, 'stream'));
  // writeParquet consumes (frees) the wasm table.
  return parquetWasm.writeParquet(wasmTable, parquetWriterProps());
}

export function parquetToTable(bytes: Uint8Array, where: string): Table {
  try {
    const wasmTable = parquetWasm.readParquet(bytes, { batchSize: 1 << 20 });
    return tableFromIPC(wasmTable.intoIPCStream());
  } catch (err) {
    throw new PipelineError('ERR_SHARD', `cannot read Parquet: ${(err as Error).message ?? err}`, { file: where });
  }
}

/** A format from outside the type system (a worker message, a manifest) is checked, not taken for Arrow. */
function checkFormat(format: ShardFormat): void {
  if (format !== 'parquet' && format !== 'arrow') throw invalidOption('format', "must be 'parquet' or 'arrow'", format);
}

export function encodeShard(batch: FeatureBatch, format: ShardFormat): Uint8Array {
  checkFormat(format);
  const table = featureBatchToTable(batch);
  return format === 'parquet' ? tableToParquet(table) : tableToIPC(table, 'file');
}

/**
 * The bytes of encodeShard(batch, format) as a list of pieces, in order, for a
 * gathered write. For Arrow the pieces are the writer's own output chunks: the
 * metadata it encodes and views of the column arrays themselves, so the shard is
 * never joined into one buffer (tableToIPC would copy every column once more).
 */
export async function encodeShardPieces(batch: FeatureBatch, format: ShardFormat): Promise<Uint8Array[]> {
  checkFormat(format);
  if (format === 'parquet') return [encodeShard(batch, format)];
  const writer = RecordBatchFileWriter.writeAll(featureBatchToTable(batch));
  const pieces: Uint8Array[] = [];
  for await (const piece of writer) pieces.push(piece);
  return pieces;
}

/** Writes `pieces` to `file` (created or truncated) and fsyncs it; returns the byte count and their CRC-32. */
export function writePiecesDurably(file: string, pieces: Uint8Array[]): { bytes: number; crc32: number } {
  const fd = openSync(file, 'w');
  let total = 0;
  try {
    // writev takes at most IOV_MAX (1024) pieces per call and may write less than asked.
    let i = 0;
    let skip = 0; // bytes of pieces[i] already written
    while (i < pieces.length) {
      const batch: Uint8Array[] = [];
      for (let j = i; j < pieces.length && batch.length < 1024; j++) batch.push(j === i && skip > 0 ? pieces[j].subarray(skip) : pieces[j]);
      let n = writevSync(fd, batch);
      total += n;
      while (i < pieces.length && n > 0) {
        const left = pieces[i].byteLength - skip;
        if (n >= left) {
          n -= left;
          i++;
          skip = 0;
        } else {
          skip += n;
          n = 0;
        }
      }
      while (i < pieces.length && pieces[i].byteLength === 0) i++;
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // Of the bytes in memory, just written: the manifest records it, readers check it.
  return { bytes: total, crc32: crc32Pieces(pieces) };
}

/** Decodes one shard's bytes into FeatureBatches (one per record batch / row group chunk). */
export function decodeShard(bytes: Uint8Array, format: ShardFormat, where: string): FeatureBatch[] {
  let table: Table;
  if (format === 'parquet') table = parquetToTable(bytes, where);
  else {
    try {
      table = tableFromIPC(bytes);
    } catch (err) {
      throw new PipelineError('ERR_SHARD', `cannot read Arrow IPC: ${(err as Error).message}`, { file: where });
    }
  }
  try {
    return [...tableToFeatureBatches(table, where)];
  } catch (err) {
    if (err instanceof PipelineError) throw err;
    // A cut-off file can parse as Arrow yet miss its buffers (apache-arrow then fails inside).
    throw new PipelineError('ERR_SHARD', `cannot read shard (truncated or corrupt?): ${(err as Error).message}`, { file: where });
  }
}

export function formatOfFile(file: string): ShardFormat | null {
  if (/\.parquet$/i.test(file)) return 'parquet';
  if (/\.(arrow|arrows|ipc|feather)$/i.test(file)) return 'arrow';
  return null;
}
