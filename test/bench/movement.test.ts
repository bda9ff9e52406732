/**
 * bench/movement: frequency bands, the locations it reads each value's embedding from
 * (checked against the model's own Locator), the RMS figures on memory whose movement
 * is known, and a reduced run with its export for the PyTorch script.
 */
import t from 'tap';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BAND_EDGES, bandLabel, bandOf, locator, movementStats, valueList } from '../../bench/movement-stats.js';
import { movementTable, parseMovementArgs, runMovement } from '../../bench/movement.js';
import { emptyFeatureBatch, NUM_CAT } from '../../core/schema.js';
import { Locator } from '../../model/embedding/locations.js';
import { hashNetCodes } from '../../scma/codes.js';
import { ValueCounter } from '../../stages/vocab.js';

const dir = await mkdtemp(path.join(tmpdir(), 'movement-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

t.test('bands: counts 1-9, 10-99, 100-999, >= 1000', async (t) => {
  t.same([0, 1, 9, 10, 99, 100, 999, 1000, 1e6].map((c) => bandOf(c)), [-1, 0, 0, 1, 1, 2, 2, 3, 3]);
  t.same(BAND_EDGES.map((_, i) => bandLabel(i)), ['1-9', '10-99', '100-999', '>=1000']);
});

/** A batch of `rows` rows whose feature f holds value (r * (f + 3)) % (f + 5) + 1: repeated values, distinct counts. */
function batch(rows: number) {
  const b = emptyFeatureBatch(rows);
  for (let r = 0; r < rows; r++) for (let f = 0; f < NUM_CAT; f++) b.cats[f][r] = ((r * (f + 3)) % (f + 5)) + 1;
  return b;
}

t.test("locations: the same floats the model's Locator reads, for full tables and shared memory", async (t) => {
  const b = batch(40);
  const counter = new ValueCounter();
  counter.add(b);
  const d = 4;
  const cats = new Uint32Array(b.rows * NUM_CAT);
  for (let r = 0; r < b.rows; r++) for (let f = 0; f < NUM_CAT; f++) cats[r * NUM_CAT + f] = b.cats[f][r];
  for (const spec of [{ kind: 'full' as const, vocab: counter.vocabulary() }, { kind: 'hashnet' as const, memoryFloats: 997, codes: hashNetCodes(d, 3) }]) {
    const expected = new Locator(spec, d).flatInto(cats, b.rows, new Int32Array(b.rows * NUM_CAT * d));
    const locate = locator(spec, d);
    const got = new Int32Array(d);
    let same = 0;
    for (let r = 0; r < b.rows; r++) {
      for (let f = 0; f < NUM_CAT; f++) {
        locate(f, b.cats[f][r], got);
        if (got.every((x, j) => x === expected[(r * NUM_CAT + f) * d + j])) same++;
      }
    }
    t.equal(same, b.rows * NUM_CAT, `${spec.kind}: every (row, feature)`);
  }
});

t.test('movement: RMS of the move and of the start per band, and over the whole memory', async (t) => {
  // Two values of c1: 'a' seen 3 times (band 1-9), 'b' 20 times (band 10-99), d = 2.
  const list = { features: new Uint8Array([0, 0]), values: new Uint32Array([7, 8]), counts: new Uint32Array([3, 20]) };
  const initial = new Float32Array([1, -1, 2, 2, 5, 5]);
  const final = new Float32Array([1.5, -1.5, 2, -1, 5, 5]); // a moves (0.5, -0.5), b (0, -3); floats 4, 5 unused
  const at = { 7: [0, 1], 8: [2, 3] } as Record<number, number[]>;
  const s = movementStats(initial, final, list, (_f, v, out) => out.set(at[v]), 2);
  t.equal(s.bands.length, 4);
  t.same(s.bands.map((b) => b.values), [1, 1, 0, 0]);
  t.same(s.bands.map((b) => b.occurrences), [3, 20, 0, 0]);
  t.equal(s.bands[0].rmsInit, 1);
  t.equal(s.bands[0].rmsMove, 0.5);
  t.equal(s.bands[0].ratio, 0.5);
  t.equal(s.bands[1].rmsInit, 2);
  t.ok(Math.abs(s.bands[1].rmsMove - Math.sqrt(4.5)) < 1e-12);
  t.ok(Number.isNaN(s.bands[2].ratio), 'an empty band has no ratio');
  t.ok(Math.abs(s.memoryRmsInit - Math.sqrt((1 + 1 + 4 + 4 + 25 + 25) / 6)) < 1e-12);
  t.ok(Math.abs(s.memoryRmsMove - Math.sqrt((0.25 + 0.25 + 9) / 6)) < 1e-12);
  // Shared memory: both values read float 0; its move counts once for each of them.
  const shared = movementStats(initial, final, list, (_f, v, out) => out.set(v === 7 ? [0, 1] : [0, 2]), 2);
  t.ok(Math.abs(shared.bands[1].rmsMove - Math.sqrt(0.25 / 2)) < 1e-12);
  t.throws(() => movementStats(initial, final.subarray(1), list, () => {}, 2), /6 floats, final 5/);
});

t.test('valueList: every (feature, value) of the rows with its count', async (t) => {
  const c = new ValueCounter();
  c.add(batch(30));
  const l = valueList(c);
  t.equal(l.values.length, c.distinct().reduce((a, b) => a + b, 0));
  let total = 0;
  for (const n of l.counts) total += n;
  t.equal(total, 30 * NUM_CAT, 'counts add up to rows x features');
});

t.test('a reduced run: every kind, bands over all values, and the export the PyTorch script reads', async (t) => {
  const exportDir = path.join(dir, 'export');
  const out = path.join(dir, 'm.jsonl');
  const o = parseMovementArgs(['--rows', '1500', '--batch', '100', '--d', '4', '--top', '8-1', '--optimizer', 'sgd', '--lr', '0.1', '--kinds', 'full,hashnet,scma', '--compression', '1/4', '--sample', '1000', '--backend', 'cpu', '--export', exportDir, '--out', out]);
  o.log = () => {};
  o.print = false;
  const lines = await runMovement(o);
  const written = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  t.same(written, JSON.parse(JSON.stringify(lines)), 'the JSON lines are written as printed');
  const config = lines.find((l) => l.type === 'config')!;
  const runs = lines.filter((l) => l.type === 'run');
  t.same(runs.map((r) => r.kind), ['full', 'hashnet', 'scma']);
  for (const r of runs) {
    const bands = lines.filter((l) => l.type === 'band' && l.kind === r.kind);
    t.equal(bands.length, BAND_EDGES.length);
    t.equal(bands.reduce((s, b) => s + (b.values as number), 0), config.distinctValues, `${r.kind}: every training value in one band`);
    t.equal(bands.reduce((s, b) => s + (b.occurrences as number), 0), (config.trainRows as number) * NUM_CAT, `${r.kind}: occurrences add up to rows x features`);
    t.ok((r.memoryRmsMove as number) > 0 && (r.auc as number) > 0 && (r.auc as number) < 1, `${r.kind}: training moved the memory`);
  }
  // Full tables under SGD: a value seen in more rows collects more gradient.
  const full = lines.filter((l) => l.type === 'band' && l.kind === 'full');
  t.ok((full[1].rmsMove as number) > (full[0].rmsMove as number), 'values seen 10-99 times move further than values seen 1-9 times');
  // The markdown table: a row per band and one of AUCs; PyTorch's column empty until its lines are given.
  const torchBand = { ...full[0], impl: 'torch', ratio: 0.123456 };
  const table = movementTable([...lines, torchBand]).trim().split('\n');
  t.equal(table.length, 2 + BAND_EDGES.length + 1);
  t.ok(table.every((l) => l.split('|').length === 10), 'every row has 8 cells');
  t.match(table[2], /^\| sgd lr 0\.1 \| 1-9 \| \d+ \| [\d.]+% \| [\d.e+-]+ \([\d.e+-]+\) \| 0\.123 \([\d.e+-]+\) \| [\d.e+-]+ \([\d.e+-]+\) \| [\d.e+-]+ \([\d.e+-]+\) \|$/);
  t.match(table[3], /\| 10-99 \|.*\| - \|/, 'no torch figure for a band it did not report');
  t.match(table.at(-1)!, /test AUC \| \| \| 0\.\d{4} \| - \| 0\.\d{4} \| 0\.\d{4} \|$/);
  const meta = JSON.parse(await readFile(path.join(exportDir, 'meta.json'), 'utf8'));
  const trainRows = config.trainRows as number;
  const tableFloats = meta.tableRows.reduce((a: number, b: number) => a + b, 0) * 4;
  t.equal(meta.rows, trainRows);
  t.equal(tableFloats, runs[0].memoryFloats, 'tables in meta.json are the full run\'s memory');
  const size = async (f: string) => (await stat(path.join(exportDir, f))).size;
  t.equal(await size(meta.files.trainIdx), trainRows * NUM_CAT * 4);
  t.equal(await size(meta.files.trainLabel), trainRows * 4);
  t.equal(await size(meta.files.orders[0]), trainRows * 4);
  t.equal(await size(meta.files.embeddingInit), tableFloats * 4);
  t.equal(await size(meta.files.embeddingOursFinal), tableFloats * 4);
  const idx = new Int32Array((await readFile(path.join(exportDir, meta.files.trainIdx))).buffer.slice(0));
  t.ok(idx.every((v, i) => v >= 1 && v < meta.tableRows[i % NUM_CAT]), 'every training value has its own table row (never the out-of-vocabulary row 0)');
  const order = new Uint32Array((await readFile(path.join(exportDir, meta.files.orders[0]))).buffer.slice(0));
  t.same([...order].sort((a, b) => a - b), Array.from({ length: trainRows }, (_, i) => i), 'the order is a permutation of the rows');
  t.same(meta.dense.map((a: { shape: number[] }) => a.shape), [[13, 32], [32], [32, 4], [4], [4 + 351, 8], [8], [8, 1], [1]]);
});
