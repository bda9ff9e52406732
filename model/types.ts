/**
 * The contract between the training sink (stages/train*) and the model (model/*).
 * The sink turns FeatureBatches into TrainBatches; the model never sees streams.
 */

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

/**
 * Where element j of the embedding of (feature, value) lives: a uint32 code, taken
 * mod M by the embedding layer, so one code table serves every memory size.
 * HashNet computes codes with a plain hash; SCMA looks them up in the MinHash
 * mapping and falls back to the plain hash for values its sample never saw.
 */
export interface LocationCodes {
  readonly dim: number;
  /** Writes `dim` codes for (feature, value) into out[offset .. offset+dim). No allocation. */
  codesInto(feature: number, value: number, out: Uint32Array, offset: number): void;
}

/** Per-feature vocabulary for full embedding tables: id -> row in 0..size(f)-1. */
export interface Vocabulary {
  /** Rows of feature f's table, including the row for values not in the vocabulary. */
  size(feature: number): number;
  index(feature: number, value: number): number;
}

/**
 * initRows (optional, HashNet/SCMA): the largest feature's value count (DLRM's max(ln));
 * the shared memory starts U(±sqrt(1/initRows)) as yanzhoupan/dlrm_ssm does.
 * Default: memoryFloats / d.
 */
export type EmbeddingSpec =
  | { kind: 'full'; vocab: Vocabulary }
  | { kind: 'hashnet'; memoryFloats: number; codes: LocationCodes; initRows?: number }
  | { kind: 'scma'; memoryFloats: number; codes: LocationCodes; initRows?: number };

export interface DlrmConfig {
  /** d, the embedding size (DLRM's --arch-sparse-feature-size). */
  embeddingDim: number;
  /** Bottom MLP layer sizes including input 13 and output d, e.g. [13, 512, 256, 64, 16]. */
  bottomMlp: number[];
  /** Top MLP layer sizes after the interaction, ending in 1, e.g. [512, 256, 1]. */
  topMlp: number[];
  embedding: EmbeddingSpec;
  learningRate: number;
  /** Optimizer for the embedding memory; dense weights always use SGD. */
  embeddingOptimizer: 'sgd' | 'adagrad';
  seed: number;
}

/** Everything needed to continue training exactly: plain arrays, backend-independent. */
export interface ModelState {
  dense: { name: string; shape: number[]; values: Float32Array }[];
  embedding: { name: string; shape: number[]; values: Float32Array }[];
  optimizer: { name: string; shape: number[]; values: Float32Array }[];
  step: number;
}

export interface Dlrm {
  readonly config: DlrmConfig;
  readonly backend: string;
  /** One SGD step; resolves to the batch's mean binary cross-entropy. */
  trainStep(batch: TrainBatch): Promise<number>;
  /** Click probabilities, one per row. */
  predict(batch: TrainBatch): Promise<Float32Array>;
  exportState(): Promise<ModelState>;
  importState(state: ModelState): void;
  dispose(): void;
}
