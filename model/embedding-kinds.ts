/**
 * The embedding kinds (full tables, HashNet, SCMA, ROBE) in one registry: how each is
 * built from the training rows, what model.json records of it, and how a saved
 * record becomes the same EmbeddingSpec again. Train builds and saves through it,
 * predict restores through it, so a kind's saved form is written down once; a new
 * kind is one more entry here.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../core/errors.js';
import type { FeatureBatch } from '../core/schema.js';
import { countDistinct, countValues, decodeVocabulary, encodeVocabulary, IdentityVocabulary, type ValueCounter } from '../stages/vocab.js';
import type { EmbeddingSpec, LocationCodes } from './types.js';

export const EMBEDDING_KINDS = ['full', 'hashnet', 'scma', 'robe'] as const;
export type EmbeddingKind = (typeof EMBEDDING_KINDS)[number];

export function isEmbeddingKind(k: unknown): k is EmbeddingKind {
  return (EMBEDDING_KINDS as readonly unknown[]).includes(k);
}

/** What model.json records of the embedding (beside its weights). */
export interface SavedEmbeddingSpec {
  kind: EmbeddingKind;
  dim: number;
  memoryFloats?: number;
  /** full: 'identity' with buckets, or a vocabulary file in the model directory. */
  vocab?: { kind: 'identity'; buckets: number | number[] } | { kind: 'table'; file: string; minCount: number };
  /** hashnet, robe: the code seed. */
  hashSeed?: number;
  /** robe: Z, the floats of each contiguous block. */
  robeBlock?: number;
  /** scma: the mapping file (relative: beside model.json; absolute: the --mapping given) and its meta. */
  mapping?: { file: string; meta?: unknown };
}

export interface EmbeddingBuildOptions {
  dim: number;
  seed: number;
  /** hashnet/scma memory as a fraction of the full tables (used when memoryFloats is absent). */
  compression: number;
  /**
   * compression was asked for, not the default. A stdin stream has no per-feature
   * counts before training: an asked-for compression is then an error, the default
   * one gives way to STREAM_MEMORY_FLOATS.
   */
  compressionGiven?: boolean;
  memoryFloats?: number;
  minCount: number;
  /** SCMA mapping file; built from the training rows when absent. */
  mapping?: string;
  mappingSample: number;
  /** Check the mapping file's stored checksum on load (default true; --no-verify: false). */
  verify?: boolean;
  /** robe: Z (default d). */
  robeBlock?: number;
}

export interface EmbeddingBuildContext {
  /** The input's featurize buckets (its manifest); null: ids are unbounded hashes. */
  buckets: number | number[] | null;
  /** A fresh pass over the training rows; absent when the input can be read only once (stdin). */
  trainRows?: () => AsyncIterable<FeatureBatch>;
  /** Training rows, when known before training. */
  trainRowCount?: number;
  /** The input as the user named it, for errors. */
  input: string;
  log: (line: string) => void;
}

export interface BuiltEmbedding {
  spec: EmbeddingSpec;
  saved: SavedEmbeddingSpec;
  /** Writes the files `saved` names (a vocabulary, a mapping built on the fly) into the model directory. */
  writeFiles(modelDir: string): Promise<void>;
  /** hashnet/scma: M, the floats of shared memory; full: null. */
  memoryFloats: number | null;
  /** Per-feature distinct values of the training rows, when a pass counted them. */
  distinct: number[] | null;
  /**
   * scma with --mapping: the given file's content checksum (ScmaMapping.contentChecksum),
   * its identity for train --resume whatever its path; null otherwise (a mapping built on
   * the fly, like a vocabulary, is a function of the training rows and the settings).
   */
  mappingChecksum?: string | null;
}

interface EmbeddingKindEntry {
  build(o: EmbeddingBuildOptions, ctx: EmbeddingBuildContext): Promise<BuiltEmbedding>;
  /** The spec a saved record describes; `modelDir` holds the files it names. */
  restore(saved: SavedEmbeddingSpec, modelDir: string): Promise<EmbeddingSpec>;
}

const noFiles = async (_modelDir: string): Promise<void> => {};

/** One counting pass over the training rows; `needPass` explains to a stdin user why there is none. */
async function countTrainingValues(ctx: EmbeddingBuildContext, needPass: string): Promise<ValueCounter> {
  if (!ctx.trainRows) throw new PipelineError('ERR_NEEDS_PASS', needPass, { file: ctx.input });
  const t0 = Date.now();
  const counter = await countValues(ctx.trainRows());
  const distinct = counter.distinct();
  ctx.log(`train: counted values of ${counter.rows} training rows in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${sum(distinct)} distinct (feature, value) pairs`);
  return counter;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * hashnet/scma/robe memory when the input is a stream (no counts) and neither
 * --memory-floats nor --compression was given: 2^24 floats (64 MiB), the shared
 * array of our GPU benchmarks; Kaggle at d=16 and compression 1/16 would be 33.8M.
 */
export const STREAM_MEMORY_FLOATS = 2 ** 24;

/**
 * M for hashnet/scma/robe: given, or the compression rate times the full tables' size (which
 * needs a count pass). initRows: the largest feature's value count when counted, so the
 * shared memory starts U(±sqrt(1/max(ln))) as dlrm_ssm's SCMA array does
 * (model/embedding/memory-init.ts); without counts the layer's default M/d.
 */
async function sharedMemory(o: EmbeddingBuildOptions, ctx: EmbeddingBuildContext): Promise<{ memoryFloats: number; distinct: number[] | null; initRows?: number }> {
  if (o.memoryFloats !== undefined) return { memoryFloats: o.memoryFloats, distinct: null };
  if (!ctx.trainRows && !o.compressionGiven) {
    ctx.log(`train: a stdin stream carries no per-feature value counts for --compression: using ${STREAM_MEMORY_FLOATS.toLocaleString('en-US')} floats of shared memory (--memory-floats M to choose)`);
    return { memoryFloats: STREAM_MEMORY_FLOATS, distinct: null };
  }
  if (!ctx.trainRows) throw new PipelineError('ERR_NEEDS_PASS', '--compression on a stdin stream needs the per-feature value counts, a pass before training: give --memory-floats M instead, or read shards', { file: ctx.input });
  // Only the number of distinct values matters here: exact up to 1M per feature, an estimate past it (bounded memory).
  const t0 = Date.now();
  const { rows, distinct, exact } = await countDistinct(ctx.trainRows());
  ctx.log(`train: counted values of ${rows} training rows in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${sum(distinct)} distinct (feature, value) pairs${exact ? '' : ' (estimated: a feature has more than 1,000,000)'}`);
  return { memoryFloats: Math.max(1, Math.round(o.compression * sum(distinct) * o.dim)), distinct, initRows: Math.max(1, ...distinct) };
}

const withInit = (initRows: number | undefined) => (initRows !== undefined ? { initRows } : {});

const full: EmbeddingKindEntry = {
  async build(o, ctx) {
    if (ctx.buckets !== null) {
      return {
        spec: { kind: 'full', vocab: new IdentityVocabulary(ctx.buckets) },
        saved: { kind: 'full', dim: o.dim, vocab: { kind: 'identity', buckets: ctx.buckets } },
        writeFiles: noFiles,
        memoryFloats: null,
        distinct: null,
      };
    }
    const counter = await countTrainingValues(
      ctx,
      '--embedding full on a stdin stream needs bucketed ids (preprocess --buckets N) or shards: its vocabulary is a count pass over the training rows before training',
    );
    const vocab = counter.vocabulary({ minCount: o.minCount });
    const file = 'vocab.bin';
    return {
      spec: { kind: 'full', vocab },
      saved: { kind: 'full', dim: o.dim, vocab: { kind: 'table', file, minCount: o.minCount } },
      writeFiles: async (dir) => {
        const { writeFileAtomic } = await import('../io/atomic-file.js');
        await writeFileAtomic(path.join(dir, file), [new Uint8Array(encodeVocabulary(vocab).buffer)]);
      },
      memoryFloats: null,
      distinct: counter.distinct(),
    };
  },
  async restore(saved, modelDir) {
    const v = saved.vocab;
    if (v?.kind === 'identity') return { kind: 'full', vocab: new IdentityVocabulary(v.buckets) };
    if (v?.kind !== 'table') throw new PipelineError('ERR_MODEL', 'full embedding without a vocabulary', { file: modelDir });
    const buf = await fsp.readFile(path.join(modelDir, v.file));
    const words = new Uint32Array(buf.byteLength / 4);
    new Uint8Array(words.buffer).set(buf);
    return { kind: 'full', vocab: decodeVocabulary(words) };
  },
};

const hashnet: EmbeddingKindEntry = {
  async build(o, ctx) {
    const { memoryFloats, distinct, initRows } = await sharedMemory(o, ctx);
    const { hashNetCodes } = await import('../scma/codes.js');
    return {
      spec: { kind: 'hashnet', memoryFloats, codes: hashNetCodes(o.dim, o.seed), ...withInit(initRows) },
      saved: { kind: 'hashnet', dim: o.dim, memoryFloats, hashSeed: o.seed },
      writeFiles: noFiles,
      memoryFloats,
      distinct,
    };
  },
  async restore(saved) {
    const { hashNetCodes } = await import('../scma/codes.js');
    return { kind: 'hashnet', memoryFloats: requireMemory(saved), codes: hashNetCodes(saved.dim, saved.hashSeed ?? 0) };
  },
};

const MAPPING_FILE = 'mapping.arrow';

/**
 * A hard link when `from` is on the same filesystem (no second copy of a mapping
 * that can be hundreds of MB; the mapping writer replaces files by rename, so a
 * later minhash run into `from` does not change the model's), else a copy.
 */
export async function linkOrCopy(from: string, to: string): Promise<void> {
  await fsp.rm(to, { force: true });
  try {
    await fsp.link(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw err;
    await fsp.copyFile(from, to);
  }
}

const scma: EmbeddingKindEntry = {
  async build(o, ctx) {
    const { memoryFloats, distinct, initRows } = await sharedMemory(o, ctx);
    const { loadMapping, writeMapping } = await import('../scma/mapping-file.js');
    let codes: LocationCodes;
    let mapping: SavedEmbeddingSpec['mapping'];
    let writeFiles = noFiles;
    let mappingChecksum: string | null = null;
    if (o.mapping !== undefined) {
      const m = await loadMapping(o.mapping, { dim: o.dim, verify: o.verify ?? true });
      if (m.dim !== o.dim) throw new PipelineError('ERR_MAPPING_DIM', `mapping has d=${m.dim} but the model's --arch-sparse-feature-size is ${o.dim}`, { file: o.mapping });
      codes = m;
      mappingChecksum = m.contentChecksum;
      // The model directory gets its own copy, so it can be moved or shipped alone.
      mapping = { file: MAPPING_FILE, meta: m.meta };
      const source = o.mapping;
      writeFiles = (dir) => linkOrCopy(source, path.join(dir, MAPPING_FILE));
    } else {
      if (!ctx.trainRows) throw new PipelineError('ERR_NEEDS_PASS', '--embedding scma on a stdin stream needs --mapping FILE (bin/pipeline minhash builds one): building it is a pass before training', { file: ctx.input });
      const { buildMapping } = await import('../scma/reduce.js');
      const t0 = Date.now();
      ctx.log(`train: no --mapping given: building the SCMA MinHash mapping from the ${ctx.trainRowCount} training rows (d=${o.dim}, seed ${o.seed})`);
      const m = await buildMapping(ctx.trainRows(), { dim: o.dim, seed: o.seed, sample: o.mappingSample, ...(ctx.trainRowCount !== undefined ? { totalRows: ctx.trainRowCount } : {}) });
      ctx.log(`train: mapping built in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${m.meta.values} values from ${m.meta.sampledRows} sampled rows`);
      codes = m;
      mapping = { file: MAPPING_FILE, meta: m.meta };
      // Kept beside the model so predict uses exactly these codes (a resume rebuilds the same ones).
      writeFiles = (dir) => writeMapping(path.join(dir, MAPPING_FILE), m).then(() => {});
    }
    return { spec: { kind: 'scma', memoryFloats, codes, ...withInit(initRows) }, saved: { kind: 'scma', dim: o.dim, memoryFloats, mapping }, writeFiles, memoryFloats, distinct, mappingChecksum };
  },
  async restore(saved, modelDir) {
    if (!saved.mapping) throw new PipelineError('ERR_MODEL', 'scma embedding without a mapping', { file: modelDir });
    const { loadMapping } = await import('../scma/mapping-file.js');
    return { kind: 'scma', memoryFloats: requireMemory(saved), codes: await loadMapping(path.resolve(modelDir, saved.mapping.file), { dim: saved.dim }) };
  },
};

const robe: EmbeddingKindEntry = {
  async build(o, ctx) {
    const { memoryFloats, distinct, initRows } = await sharedMemory(o, ctx);
    const { robeCodes } = await import('../scma/robe-codes.js');
    const block = o.robeBlock ?? o.dim;
    return {
      spec: { kind: 'robe', memoryFloats, codes: robeCodes(o.dim, o.seed, block), ...withInit(initRows) },
      saved: { kind: 'robe', dim: o.dim, memoryFloats, hashSeed: o.seed, robeBlock: block },
      writeFiles: noFiles,
      memoryFloats,
      distinct,
    };
  },
  async restore(saved) {
    const { robeCodes } = await import('../scma/robe-codes.js');
    return { kind: 'robe', memoryFloats: requireMemory(saved), codes: robeCodes(saved.dim, saved.hashSeed ?? 0, saved.robeBlock ?? saved.dim) };
  },
};

function requireMemory(saved: SavedEmbeddingSpec): number {
  if (!(Number.isSafeInteger(saved.memoryFloats) && saved.memoryFloats! >= 1)) throw new PipelineError('ERR_MODEL', `${saved.kind} embedding without its memory size`, { field: 'memoryFloats' });
  return saved.memoryFloats!;
}

const REGISTRY: Record<EmbeddingKind, EmbeddingKindEntry> = { full, hashnet, scma, robe };

export function embeddingKind(kind: string): EmbeddingKindEntry {
  if (!isEmbeddingKind(kind)) throw new PipelineError('ERR_MODEL', `unknown embedding kind ${JSON.stringify(kind)}: expected one of ${EMBEDDING_KINDS.join(', ')}`, { field: 'embedding' });
  return REGISTRY[kind];
}

/** Builds the embedding of `kind` for training (count pass, vocabulary or mapping as the kind needs). */
export async function buildEmbedding(kind: EmbeddingKind, o: EmbeddingBuildOptions, ctx: EmbeddingBuildContext): Promise<BuiltEmbedding> {
  return embeddingKind(kind).build(o, ctx);
}

/** The EmbeddingSpec a saved record describes. */
export async function restoreEmbedding(saved: SavedEmbeddingSpec, modelDir: string): Promise<EmbeddingSpec> {
  return embeddingKind(saved.kind).restore(saved, modelDir);
}
