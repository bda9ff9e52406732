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
import { tableFromIPC, tableToIPC, type Table } from 'apache-arrow';
import * as parquetWasm from 'parquet-wasm';
import { featureBatchToTable, tableToFeatureBatches } from './arrow-batch.js';
import type { FeatureBatch } from '../pipeline/schema.js';
import type { ShardFormat } from './manifest.js';
import { PipelineError } from '../pipeline/errors.js';

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

export function encodeShard(batch: FeatureBatch, format: ShardFormat): Uint8Array {
  const table = featureBatchToTable(batch);
  return format === 'parquet' ? tableToParquet(table) : tableToIPC(table, 'file');
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
  return [...tableToFeatureBatches(table, where)];
}

export function formatOfFile(file: string): ShardFormat | null {
  if (/\.parquet$/i.test(file)) return 'parquet';
  if (/\.(arrow|arrows|ipc|feather)$/i.test(file)) return 'arrow';
  return null;
}
