/**
 * Test support for shard tests: an independent, straightforward parse of Criteo
 * TSV lines (split on tabs, Number(), parseInt(hex, 16)) into the values a shard
 * must hold, and a reader that concatenates FeatureBatches into plain columns.
 */
import fs from 'node:fs';
import { hash2 } from '../../core/hash.js';
import { NUM_CAT, NUM_DENSE, type FeatureBatch } from '../../core/schema.js';

export interface Columns {
  rows: number;
  label: number[] | null;
  dense: Float32Array[];
  cats: Uint32Array[];
}

/** The featurized values of every non-empty line of a labeled (or unlabeled) TSV file, with seed 0 and no buckets. */
export function expectedColumns(file: string, labeled = true): Columns {
  const lines = fs.readFileSync(file, 'utf8').split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.length > 0);
  const n = lines.length;
  const out: Columns = {
    rows: n,
    label: labeled ? [] : null,
    dense: Array.from({ length: NUM_DENSE }, () => new Float32Array(n)),
    cats: Array.from({ length: NUM_CAT }, () => new Uint32Array(n)),
  };
  lines.forEach((line, r) => {
    const f = line.split('\t');
    let p = 0;
    if (labeled) out.label!.push(Number(f[p++]));
    for (let i = 0; i < NUM_DENSE; i++) {
      const s = f[p++] ?? '';
      out.dense[i][r] = s === '' ? 0 : Math.log1p(Math.max(Number(s), 0));
    }
    for (let i = 0; i < NUM_CAT; i++) {
      const s = f[p++] ?? '';
      // featurize's documented id: 1 + hash2(v, feature, seed) % (2^32 - 1); 0 for empty.
      out.cats[i][r] = s === '' ? 0 : 1 + (hash2(parseInt(s, 16) >>> 0, i, 0) % (2 ** 32 - 1));
    }
  });
  return out;
}

export async function collect(batches: AsyncIterable<FeatureBatch> | Iterable<FeatureBatch>): Promise<Columns & { batches: number }> {
  const parts: FeatureBatch[] = [];
  for await (const b of batches) parts.push(b);
  const n = parts.reduce((s, b) => s + b.rows, 0);
  const labeled = parts.length === 0 || parts[0].label !== null;
  const out: Columns & { batches: number } = {
    rows: n,
    batches: parts.length,
    label: labeled ? [] : null,
    dense: Array.from({ length: NUM_DENSE }, () => new Float32Array(n)),
    cats: Array.from({ length: NUM_CAT }, () => new Uint32Array(n)),
  };
  let at = 0;
  for (const b of parts) {
    if (labeled) for (let r = 0; r < b.rows; r++) out.label!.push(b.label![r]);
    for (let i = 0; i < NUM_DENSE; i++) out.dense[i].set(b.dense[i].subarray(0, b.rows), at);
    for (let i = 0; i < NUM_CAT; i++) out.cats[i].set(b.cats[i].subarray(0, b.rows), at);
    at += b.rows;
  }
  return out;
}

/** First difference between two column sets, or null when they are equal. */
export function firstDifference(a: Columns, b: Columns): string | null {
  if (a.rows !== b.rows) return `rows ${a.rows} != ${b.rows}`;
  if ((a.label === null) !== (b.label === null)) return 'label presence differs';
  for (let r = 0; r < a.rows; r++) if (a.label && a.label[r] !== b.label![r]) return `label row ${r}: ${a.label[r]} != ${b.label![r]}`;
  for (let i = 0; i < NUM_DENSE; i++) for (let r = 0; r < a.rows; r++) if (!Object.is(a.dense[i][r], b.dense[i][r])) return `i${i + 1} row ${r}: ${a.dense[i][r]} != ${b.dense[i][r]}`;
  for (let i = 0; i < NUM_CAT; i++) for (let r = 0; r < a.rows; r++) if (a.cats[i][r] !== b.cats[i][r]) return `c${i + 1} row ${r}: ${a.cats[i][r]} != ${b.cats[i][r]}`;
  return null;
}
