/**
 * FeatureBatch <-> Apache Arrow. The column layout (label uint8, i1..i13 float32,
 * c1..c26 uint32) is the on-disk schema of every shard and of the stdout stream.
 */
import { Table, RecordBatch, tableFromArrays, Uint8, Float32, Uint32, type Vector } from 'apache-arrow';
import { CAT_NAMES, DENSE_NAMES, NUM_CAT, NUM_DENSE, type FeatureBatch } from '../core/schema.js';
import { PipelineError } from '../core/errors.js';

export function featureBatchToTable(batch: FeatureBatch): Table {
  const cols: Record<string, Uint8Array | Float32Array | Uint32Array> = {};
  if (batch.label) cols.label = batch.label.subarray(0, batch.rows);
  DENSE_NAMES.forEach((n, i) => (cols[n] = batch.dense[i].subarray(0, batch.rows)));
  CAT_NAMES.forEach((n, i) => (cols[n] = batch.cats[i].subarray(0, batch.rows)));
  return tableFromArrays(cols);
}

function column<T extends Uint8Array | Float32Array | Uint32Array>(
  rb: RecordBatch,
  name: string,
  ctor: { new (n: number): T },
  where: string,
): T {
  const v = rb.getChild(name) as Vector | null;
  if (!v) throw new PipelineError('ERR_SCHEMA', `missing column ${name}`, { file: where, field: name });
  const arr = v.toArray() as unknown;
  if (arr instanceof ctor) return arr as T;
  // Another integer/float width than ours (e.g. a shard written by another tool): convert.
  const out = new ctor(rb.numRows);
  for (let i = 0; i < rb.numRows; i++) (out as unknown as number[])[i] = Number((arr as ArrayLike<number | bigint>)[i]);
  return out;
}

/** Converts one Arrow record batch (our schema) back to a FeatureBatch without copying where possible. */
export function recordBatchToFeatureBatch(rb: RecordBatch, where = 'arrow input'): FeatureBatch {
  const hasLabel = rb.schema.fields.some((f) => f.name === 'label');
  return {
    rows: rb.numRows,
    label: hasLabel ? column(rb, 'label', Uint8Array, where) : null,
    dense: DENSE_NAMES.map((n) => column(rb, n, Float32Array, where)),
    cats: CAT_NAMES.map((n) => column(rb, n, Uint32Array, where)),
  };
}

export function* tableToFeatureBatches(table: Table, where = 'arrow input'): Generator<FeatureBatch> {
  for (const rb of table.batches) if (rb.numRows > 0) yield recordBatchToFeatureBatch(rb, where);
}

export const SCHEMA_TYPES = { label: new Uint8(), dense: new Float32(), cat: new Uint32(), NUM_DENSE, NUM_CAT };
