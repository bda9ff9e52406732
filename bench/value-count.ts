/**
 * bench/value-count: train's count pass and vocabulary (stages/vocab.ts) at Criteo
 * Terabyte's cardinalities, past a JS Map's 2^24 entries per feature.
 *
 *     node dist/bench/value-count.js [--rows N] [--seed S] [--batch B]
 *
 * Rows are FeatureBatches whose feature f draws ids uniformly from
 * TERABYTE_CARDINALITIES[f] values (seeded). Uniform draws reach many distinct values
 * in few rows: at 24M rows the ~40M-value features hold ~18M distinct ids each, which
 * `synth --profile terabyte`'s Zipf values would need billions of rows for. Parsing is
 * left out: this measures the counting and the vocabulary alone.
 *
 * Prints one JSON line: rows, distinct ids of the largest feature and in total, the
 * counting and vocabulary seconds (wall and this process's CPU), table bytes, peak RSS.
 */
import { parseArgs } from 'node:util';
import { emptyFeatureBatch, NUM_CAT } from '../core/schema.js';
import { mulberry32 } from '../core/hash.js';
import { TERABYTE_CARDINALITIES } from '../input/synth.js';
import { ValueCounter } from '../stages/vocab.js';

const { values: args } = parseArgs({ options: { rows: { type: 'string', default: '24000000' }, seed: { type: 'string', default: '1' }, batch: { type: 'string', default: '65536' } } });
const rows = Number(args.rows);
const batchRows = Number(args.batch);
const rand = mulberry32(Number(args.seed));

const cpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};

const b = emptyFeatureBatch(batchRows);
const counter = new ValueCounter();
let w0 = performance.now();
let c0 = cpu();
for (let start = 0; start < rows; start += batchRows) {
  b.rows = Math.min(batchRows, rows - start);
  for (let f = 0; f < NUM_CAT; f++) {
    const card = TERABYTE_CARDINALITIES[f];
    const col = b.cats[f];
    for (let i = 0; i < b.rows; i++) col[i] = Math.floor(rand() * card);
  }
  counter.add(b);
}
const count = { wall: (performance.now() - w0) / 1000, cpu: cpu() - c0 };
const distinct = counter.distinct();
const countBytes = counter.counts.reduce((s, t) => s + t.bytes, 0);

w0 = performance.now();
c0 = cpu();
const vocab = counter.vocabulary();
const vocabTime = { wall: (performance.now() - w0) / 1000, cpu: cpu() - c0 };
const largest = distinct.indexOf(Math.max(...distinct));

console.log(
  JSON.stringify({
    rows,
    largestFeature: `c${largest + 1}`,
    largestDistinct: distinct[largest],
    pastMapLimit: distinct.filter((d) => d > 2 ** 24).length,
    totalDistinct: distinct.reduce((a, c) => a + c, 0),
    vocabRows: vocab.totalRows(),
    countSeconds: +count.wall.toFixed(1),
    countCpuSeconds: +count.cpu.toFixed(1),
    vocabSeconds: +vocabTime.wall.toFixed(1),
    vocabCpuSeconds: +vocabTime.cpu.toFixed(1),
    countTableMiB: Math.round(countBytes / 2 ** 20),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  }),
);
