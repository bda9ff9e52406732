/**
 * Where train's rows come from: shards (re-readable, counted up front, split by
 * global row index) or an Arrow IPC stream on stdin (read once; a fraction split
 * holds back the stream's tail until it ends, since its length is unknown).
 */
import { promises as fsp } from 'node:fs';
import type { Readable } from 'node:stream';
import { PipelineError } from '../../core/errors.js';
import type { FeatureBatch } from '../../core/schema.js';
import { readCheckedArrowStream, readFeatureBatches, readManifest, type Manifest } from '../../io/read-shards.js';
import { fingerprintFile } from '../../io/fingerprint.js';
import { checksumHex, crc32 } from '../../core/checksum.js';
import { planSplit, requireTotal, resolveDaySplit, selectRows, TailHoldback, type RowRange, type SplitPlan, type SplitSpec } from '../../stages/split.js';

export interface TrainSource {
  /** The input as the user named it, for errors. */
  readonly input: string;
  readonly stdin: boolean;
  readonly manifest?: Manifest;
  /**
   * What the rows are, not where they are (the resume fingerprint): a shard
   * directory's per-shard checksums, sizes and row counts from its manifest; one shard
   * file's size and CRC-32 of its first and last MiB; '-' for stdin. The training
   * rows are also the source of the full tables' vocabulary and of a mapping built on
   * the fly, so this keys those too.
   */
  readonly contentKey: string;
  /** The split; for a stdin stream only once it has been read to the end. */
  plan(): SplitPlan | undefined;
  /** A fresh pass over the training rows (count passes, the on-the-fly mapping); absent for stdin. */
  readonly trainRows?: () => AsyncIterable<FeatureBatch>;
  /** Shards: what another thread needs to read the training rows itself (input-thread.ts). */
  readonly shards?: { input: string; train: RowRange };
  /** One epoch's labeled training rows in input order (stdin: the one pass). */
  epochRows(): AsyncIterable<FeatureBatch>;
  /** The validation or test rows: none before a stdin stream has ended. */
  heldOutRows(which: 'val' | 'test'): AsyncIterable<FeatureBatch>;
}

export function requireLabels(b: FeatureBatch, where: string): FeatureBatch {
  if (b.label === null) throw new PipelineError('ERR_INPUT', 'input has no label column: train needs labeled rows', { file: where });
  return b;
}

function emptyIterable(): AsyncIterable<FeatureBatch> {
  return (async function* () {})();
}

/** Shards: a directory with its manifest, or one .parquet/.arrow file (counted with one cheap pass). */
/** A shard directory's identity: CRC-32 over its manifest's shard list (each shard's file, rows, size and checksum). */
function manifestContentKey(m: Manifest): string {
  const list = m.shards.map((s) => [s.file, s.rows, s.bytes, s.crc32 ?? null]);
  return `shards:${m.shards.length}:${CHECKSUM_PREFIX}${checksumHex(crc32(Buffer.from(JSON.stringify(list))))}`;
}

const CHECKSUM_PREFIX = 'crc32:';

async function openShards(input: string, split: SplitSpec, verify: boolean, log?: (line: string) => void): Promise<TrainSource> {
  let stat;
  try {
    stat = await fsp.stat(input);
  } catch (err) {
    throw new PipelineError('ERR_INPUT', `cannot read input: ${(err as Error).message}`, { file: input });
  }
  const open = () => readFeatureBatches(input, { verify });
  let total = 0;
  let manifest: Manifest | undefined;
  let contentKey: string;
  if (stat.isDirectory()) {
    manifest = await readManifest(input);
    contentKey = manifestContentKey(manifest);
    total = manifest.rows;
    // Day files: DLRM's Terabyte split, with the last day's rows from the manifest.
    const days = resolveDaySplit(split, manifest, input);
    if (days.note) log?.(days.note);
    split = days.spec;
  } else {
    const f = await fingerprintFile(input);
    contentKey = `file:${f.size}:${CHECKSUM_PREFIX}${f.head}:${f.tail}`;
    for await (const b of open()) total += b.rows;
  }
  requireTotal(split, total, input);
  if (manifest && !manifest.labeled) throw new PipelineError('ERR_INPUT', 'input has no label column: train needs labeled rows', { file: input });
  const plan = planSplit(split, total);
  if (plan.train.end - plan.train.start === 0) {
    throw new PipelineError('ERR_EMPTY_INPUT', total === 0 ? 'input has no rows' : `no training rows: all ${total} rows are held out by the split`, { file: input });
  }
  const trainRows = () => selectRows(open(), plan.train);
  return {
    input,
    stdin: false,
    manifest,
    contentKey,
    plan: () => plan,
    trainRows,
    shards: { input, train: plan.train },
    epochRows: async function* () {
      for await (const b of trainRows()) yield requireLabels(b, input);
    },
    heldOutRows: (which) => selectRows(open(), plan[which]),
  };
}

/** stdin: one pass; with a fraction split the tail is held back and becomes the held-out rows at the end. */
function openStream(stream: Readable, split: SplitSpec): TrainSource {
  requireTotal(split, undefined, '-');
  const holdback = split.kind === 'fraction' ? new TailHoldback(split) : undefined;
  let plan: SplitPlan | undefined;
  let heldOut: { val: FeatureBatch; test: FeatureBatch } | undefined;
  let read = false;
  return {
    input: '-',
    stdin: true,
    contentKey: '-',
    plan: () => plan,
    epochRows: async function* () {
      if (read) throw new Error('a stdin stream is read once: one epoch');
      read = true;
      let rows = 0;
      for await (const b of readCheckedArrowStream(stream)) {
        requireLabels(b, '<stdin>');
        rows += b.rows;
        const r = holdback ? holdback.push(b) : b;
        if (r && r.rows > 0) yield r;
      }
      if (holdback) {
        const end = holdback.finish();
        heldOut = { val: end.val, test: end.test };
        plan = end.plan;
        if (end.train && end.train.rows > 0) yield end.train;
      } else plan = planSplit({ kind: 'none' }, rows);
    },
    heldOutRows: (which) => {
      const b = heldOut?.[which];
      return b && b.rows > 0 ? (async function* () { yield b; })() : emptyIterable();
    },
  };
}

/** `verify` (default true): check each shard's size and checksum against the manifest as it is read (--no-verify: false). */
export async function openTrainSource(input: string, opts: { stdin?: Readable; split: SplitSpec; verify?: boolean; log?: (line: string) => void }): Promise<TrainSource> {
  return input === '-' ? openStream(opts.stdin ?? process.stdin, opts.split) : openShards(input, opts.split, opts.verify ?? true, opts.log);
}
