/**
 * SCMA mapping files (Arrow IPC file format, readable by pyarrow/DuckDB):
 *
 * - a mapping ("scma-mapping"): columns feature (uint8), value (uint32) and codes
 *   (FixedSizeList<uint32>[d]), sorted by (feature, value), with d, K, P, seed, hash
 *   family and version in the schema metadata. Locations are code mod M, so one file
 *   serves every memory size.
 * - a partial ("scma-sample", from `minhash --partial`): the sampled rows of one part of
 *   the input, columns row (float64 global row index) and cats (FixedSizeList<uint32>[26]),
 *   sorted by row. Parts merge exactly (see scma/reduce.ts), and a partial is
 *   independent of d and K: 13 MB at P=125k where K x d minima would take ~1 KB a value.
 *
 * Writes are deterministic (fixed order, fixed metadata order) and atomic
 * (io/atomic-file.ts: temp file, fsync, rename, fsync of the directory).
 */
import { promises as fsp } from 'node:fs';
import {
  Field,
  FixedSizeList,
  Float64,
  makeData,
  RecordBatch,
  RecordBatchFileWriter,
  Schema,
  Struct,
  tableFromIPC,
  Uint32,
  Uint8,
  type Data,
  type Table,
} from 'apache-arrow';
import { PipelineError } from '../core/errors.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { ScmaMapping, MAPPING_VERSION, mappingChecksum, type ScmaMeta } from './mapping.js';
import { MinHashReducer } from './reduce.js';
import { HASH_FAMILY } from './codes.js';
import { CHECKSUM_NAME } from '../core/checksum.js';

export const MAPPING_KIND = 'scma-mapping';
export const PARTIAL_KIND = 'scma-sample';
/** Rows per record batch: keeps each batch's body near 32 MB at any d. */
const BATCH_BYTES = 32 << 20;

function fixedList(name: string, size: number): Field {
  return new Field(name, new FixedSizeList(size, new Field('item', new Uint32(), false)), false);
}

function listData(type: FixedSizeList, values: Uint32Array, length: number): Data {
  const child = makeData({ type: new Uint32(), length: values.length, nullCount: 0, data: values });
  return makeData({ type, length, nullCount: 0, child });
}

export interface WriteOptions {
  /** Rows per record batch (default: about 32 MB per batch). */
  batchRows?: number;
}

async function writeBatches(file: string, schema: Schema, total: number, rowBytes: number, columns: (start: number, end: number) => Data[], opts: WriteOptions): Promise<number> {
  const writer = new RecordBatchFileWriter();
  writer.reset(undefined, schema);
  const step = opts.batchRows ?? Math.max(1, Math.floor(BATCH_BYTES / rowBytes));
  // An empty mapping still gets one (empty) batch so readers see the schema's columns.
  for (let start = 0; start < total || start === 0; start += step) {
    const end = Math.min(total, start + step);
    const children = columns(start, end);
    const struct = makeData({ type: new Struct(schema.fields), length: end - start, nullCount: 0, children });
    writer.write(new RecordBatch(schema, struct));
    if (total === 0) break;
  }
  writer.finish();
  return writeFileAtomic(file, writer);
}

function metaMap(entries: [string, string | number][]): Map<string, string> {
  return new Map(entries.map(([k, v]) => [k, String(v)]));
}

/** Writes a mapping; resolves to the file's size in bytes. */
export async function writeMapping(file: string, mapping: ScmaMapping, opts: WriteOptions = {}): Promise<number> {
  const m = mapping.meta;
  const d = m.dim;
  const codesField = fixedList('codes', d);
  const schema = new Schema(
    [new Field('feature', new Uint8(), false), new Field('value', new Uint32(), false), codesField],
    metaMap([
      ['kind', MAPPING_KIND],
      ['version', m.version],
      ['hash_family', m.hashFamily],
      ['dim', d],
      ['num_hash', m.numHash],
      ['sample', m.sample],
      ['seed', m.seed],
      ['values', m.values],
      ['sampled_rows', m.sampledRows],
      ['input_rows', m.inputRows],
      // Of the columns' contents, so a reader can tell a damaged file from a mapping.
      [CONTENT_CHECKSUM_KEY, mappingChecksum(mapping.features, mapping.values, mapping.codes)],
    ]),
  );
  return writeBatches(file, schema, m.values, 5 + 4 * d, (s, e) => [
    makeData({ type: new Uint8(), length: e - s, nullCount: 0, data: mapping.features.subarray(s, e) }),
    makeData({ type: new Uint32(), length: e - s, nullCount: 0, data: mapping.values.subarray(s, e) }),
    listData(codesField.type as FixedSizeList, mapping.codes.subarray(s * d, e * d), e - s),
  ], opts);
}

/** Writes a reducer's sample as a partial; resolves to the file's size in bytes. */
export async function writePartial(file: string, reducer: MinHashReducer, opts: WriteOptions = {}): Promise<number> {
  const { rows, cats } = reducer.rowsSorted();
  const f = reducer.features;
  const catsField = fixedList('cats', f);
  const schema = new Schema(
    [new Field('row', new Float64(), false), catsField],
    metaMap([
      ['kind', PARTIAL_KIND],
      ['version', MAPPING_VERSION],
      ['hash_family', HASH_FAMILY],
      ['sample', reducer.sample],
      ['seed', reducer.seed],
      ['features', f],
      ['sampled_rows', rows.length],
      ['input_rows', reducer.inputRows],
      ['next_row', reducer.nextRow],
    ]),
  );
  return writeBatches(file, schema, rows.length, 8 + 4 * f, (s, e) => [
    makeData({ type: new Float64(), length: e - s, nullCount: 0, data: rows.subarray(s, e) }),
    listData(catsField.type as FixedSizeList, cats.subarray(s * f, e * f), e - s),
  ], opts);
}

const MAGIC = 'ARROW1';

async function readTable(file: string): Promise<{ table: Table; meta: Map<string, string> }> {
  let bytes: Uint8Array;
  try {
    bytes = await fsp.readFile(file);
  } catch (err) {
    throw new PipelineError('ERR_MAPPING', `cannot read mapping file: ${(err as Error).message}`, { file });
  }
  const head = Buffer.from(bytes.subarray(0, 6)).toString('latin1');
  const tail = Buffer.from(bytes.subarray(Math.max(0, bytes.length - 6))).toString('latin1');
  if (head !== MAGIC) throw new PipelineError('ERR_MAPPING', 'not a mapping file (not an Arrow IPC file)', { file });
  if (tail !== MAGIC) throw new PipelineError('ERR_MAPPING', `truncated or corrupt mapping file (${bytes.length} bytes, no Arrow footer)`, { file });
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (err) {
    throw new PipelineError('ERR_MAPPING', `corrupt mapping file: ${(err as Error).message}`, { file });
  }
  return { table, meta: table.schema.metadata };
}

function metaInt(meta: Map<string, string>, key: string, file: string): number {
  const s = meta.get(key);
  const n = s === undefined ? NaN : Number(s);
  if (!Number.isSafeInteger(n) || n < 0) throw new PipelineError('ERR_MAPPING', `bad or missing metadata ${key}: ${JSON.stringify(s)}`, { file });
  return n;
}

/** Concatenated values of a column (copying only when it spans several batches). */
function columnValues<T extends Uint8Array | Uint32Array | Float64Array>(table: Table, name: string, ctor: { new (n: number): T }, width: number, file: string): T {
  const col = table.getChild(name);
  if (!col) throw new PipelineError('ERR_MAPPING', `missing column ${name}`, { file, field: name });
  const parts: T[] = [];
  for (const data of col.data) {
    const leaf = width > 0 ? data.children[0] : data;
    const values = leaf?.values as unknown;
    if (!(values instanceof ctor)) throw new PipelineError('ERR_MAPPING', `column ${name} has type ${String(data.type)}`, { file, field: name });
    const start = width > 0 ? leaf.offset + data.offset * width : data.offset;
    const len = width > 0 ? data.length * width : data.length;
    parts.push((values as T).subarray(start, start + len) as T);
  }
  if (parts.length === 1) return parts[0];
  const out = new ctor(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    (out as Uint32Array).set(p as Uint32Array, o);
    o += p.length;
  }
  return out;
}

function checkListSize(table: Table, name: string, size: number, file: string): void {
  const type = table.schema.fields.find((f) => f.name === name)?.type;
  if (!(type instanceof FixedSizeList) || type.listSize !== size) {
    throw new PipelineError('ERR_MAPPING', `column ${name} is ${String(type)}, expected FixedSizeList[${size}]<Uint32>`, { file, field: name });
  }
}

function notKind(meta: Map<string, string>, want: string, file: string): PipelineError {
  const kind = meta.get('kind');
  if (kind === PARTIAL_KIND && want === MAPPING_KIND) {
    return new PipelineError('ERR_MAPPING', 'is a partial sample (minhash --partial), not a mapping: combine partials with minhash --merge first', { file });
  }
  return new PipelineError('ERR_MAPPING', `not a ${want} file (metadata kind ${JSON.stringify(kind ?? null)})`, { file });
}

/** The metadata key of the mapping's content checksum. */
export const CONTENT_CHECKSUM_KEY = `content_${CHECKSUM_NAME}`;


/**
 * Loads a mapping; `dim`, when given, must match the file's. `verify` (default true)
 * checks the content checksum the writer stored in the metadata.
 */
export async function loadMapping(file: string, opts: { dim?: number; verify?: boolean } = {}): Promise<ScmaMapping> {
  const { table, meta } = await readTable(file);
  if (meta.get('kind') !== MAPPING_KIND) throw notKind(meta, MAPPING_KIND, file);
  const version = metaInt(meta, 'version', file);
  if (version !== MAPPING_VERSION) throw new PipelineError('ERR_MAPPING', `mapping version ${version}, this build reads version ${MAPPING_VERSION}`, { file });
  const hashFamily = meta.get('hash_family') ?? '';
  if (hashFamily !== HASH_FAMILY) throw new PipelineError('ERR_MAPPING', `hash family ${JSON.stringify(hashFamily)}, this build computes ${HASH_FAMILY}`, { file });
  const dim = metaInt(meta, 'dim', file);
  if (opts.dim !== undefined && opts.dim !== dim) {
    throw new PipelineError('ERR_MAPPING_DIM', `mapping has d=${dim} codes per value but d=${opts.dim} was asked for: rebuild it with minhash --dim ${opts.dim}`, { file });
  }
  const metaOut: ScmaMeta = {
    dim,
    numHash: metaInt(meta, 'num_hash', file),
    sample: metaInt(meta, 'sample', file),
    seed: metaInt(meta, 'seed', file),
    hashFamily,
    version,
    values: metaInt(meta, 'values', file),
    sampledRows: metaInt(meta, 'sampled_rows', file),
    inputRows: metaInt(meta, 'input_rows', file),
  };
  checkListSize(table, 'codes', dim, file);
  const features = columnValues(table, 'feature', Uint8Array, 0, file);
  const values = columnValues(table, 'value', Uint32Array, 0, file);
  const codes = columnValues(table, 'codes', Uint32Array, dim, file);
  const n = metaOut.values;
  if (table.numRows !== n || features.length !== n || values.length !== n || codes.length !== n * dim) {
    throw new PipelineError('ERR_MAPPING', `corrupt mapping file: metadata says ${n} values, columns hold ${table.numRows}`, { file });
  }
  const stored = meta.get(CONTENT_CHECKSUM_KEY);
  if (opts.verify !== false && stored !== undefined) {
    const got = mappingChecksum(features, values, codes);
    if (got !== stored) throw new PipelineError('ERR_CHECKSUM', `damaged mapping file: ${CHECKSUM_NAME} of its contents is ${got}, its metadata says ${stored} (--no-verify loads it anyway)`, { file });
  }
  for (let i = 1; i < n; i++) {
    if (features[i] < features[i - 1] || (features[i] === features[i - 1] && values[i] <= values[i - 1])) {
      throw new PipelineError('ERR_MAPPING', `corrupt mapping file: keys not sorted and unique at row ${i}`, { file });
    }
  }
  return new ScmaMapping(metaOut, features, values, codes);
}

/** Loads a partial into a reducer that can merge more partials and build the mapping. */
export async function loadPartial(file: string): Promise<MinHashReducer> {
  const { table, meta } = await readTable(file);
  if (meta.get('kind') !== PARTIAL_KIND) throw notKind(meta, PARTIAL_KIND, file);
  const version = metaInt(meta, 'version', file);
  const hashFamily = meta.get('hash_family') ?? '';
  if (version !== MAPPING_VERSION || hashFamily !== HASH_FAMILY) {
    throw new PipelineError('ERR_MAPPING', `partial written by another version (${version}, ${hashFamily}); this build: ${MAPPING_VERSION}, ${HASH_FAMILY}`, { file });
  }
  const features = metaInt(meta, 'features', file);
  const reducer = new MinHashReducer({ sample: metaInt(meta, 'sample', file), seed: metaInt(meta, 'seed', file), features });
  checkListSize(table, 'cats', features, file);
  const rows = columnValues(table, 'row', Float64Array, 0, file);
  const cats = columnValues(table, 'cats', Uint32Array, features, file);
  if (rows.length !== metaInt(meta, 'sampled_rows', file)) throw new PipelineError('ERR_MAPPING', 'corrupt partial: row count disagrees with its metadata', { file });
  reducer.addSampledRows(rows, cats, file);
  reducer.inputRows = metaInt(meta, 'input_rows', file);
  reducer.nextRow = metaInt(meta, 'next_row', file);
  return reducer;
}

/** What a file is, for commands that accept either kind. */
export async function mappingFileKind(file: string): Promise<string | undefined> {
  return (await readTable(file)).meta.get('kind');
}
