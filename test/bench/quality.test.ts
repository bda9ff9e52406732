/**
 * The quality experiment at a reduced size (CI: cpu backend, seconds): it runs every
 * kind, writes well-formed JSON lines, a markdown table and an SVG with one line per
 * kind, and its sharing measurement tells SCMA's co-occurrence sharing from random.
 */
import t from 'tap';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseQualityArgs, runQuality, writeReport } from '../../bench/quality.js';
import { aucPlotSvg, meanSd, summarize, type RunRecord } from '../../bench/quality-report.js';
import { RowSets, sharingStats } from '../../bench/quality-jaccard.js';
import { emptyFeatureBatch } from '../../core/schema.js';
import type { LocationCodes } from '../../scma/codes.js';

const dir = await mkdtemp(path.join(tmpdir(), 'quality-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

t.test('runs the grid at a reduced size and writes a well-formed table and plot', async (t) => {
  const out = path.join(dir, 'results', 'q');
  const docs = path.join(dir, 'docs');
  const o = parseQualityArgs(['--datasets', 'latent', '--rows', '800', '--compressions', '1/4,1/64', '--seeds', '2', '--batch', '200', '--d', '4', '--top', '8-1', '--backend', 'cpu', '--ablations', '--num-hashes', '1,2', '--samples', '300,125000', '--out', out, '--docs', docs]);
  o.log = () => {};
  const runs = await runQuality(o);
  // full x 2 seeds + 3 kinds x 2 compressions x 2 seeds + ablations (K=1, P=300) x 2 seeds.
  t.equal(runs.length, 2 + 12 + 4);
  const text = writeReport((await readFile(`${out}.jsonl`, 'utf8')).trim().split('\n').map((l) => JSON.parse(l)), out, docs);
  const lines = (await readFile(`${out}.jsonl`, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  const summaries = lines.filter((l) => l.type === 'summary');
  t.equal(summaries.length, 1 + 6 + 2, 'one summary per (kind, compression) and per ablation setting');
  for (const s of summaries) {
    t.ok(s.aucMean > 0 && s.aucMean < 1 && s.aucSd >= 0 && s.loglossMean > 0 && s.memoryBytes > 0 && s.samplesPerSecond > 0, `${s.kind} ${s.compression}: finite, positive figures`);
    t.equal(s.seeds, 2);
  }
  const full = summaries.find((s) => s.kind === 'full')!;
  for (const s of summaries.filter((x) => x.kind !== 'full')) {
    t.ok(Math.abs(s.memoryBytes / full.memoryBytes - s.compression) < 0.02, `${s.kind} ${s.compression}: memory is that fraction of the full tables`);
  }
  const sharing = lines.filter((l) => l.type === 'sharing');
  t.equal(sharing.length, 2 * 3 * 2, 'sharing per compression x kind x min count');
  t.ok(lines.some((l) => l.type === 'dataset' && l.oracleAuc > 0.5), 'the oracle AUC of the synthetic test rows');
  // The markdown table: header, separator, one row per summary.
  const tableRows = text.split('\n').filter((l) => l.startsWith('| latent |'));
  t.equal(tableRows.length, summaries.length);
  t.ok(tableRows.every((l) => l.split('|').length === 13), 'every row has 11 cells');
  const svg = await readFile(path.join(docs, 'quality-latent.svg'), 'utf8');
  t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  for (const kind of ['hashnet', 'scma', 'robe']) t.match(svg, new RegExp(`<polyline data-kind="${kind}"[^>]* points="[\\d.]+,[\\d.]+ [\\d.]+,[\\d.]+"`), `${kind}: a line through two points`);
  t.match(svg, /<line data-kind="full"[^>]*stroke-dasharray/, 'full tables as a dashed line');
  t.ok(svg.trim().endsWith('</svg>'));
});

t.test('summaries: mean and sample standard deviation over seeds', async (t) => {
  t.same(meanSd([1, 2, 3]), { mean: 2, sd: 1 });
  t.same(meanSd([5]), { mean: 5, sd: 0 });
  const rec = (seed: number, auc: number): RunRecord => ({ type: 'run', dataset: 'x', study: 'main', kind: 'hashnet', compression: 0.5, seed, memoryFloats: 10, memoryBytes: 40, auc, logloss: 0.5, samplesPerSecond: 100, seconds: 1, steps: 1, numHash: null, sample: null });
  const [s] = summarize([rec(1, 0.7), rec(2, 0.8)]);
  t.equal(s.seeds, 2);
  t.ok(Math.abs(s.aucMean - 0.75) < 1e-12 && Math.abs(s.aucSd - Math.sqrt(0.005)) < 1e-12);
  const svg = aucPlotSvg([s], { title: 'a <b>' });
  t.match(svg, /a &lt;b&gt;/, 'titles are escaped');
});

t.test('sharing: Jaccard of row sets, pairs found whatever the element index', async (t) => {
  // Rows: value 5 of c1 and value 7 of c2 always together (J = 1); value 9 of c3 in other rows.
  const b = emptyFeatureBatch(6);
  for (let r = 0; r < 6; r++) {
    b.cats[0][r] = r < 3 ? 5 : 6;
    b.cats[1][r] = r < 3 ? 7 : 8;
    b.cats[2][r] = r < 3 ? 1 : 9;
  }
  const sets = new RowSets(b);
  const key = (f: number, v: number) => [...sets.features].findIndex((ff, i) => ff === f && sets.values[i] === v);
  t.equal(sets.jaccard(key(0, 5), key(1, 7)), 1);
  t.equal(sets.jaccard(key(0, 5), key(2, 9)), 0);
  t.equal(sets.jaccard(key(0, 5), key(0, 6)), 0);
  // Codes by hand, d = 2: (c1,5) and (c2,7) share element 0 with element 1 of each other's
  // (swapped j), (c1,5) and (c3,9) share one float; all other values get private floats.
  const table: Record<string, [number, number]> = { '0/5': [100, 200], '1/7': [200, 101], '2/9': [102, 100] };
  let next = 1000;
  const codes: LocationCodes = {
    dim: 2,
    codesInto(f, v, out, o) {
      const c = table[`${f}/${v}`] ?? (table[`${f}/${v}`] = [next++, next++]);
      out[o] = c[0];
      out[o + 1] = c[1];
    },
  };
  const s = sharingStats(sets, codes, 1 << 20);
  t.equal(s.pairs, 2, 'two sharing pairs: one across element indices');
  t.equal(s.meanJaccard, 0.5);
  t.equal(s.disjointShare, 0.5);
  t.equal(s.sameCodePairs, 2);
  const mod = sharingStats(sets, codes, 3); // everything collides mod 3: far more pairs
  t.ok(mod.pairs > s.pairs);
});
