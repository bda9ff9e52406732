/**
 * The shapes every stage agrees on. Criteo rows are: label, 13 integer ("dense")
 * features, 26 categorical features. Batches are columnar because Arrow and Parquet
 * are, and because featurize/minhash/train all walk one column at a time.
 */
export const NUM_DENSE = 13;
export const NUM_CAT = 26;
export const DENSE_NAMES = Array.from({ length: NUM_DENSE }, (_, i) => `i${i + 1}`);
export const CAT_NAMES = Array.from({ length: NUM_CAT }, (_, i) => `c${i + 1}`);

/** Featurized rows, the unit that flows between preprocess, minhash and train. */
export interface FeatureBatch {
  rows: number;
  /** 0/1 per row, or null when the input had no label column (Kaggle's test.txt). */
  label: Uint8Array | null;
  /** NUM_DENSE columns of log(1 + max(x, 0)); empty -> 0. */
  dense: Float32Array[];
  /** NUM_CAT columns of per-feature hashed ids; 0 is reserved for "empty". */
  cats: Uint32Array[];
}

/** Where a batch's rows came from: one input file per batch, and each row's line in it. */
export interface RowSource {
  file: string;
  /** Position of `file` among the inputs (0-based). */
  fileIndex: number;
  /** Index of the batch's first row among all rows accepted so far, across files (0-based). */
  firstRow: number;
  /** Line number (1-based) of the first row; same as lines[0]. */
  firstLine: number;
  /** Line number (1-based, within `file`) of each row. */
  lines: Float64Array;
}

/**
 * A FeatureBatch with its provenance, as featurize and the parallel parser attach
 * it; the shard sink records it per shard and resumes by it. Batches without it
 * (read back from shards, say) are accepted too: their shards record no source.
 */
export type SourcedFeatureBatch = FeatureBatch & { source?: RowSource };

export function emptyFeatureBatch(rows: number, labeled = true): FeatureBatch {
  return {
    rows,
    label: labeled ? new Uint8Array(rows) : null,
    dense: Array.from({ length: NUM_DENSE }, () => new Float32Array(rows)),
    cats: Array.from({ length: NUM_CAT }, () => new Uint32Array(rows)),
  };
}

/** Row-major arrays for one mini-batch. */
export interface TrainBatch {
  rows: number;
  /** rows x 13, already log-transformed. */
  dense: Float32Array;
  /** rows x 26 per-feature hashed ids (0 = empty), as written by preprocess. */
  cats: Uint32Array;
  /** rows, 0/1 as float; absent for prediction. */
  label?: Float32Array;
}
