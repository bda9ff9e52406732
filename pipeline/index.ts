/**
 * The library: every stage the CLI uses, for users who build pipelines of their own.
 *
 *   import { openInput, parseTsv, featurize, arrowStreamEncoder } from 'scma-pipeline';
 *   await pipeline(openInput('train.txt.gz'), parseTsv(), featurize({ buckets: 1e6 }), myStage, sink);
 */
export * from '../core/schema.js';
export { PipelineError, invalidOption, type ErrorCode, type ErrorContext } from '../core/errors.js';
export { exactAuc, logLoss, accuracy } from '../core/metrics.js';

// Ingest: bytes -> raw columnar batches -> featurized batches.
export { openInput } from '../input/open.js';
export { parseTsv, TsvParser, type RawBatch, type ParseOptions } from '../stages/parse.js';
export { featurize, featurizeBatch, catId } from '../stages/featurize.js';
export { createRejectsWriter } from '../stages/rejects.js';
export { synthStream, synthRows, writeSynth } from '../input/synth.js';

// Output: shards + manifest, an Arrow IPC stream, and reading either back.
export { preprocess } from './preprocess.js';
export { shardSink } from '../stages/shard-sink.js';
export { openShardOutput } from '../io/shard-output.js';
export { arrowStreamEncoder } from '../io/arrow-stream.js';
export { readFeatureBatches, readArrowStream, readCheckedArrowStream, readManifest } from '../io/read-shards.js';
export { featureBatchToTable, recordBatchToFeatureBatch } from '../io/arrow-batch.js';

// SCMA: the streaming MinHash reduce and the mapping it produces.
export { buildMapping, sampleRows, MinHashReducer, ScmaMapping } from '../scma/reduce.js';
export { hashNetCodes } from '../scma/codes.js';
export { writeMapping, loadMapping } from '../scma/mapping-file.js';

// Training: data path stages, the training loop, the model.
export { shuffleBatches, shuffleStream } from '../stages/shuffle.js';
export { batchRows, batcherStream } from '../stages/batcher.js';
export { ShuffleBatcher, shuffledTrainBatches } from '../stages/shuffle-batcher.js';
export { train, TRAIN_DEFAULTS, type TrainOptions, type TrainSummary } from './train.js';
export { restoreDlrm, saveDlrm } from '../model/saved-model.js';
export { EMBEDDING_KINDS, buildEmbedding, restoreEmbedding } from '../model/embedding-kinds.js';
export { createDlrm } from '../model/dlrm.js';
export { selectBackend } from '../model/backend.js';
export { parseArch } from '../core/option-values.js';
export type * from '../model/types.js';
