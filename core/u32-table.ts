/**
 * A uint32 -> positive uint32 hash table over two typed arrays, for per-value counts
 * and vocabularies. A JS Map holds at most 2^24 (16,777,216) entries and costs tens of
 * bytes per entry; Criteo Terabyte has features with ~40M distinct ids. This table
 * holds up to 2^31 slots (CAPACITY_LIMIT) at 8 bytes per slot.
 *
 * Open addressing with linear probing. The slot of a key starts at fmix32(key) (a
 * bijection with full avalanche, so runs of consecutive ids spread out). A slot is
 * empty when its value is 0: stored values are >= 1 (a count, or a vocabulary row
 * past the out-of-vocabulary row 0), so every uint32 key, 0 included, can be stored
 * with no sentinel key. The table doubles when it would pass 3/4 full: memory is at
 * most 8 / 0.375 = 21.3 bytes per entry just after a growth, 10.7 just before one.
 * There is no removal (neither use needs it), which keeps probing simple.
 *
 * Counts saturate at 2^32 - 1 instead of wrapping: one value seen more than 4.29
 * billion times (Terabyte has 4.4 billion rows) keeps the largest count, which is
 * all a min-count threshold needs.
 */
import { fmix32 } from './hash.js';

const MAX_VALUE = 0xffffffff;
/** Largest capacity: 2^31 slots, 16 GiB of arrays. */
export const CAPACITY_LIMIT = 2 ** 31;
const MIN_CAPACITY = 16;

export class U32Table {
  private keyArr: Uint32Array;
  private valArr: Uint32Array;
  private mask: number;
  private count = 0;
  /** Entries past which the table doubles (3/4 of the capacity). */
  private limit: number;

  /** `expected`: entries to hold without growing (a hint; the table grows as needed). */
  constructor(expected = 0) {
    let cap = MIN_CAPACITY;
    while (cap * 0.75 < expected && cap < CAPACITY_LIMIT) cap *= 2;
    this.keyArr = new Uint32Array(cap);
    this.valArr = new Uint32Array(cap);
    this.mask = cap - 1;
    this.limit = Math.floor(cap * 0.75);
  }

  get size(): number {
    return this.count;
  }

  get capacity(): number {
    return this.mask + 1;
  }

  /** Bytes of the arrays. */
  get bytes(): number {
    return this.keyArr.byteLength + this.valArr.byteLength;
  }

  /** The slot holding `key`, or the empty slot where it would go. */
  private slot(key: number): number {
    const keys = this.keyArr;
    const vals = this.valArr;
    const mask = this.mask;
    let p = fmix32(key) & mask;
    while (vals[p] !== 0 && keys[p] !== key) p = (p + 1) & mask;
    return p;
  }

  /** The value of `key`, 0 when absent. */
  get(key: number): number {
    return this.valArr[this.slot(key >>> 0)];
  }

  has(key: number): boolean {
    return this.get(key) !== 0;
  }

  /** Sets `key` to `value` (an integer in 1..2^32-1). */
  set(key: number, value: number): void {
    if (!(Number.isInteger(value) && value >= 1 && value <= MAX_VALUE)) throw new RangeError(`U32Table values are integers in 1..${MAX_VALUE}, got ${value}`);
    key >>>= 0;
    let p = this.slot(key);
    if (this.valArr[p] === 0) {
      if (this.count >= this.limit) {
        this.grow();
        p = this.slot(key);
      }
      this.keyArr[p] = key;
      this.count++;
    }
    this.valArr[p] = value;
  }

  /** Adds `delta` (a positive integer, default 1) to `key`'s count, saturating at 2^32 - 1. */
  add(key: number, delta = 1): void {
    key >>>= 0;
    let p = this.slot(key);
    const v = this.valArr[p];
    if (v === 0) {
      if (this.count >= this.limit) {
        this.grow();
        p = this.slot(key);
      }
      this.keyArr[p] = key;
      this.count++;
    }
    const sum = v + delta;
    this.valArr[p] = sum > MAX_VALUE ? MAX_VALUE : sum;
  }

  /** Calls fn(key, value) for every entry, in slot order (not insertion order). */
  forEach(fn: (key: number, value: number) => void): void {
    const keys = this.keyArr;
    const vals = this.valArr;
    for (let p = 0; p < vals.length; p++) if (vals[p] !== 0) fn(keys[p], vals[p]);
  }

  /** Every [key, value], sorted by key (for small tables: one JS array per entry). */
  entries(): [number, number][] {
    const out: [number, number][] = [];
    this.forEach((k, v) => out.push([k, v]));
    return out.sort((a, b) => a[0] - b[0]);
  }

  /** Adds every count of `other` into this one. */
  addAll(other: U32Table): void {
    other.forEach((k, v) => this.add(k, v));
  }

  /** The keys whose value is at least `min`, sorted ascending. */
  keysAtLeast(min = 1): Uint32Array {
    const vals = this.valArr;
    let n = 0;
    for (let p = 0; p < vals.length; p++) if (vals[p] >= min) n++;
    const out = new Uint32Array(n);
    let o = 0;
    for (let p = 0; p < vals.length; p++) if (vals[p] >= min) out[o++] = this.keyArr[p];
    return out.sort();
  }

  private grow(): void {
    const cap = this.capacity * 2;
    if (cap > CAPACITY_LIMIT) throw new RangeError(`U32Table is full: more than ${this.limit} entries would need more than ${CAPACITY_LIMIT} slots`);
    const oldKeys = this.keyArr;
    const oldVals = this.valArr;
    this.keyArr = new Uint32Array(cap);
    this.valArr = new Uint32Array(cap);
    this.mask = cap - 1;
    this.limit = Math.floor(cap * 0.75);
    const keys = this.keyArr;
    const vals = this.valArr;
    const mask = this.mask;
    for (let i = 0; i < oldVals.length; i++) {
      const v = oldVals[i];
      if (v === 0) continue;
      const k = oldKeys[i];
      let p = fmix32(k) & mask;
      while (vals[p] !== 0) p = (p + 1) & mask;
      keys[p] = k;
      vals[p] = v;
    }
  }
}
