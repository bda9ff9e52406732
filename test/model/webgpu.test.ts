import t from 'tap';
import { selectBackend } from '../../model/backend.js';
import { createEmbedding, defaultEmbeddingImpl } from '../../model/embedding/index.js';
import { BatchDedupe } from '../../model/embedding/webgpu-dedupe.js';
import { locateMode } from '../../model/embedding/webgpu.js';
import { SCATTER_CHUNK, scatterThreads } from '../../model/embedding/webgpu-shaders.js';
import { runWebGpuCheck } from '../../bench/webgpu-check-harness.js';
import { mulberry32 } from '../../core/hash.js';
import { emptyFeatureBatch } from '../../core/schema.js';
import { hashNetCodes } from '../../scma/codes.js';
import { buildMapping } from '../../scma/reduce.js';
import { ScmaMapping } from '../../scma/mapping.js';
import { F, specFor } from './fixtures.js';

function skewedCats(rows: number, values: number, seed: number): Uint32Array {
  const rng = mulberry32(seed);
  const cats = new Uint32Array(rows * F);
  for (let i = 0; i < cats.length; i++) cats[i] = Math.floor(Math.exp(rng() * Math.log(values + 1))) - 1;
  // a few huge ids, so keys are not all small
  for (let i = 0; i < cats.length; i += 17) cats[i] = 0xffffffff - (i % 5);
  return cats;
}

/** What is wrong with a dedupe result, checked against a Map built from scratch ([] when right). */
function dedupeProblems(d: BatchDedupe, cats: Uint32Array, rows: number): string[] {
  const n = rows * F;
  const ref = new Map<string, number[]>();
  for (let k = 0; k < n; k++) {
    const key = `${k % F}:${cats[k]}`;
    if (!ref.has(key)) ref.set(key, []);
    ref.get(key)!.push(k);
  }
  const problems: string[] = [];
  if (d.unique !== ref.size) problems.push(`${d.unique} distinct pairs, expected ${ref.size}`);
  if (d.lookups !== n) problems.push(`${d.lookups} lookups, expected ${n}`);
  if (d.offsets[0] !== 0 || d.offsets[d.unique] !== n) problems.push(`offsets span ${d.offsets[0]}..${d.offsets[d.unique]}, expected 0..${n}`);
  const seenPairs = new Set<string>();
  for (let u = 0; u < d.unique && problems.length < 5; u++) {
    const key = `${d.uf[u]}:${d.uv[u]}`;
    if (seenPairs.has(key)) problems.push(`pair ${key} listed twice`);
    seenPairs.add(key);
    // CSR: exactly the lookups of this pair, in increasing order
    const occ = Array.from(d.occ.subarray(d.offsets[u], d.offsets[u + 1]));
    if (JSON.stringify(occ) !== JSON.stringify(ref.get(key))) problems.push(`lookups of ${key}: ${occ} vs ${ref.get(key)}`);
  }
  for (let k = 0; k < n && problems.length < 5; k++) {
    const u = d.idx[k];
    if (d.uf[u] !== k % F || d.uv[u] !== cats[k]) problems.push(`lookup ${k} maps to pair ${u} = ${d.uf[u]}:${d.uv[u]}`);
  }
  return problems;
}

t.test('BatchDedupe: distinct pairs, lookup -> pair map and CSR lookups per pair', async (t) => {
  const d = new BatchDedupe();
  const big = skewedCats(300, 50, 1);
  t.equal(d.build(big, 300), d.unique);
  t.ok(d.unique < (300 * F) / 2, `skewed ids repeat (${d.unique} distinct of ${300 * F})`);
  t.same(dedupeProblems(d, big, 300), []);
  // Reused tables: a smaller batch after a larger one must not see stale entries.
  const small = skewedCats(7, 1000, 2);
  d.build(small, 7);
  t.same(dedupeProblems(d, small, 7), [], 'small batch after a large one');
  // Same value in different features stays distinct.
  const same = new Uint32Array(2 * F).fill(42);
  d.build(same, 2);
  t.equal(d.unique, F, 'one pair per feature');
  t.same(dedupeProblems(d, same, 2), []);
  // Growth after small batches.
  const bigger = skewedCats(500, 200000, 3);
  d.build(bigger, 500);
  t.same(dedupeProblems(d, bigger, 500), [], 'after growing');
});

/**
 * The scatter shader's walk, in JS: chunks of SCATTER_CHUNK consecutive entries of occ,
 * each adding every run of one pair (idx[occ[q]] unchanged) to that pair's locations.
 * It relies on occ listing the lookups pair by pair, which this checks end to end:
 * the per-location sums must equal sums taken lookup by lookup.
 */
t.test('the chunked scatter walk over BatchDedupe output gives per-location sums', async (t) => {
  const d = 3;
  const dd = new BatchDedupe();
  for (const [rows, values, seed] of [[400, 3, 5], [300, 5000, 6], [1, 10, 7], [5, 2, 8]] as const) {
    const cats = skewedCats(rows, values, seed);
    const n = rows * F;
    const nu = dd.build(cats, rows);
    const rng = mulberry32(seed + 100);
    const grad = Float64Array.from({ length: n * d }, () => rng() - 0.5);
    // Pairs share locations (as SCMA and HashNet do): location of (u, j) = (u * 7 + j) mod 11.
    const loc = (u: number, j: number) => (u * 7 + j) % 11;
    const want = new Float64Array(11);
    for (let k = 0; k < n; k++) for (let j = 0; j < d; j++) want[loc(dd.idx[k], j)] += grad[k * d + j];
    const got = new Float64Array(11);
    let adds = 0;
    let longest = 0;
    const threads = scatterThreads(n, d);
    for (let i = 0; i < threads; i++) {
      const c = Math.floor(i / d);
      const j = i - c * d;
      const start = c * SCATTER_CHUNK;
      const end = Math.min(start + SCATTER_CHUNK, n);
      longest = Math.max(longest, end - start);
      let u = dd.idx[dd.occ[start]];
      let g = 0;
      for (let q = start; q < end; q++) {
        const k = dd.occ[q];
        if (dd.idx[k] !== u) {
          got[loc(u, j)] += g;
          adds++;
          u = dd.idx[k];
          g = 0;
        }
        g += grad[k * d + j];
      }
      got[loc(u, j)] += g;
      adds++;
    }
    const err = Math.max(...want.map((w, l) => Math.abs(w - got[l])));
    t.ok(err < 1e-9, `rows ${rows}, ${values} values: sums agree (largest difference ${err})`);
    t.ok(longest <= SCATTER_CHUNK, 'no thread walks more than a chunk');
    // One add per pair and element, plus one per chunk boundary that cuts a pair.
    t.ok(adds <= (nu + Math.ceil(n / SCATTER_CHUNK)) * d, `${adds} atomic adds for ${nu} pairs`);
  }
});

t.test('locateMode: which GPU path each kind of location codes takes', async (t) => {
  t.equal(locateMode(specFor('full', 4, 6)), 'rows');
  t.equal(locateMode({ kind: 'hashnet', memoryFloats: 97, codes: hashNetCodes(4, 3) }), 'hash', 'HashNet hash ported to WGSL');
  t.equal(locateMode(specFor('hashnet', 4, 6)), 'codes', 'arbitrary LocationCodes: CPU codes per distinct value');
  t.equal(locateMode(specFor('robe', 4, 6)), 'robe', 'ROBE block hash ported to WGSL');
  const b = emptyFeatureBatch(50);
  const rng = mulberry32(4);
  for (let f = 0; f < F; f++) for (let r = 0; r < 50; r++) b.cats[f][r] = Math.floor(rng() * 10);
  const m = await buildMapping([b], { dim: 4, sample: 30, seed: 1 });
  t.equal(locateMode({ kind: 'scma', memoryFloats: 97, codes: m }), 'scma', 'a sorted mapping is searched on the GPU');
  t.equal(locateMode({ kind: 'scma', memoryFloats: 97, codes: m }, 8), 'codes', 'a mapping over the binding limit falls back to CPU codes');
  const n = m.values.length;
  const rev = (a: Uint8Array | Uint32Array) => a.slice().reverse();
  const codes = new Uint32Array(m.codes.length);
  for (let i = 0; i < n; i++) codes.set(m.codes.subarray((n - 1 - i) * 4, (n - i) * 4), i * 4);
  const unsorted = new ScmaMapping(m.meta, rev(m.features) as Uint8Array, rev(m.values) as Uint32Array, codes);
  t.equal(locateMode({ kind: 'scma', memoryFloats: 97, codes: unsorted }), 'codes', 'unsorted keys: no binary search');
});

t.test('webgpu is the default on the webgpu backend and refuses other backends clearly', async (t) => {
  t.equal(defaultEmbeddingImpl('webgpu'), 'webgpu');
  t.equal(defaultEmbeddingImpl('tensorflow'), 'composite');
  await selectBackend('cpu', () => {});
  t.throws(() => createEmbedding('webgpu', 'cpu', { spec: specFor('hashnet', 4, 6), dim: 4, learningRate: 0.1, optimizer: 'sgd', seed: 1 }), { code: 'ERR_BACKEND', message: /needs the webgpu backend.*composite/ });
  t.throws(() => createEmbedding('nope', 'cpu', { spec: specFor('hashnet', 4, 6), dim: 4, learningRate: 0.1, optimizer: 'sgd', seed: 1 }), /must be one of auto, composite, cpu-sparse, webgpu/);
});

t.test('webgpu layer equals the composite layer on the GPU (skipped without an adapter)', async (t) => {
  const backend = await selectBackend('webgpu', () => {});
  if (backend !== 'webgpu') {
    t.plan(0, `skip: no WebGPU adapter here (fell back to ${backend}); bench/webgpu-check.ts runs this on the GPU machine`);
    return;
  }
  const rows = await runWebGpuCheck({ steps: 3 });
  for (const r of rows) t.ok(r.ok, `${r.kind}/${r.optimizer} (${r.mode}): ${JSON.stringify(r)}`);
  await selectBackend('cpu', () => {});
});
