/**
 * The model's own types. The batch, vocabulary and location-code contracts it
 * consumes are defined by the layers below (core/schema, stages/vocab, scma/codes)
 * and re-exported here for convenience.
 */
import type { TrainBatch } from '../core/schema.js';
import type { Vocabulary } from '../stages/vocab.js';
import type { LocationCodes } from '../scma/codes.js';
export type { TrainBatch, Vocabulary, LocationCodes };

/**
 * initRows (optional, HashNet/SCMA/ROBE): the largest feature's value count (DLRM's max(ln));
 * the shared memory starts U(±sqrt(1/initRows)) as yanzhoupan/dlrm_ssm's SCMA array does.
 * `train` sets it whenever it counted the values (model/embedding-kinds.ts); default M/d.
 */
export type EmbeddingSpec =
  | { kind: 'full'; vocab: Vocabulary }
  | { kind: 'hashnet'; memoryFloats: number; codes: LocationCodes; initRows?: number }
  | { kind: 'scma'; memoryFloats: number; codes: LocationCodes; initRows?: number }
  | { kind: 'robe'; memoryFloats: number; codes: LocationCodes; initRows?: number };

export interface DlrmConfig {
  /** d, the embedding size (DLRM's --arch-sparse-feature-size). */
  embeddingDim: number;
  /** Bottom MLP layer sizes including input 13 and output d, e.g. [13, 512, 256, 64, 16]. */
  bottomMlp: number[];
  /** Top MLP layer sizes after the interaction, ending in 1, e.g. [512, 256, 1]. */
  topMlp: number[];
  embedding: EmbeddingSpec;
  learningRate: number;
  /** Optimizer for the embedding memory. */
  embeddingOptimizer: 'sgd' | 'adagrad';
  /** Optimizer for the MLP weights (DLRM's --optimizer); default sgd. Adagrad as torch.optim.Adagrad: accumulators from 0, eps 1e-10. */
  denseOptimizer?: 'sgd' | 'adagrad';
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
  /** One SGD step; resolves to the batch's mean binary cross-entropy. A non-finite loss rejects with ERR_NAN_LOSS (train relies on it). */
  trainStep(batch: TrainBatch): Promise<number>;
  /**
   * Optional, for models that run ahead of the host (the fused WebGPU step): queues a
   * step and resolves once it is submitted, with no read-back; the loss accumulates
   * on the device. A caller that uses it reads the losses with takeLoss() (every
   * print-freq steps, before evaluating); trainStep(b) equals queueStep(b) then
   * takeLoss() when nothing else was queued.
   */
  queueStep?(batch: TrainBatch): Promise<void>;
  /** Mean loss of the steps queued since the last call, and their count; throws ERR_NAN_LOSS if it is not finite. */
  takeLoss?(): Promise<{ mean: number; steps: number }>;
  /** Click probabilities, one per row. */
  predict(batch: TrainBatch): Promise<Float32Array>;
  /** The rate of the next steps, dense and embedding alike (a learning-rate schedule sets it per step). */
  setLearningRate?(lr: number): void;
  exportState(): Promise<ModelState>;
  importState(state: ModelState): void;
  dispose(): void;
}
