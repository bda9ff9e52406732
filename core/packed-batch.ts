/**
 * One parsed-and-featurized chunk of rows in a single ArrayBuffer, so a parse
 * worker hands it to the main thread with one transfer (no structured clone, no
 * per-column messages). Layout for capacity C rows (alignment kept by ordering the
 * widest type first):
 *
 *     lines  float64 x C        (line number of each row within its file)
 *     dense  float32 x C x 13
 *     cats   uint32  x C x 26
 *     label  uint8   x C        (labeled only)
 */
import { NUM_CAT, NUM_DENSE } from './schema.js';

export interface PackedColumns {
  lines: Float64Array;
  label: Uint8Array | null;
  dense: Float32Array[];
  cats: Uint32Array[];
}

export function packedBytes(capacity: number, labeled: boolean): number {
  return capacity * (8 + 4 * NUM_DENSE + 4 * NUM_CAT + (labeled ? 1 : 0));
}

/** Views of the first `rows` rows of a packed buffer of `capacity` rows. */
export function packedViews(buf: ArrayBuffer, capacity: number, labeled: boolean, rows = capacity): PackedColumns {
  const C = capacity;
  const dense0 = 8 * C;
  const cats0 = dense0 + 4 * NUM_DENSE * C;
  const label0 = cats0 + 4 * NUM_CAT * C;
  return {
    lines: new Float64Array(buf, 0, rows),
    dense: Array.from({ length: NUM_DENSE }, (_, i) => new Float32Array(buf, dense0 + 4 * i * C, rows)),
    cats: Array.from({ length: NUM_CAT }, (_, i) => new Uint32Array(buf, cats0 + 4 * i * C, rows)),
    label: labeled ? new Uint8Array(buf, label0, rows) : null,
  };
}

const RELEASE = Symbol('release');

/**
 * Marks `batch` as backed by a buffer its producer can reuse once the consumer is
 * done with it; releaseBatch(batch) says so. A consumer that never calls it only
 * costs the producer a fresh allocation.
 */
export function setRelease<T extends object>(batch: T, release: () => void): T {
  Object.defineProperty(batch, RELEASE, { value: release, enumerable: false, configurable: true });
  return batch;
}

/** For consumers that have copied out (or encoded) what they need: lets the producer reuse the buffers. Once only; later calls do nothing. */
export function releaseBatch(batch: object): void {
  const r = (batch as { [RELEASE]?: () => void })[RELEASE];
  if (r) {
    delete (batch as { [RELEASE]?: () => void })[RELEASE];
    r();
  }
}
