/**
 * Checkpoints and saved models on disk.
 *
 * A checkpoint is ONE file (header JSON + raw little-endian arrays) written to a
 * temporary name, fsynced and renamed over the previous one: a SIGKILL at any
 * moment leaves either the old or the new checkpoint, never a mix.
 *
 * The saved model (what predict reads) is model/saved-model.ts.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../core/errors.js';
import type { ModelState } from './types.js';

type Numeric = Float32Array | Uint32Array | Int32Array | Uint8Array | Float64Array;
const DTYPES = { float32: Float32Array, uint32: Uint32Array, int32: Int32Array, uint8: Uint8Array, float64: Float64Array } as const;
type DType = keyof typeof DTYPES;

function dtypeOf(a: Numeric): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Uint32Array) return 'uint32';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint8Array) return 'uint8';
  return 'float64';
}

const MAGIC = Buffer.from('DLRMCKP1');

export { writeFileAtomic } from '../io/atomic-file.js';
import { writeFileAtomic } from '../io/atomic-file.js';

function bytesOf(a: Numeric): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A bundle: JSON metadata plus named typed arrays, in one atomically written file. */
export async function writeBundle(file: string, meta: unknown, arrays: Record<string, Numeric>): Promise<void> {
  const index: { name: string; dtype: DType; length: number; offset: number }[] = [];
  let offset = 0;
  for (const [name, a] of Object.entries(arrays)) {
    index.push({ name, dtype: dtypeOf(a), length: a.length, offset });
    offset += Math.ceil(a.byteLength / 8) * 8;
  }
  const header = Buffer.from(JSON.stringify({ meta, arrays: index }));
  const headerLen = Buffer.alloc(8);
  headerLen.writeUInt32LE(header.length, 0);
  headerLen.writeUInt32LE(offset, 4);
  const pad = (n: number) => Buffer.alloc((8 - (n % 8)) % 8);
  const chunks: (Buffer | Uint8Array)[] = [MAGIC, headerLen, header, pad(header.length)];
  for (const a of Object.values(arrays)) chunks.push(bytesOf(a), pad(a.byteLength));
  await writeFileAtomic(file, chunks);
}

export async function readBundle(file: string): Promise<{ meta: any; arrays: Record<string, Numeric> }> {
  const buf = await fsp.readFile(file);
  if (buf.length < 16 || !buf.subarray(0, 8).equals(MAGIC)) throw new PipelineError('ERR_CHECKPOINT', 'not a checkpoint file (bad magic)', { file });
  const headerLen = buf.readUInt32LE(8);
  const dataLen = buf.readUInt32LE(12);
  const dataStart = 16 + Math.ceil(headerLen / 8) * 8;
  if (dataStart + dataLen > buf.length) throw new PipelineError('ERR_CHECKPOINT', 'truncated checkpoint', { file });
  const header = JSON.parse(buf.subarray(16, 16 + headerLen).toString('utf8'));
  const arrays: Record<string, Numeric> = {};
  for (const e of header.arrays as { name: string; dtype: DType; length: number; offset: number }[]) {
    const C = DTYPES[e.dtype];
    // Copy into an aligned buffer: the file buffer's byteOffset need not be aligned.
    const bytes = buf.subarray(dataStart + e.offset, dataStart + e.offset + e.length * C.BYTES_PER_ELEMENT);
    const out = new C(e.length);
    new Uint8Array(out.buffer).set(bytes);
    arrays[e.name] = out;
  }
  return { meta: header.meta, arrays };
}

export interface DataPosition {
  /** Epoch in progress (0-based). */
  epoch: number;
  /** Training batches of this epoch already stepped. */
  batchInEpoch: number;
  /** Training rows stepped in total. */
  rowsConsumed: number;
}

export interface TrainCheckpoint {
  version: 1;
  /** Identifies the run's settings; a resume with other settings is refused. */
  fingerprint: string;
  step: number;
  position: DataPosition;
  /**
   * The shuffle order is a pure function of (seed, epoch) and the input order, so
   * the data position plus these seeds restore it exactly (the epoch's prefix is
   * replayed through the buffer without training).
   */
  rng: { seed: number; shuffleSeed: number };
  /** Metrics lines already emitted, so a resumed run does not repeat them. */
  lastEval?: unknown;
  /**
   * Running state of the progress report: the loss window not yet printed, the bytes
   * of the metrics file written so far (a resume truncates it there, so no line is
   * repeated) and the last step's loss (the summary's finalTrainLoss, even when a
   * resume has no step left to run).
   */
  progress?: { lossSum: number; lossCount: number; metricsBytes: number; lastLoss: number | null };
  /**
   * Not stored: the full tables' vocabulary and an SCMA mapping built on the fly.
   * Both are pure functions of the training rows and the seed, so a resume recomputes
   * them (one count pass, or the MinHash pass) and gets the same ones; the fingerprint
   * holds the per-feature distinct counts so a changed input is refused, not resumed
   * with different ids. The saved model (saveModel) does store them.
   */
  model: ModelState;
}

function stateArrays(prefix: string, list: ModelState['dense'], arrays: Record<string, Numeric>) {
  return list.map((e, i) => {
    arrays[`${prefix}/${i}`] = e.values;
    return { name: e.name, shape: e.shape };
  });
}

export const CHECKPOINT_FILE = 'checkpoint.bin';

export async function saveCheckpoint(dir: string, ck: TrainCheckpoint): Promise<void> {
  const arrays: Record<string, Numeric> = {};
  const { model, ...rest } = ck;
  const meta = {
    ...rest,
    model: {
      step: model.step,
      dense: stateArrays('dense', model.dense, arrays),
      embedding: stateArrays('embedding', model.embedding, arrays),
      optimizer: stateArrays('optimizer', model.optimizer, arrays),
    },
  };
  await fsp.mkdir(dir, { recursive: true });
  await writeBundle(path.join(dir, CHECKPOINT_FILE), meta, arrays);
}

export async function loadCheckpoint(dir: string): Promise<TrainCheckpoint | null> {
  const file = path.join(dir, CHECKPOINT_FILE);
  try {
    await fsp.access(file);
  } catch {
    return null;
  }
  const { meta, arrays } = await readBundle(file);
  const list = (prefix: string, entries: { name: string; shape: number[] }[]) =>
    entries.map((e, i) => ({ name: e.name, shape: e.shape, values: arrays[`${prefix}/${i}`] as Float32Array }));
  return {
    ...meta,
    model: {
      step: meta.model.step,
      dense: list('dense', meta.model.dense),
      embedding: list('embedding', meta.model.embedding),
      optimizer: list('optimizer', meta.model.optimizer),
    },
  } as TrainCheckpoint;
}

/** Removes temp files a killed writer left behind (they are never read). */
export async function cleanTempFiles(dir: string): Promise<void> {
  let names: string[] = [];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return;
  }
  await Promise.all(names.filter((n) => n.startsWith('.') && n.endsWith('.tmp')).map((n) => fsp.rm(path.join(dir, n), { force: true })));
}
