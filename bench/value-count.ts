/**
 * bench/value-count: train's count pass and vocabulary (stages/vocab.ts) at Criteo
 * Terabyte's cardinalities, past a JS Map's 2^24 entries per feature.
 *
 *     node dist/bench/value-count.js [--rows N] [--seed S] [--batch B] [--source ids|synth]
 *
 * --source ids (default): rows are FeatureBatches whose feature f draws ids uniformly
 * from TERABYTE_CARDINALITIES[f] values (seeded); parsing is left out, so this measures
 * the counting and the vocabulary alone.
 * --source synth: rows are `synth --profile terabyte --values uniform` TSV text, parsed
 * and featurized (hashed ids) by the library's parser before they are counted, the path
 * train's count pass takes; its time is reported apart.
 * Uniform draws reach many distinct values in few rows: at 24M rows the ~40M-value
 * features hold ~18M distinct ids each, which `synth --profile terabyte`'s default Zipf
 * values would need billions of rows for.
 *
 * Prints one JSON line: rows, distinct ids of the largest feature and in total, the
 * seconds spent making rows (makeSeconds) and counting them (countSeconds, wall), the CPU
 * time of that whole loop, the vocabulary seconds (wall and CPU), table bytes, peak RSS.
 */
import { parseArgs } from 'node:util';
import { emptyFeatureBatch, NUM_CAT } from '../core/schema.js';
import { mulberry32 } from '../core/hash.js';
import { SynthGenerator, TERABYTE_CARDINALITIES } from '../input/synth.js';
import { TsvParser, type RawBatch } from '../stages/parse.js';
import { featurizeBatch, resolveFeaturizeOptions } from '../stages/featurize.js';
import { ValueCounter } from '../stages/vocab.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '24000000' },
    seed: { type: 'string', default: '1' },
    batch: { type: 'string', default: '65536' },
    source: { type: 'string', default: 'ids' },
  },
});
const rows = Number(args.rows);
const batchRows = Number(args.batch);
const source = args.source;
if (source !== 'ids' && source !== 'synth') throw new Error(`--source must be ids or synth, got ${source}`);
const rand = mulberry32(Number(args.seed));

const cpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};

const counter = new ValueCounter();
/** Seconds spent making rows (synth and parse), kept out of the count pass's time. */
let makeSeconds = 0;
let w0 = performance.now();
let c0 = cpu();
if (source === 'ids') {
  const b = emptyFeatureBatch(batchRows);
  for (let start = 0; start < rows; start += batchRows) {
    const m0 = performance.now();
    b.rows = Math.min(batchRows, rows - start);
    for (let f = 0; f < NUM_CAT; f++) {
      const card = TERABYTE_CARDINALITIES[f];
      const col = b.cats[f];
      for (let i = 0; i < b.rows; i++) col[i] = Math.floor(rand() * card);
    }
    makeSeconds += (performance.now() - m0) / 1000;
    counter.add(b);
  }
} else {
  const gen = new SynthGenerator({ rows, seed: Number(args.seed), profile: 'terabyte', values: 'uniform' });
  const parser = new TsvParser({ file: '(synth)' });
  const fopts = resolveFeaturizeOptions({});
  let counted = 0;
  let countSeconds = 0;
  const emit = (raw: RawBatch) => {
    const b = featurizeBatch(raw, fopts);
    const a0 = performance.now();
    counter.add(b);
    countSeconds += (performance.now() - a0) / 1000;
    counted += b.rows;
  };
  parser.startFile('(synth)', emit);
  while (gen.remaining > 0) parser.write(gen.next(batchRows).text, emit);
  parser.end(emit);
  if (counted !== rows) throw new Error(`parsed ${counted} rows, expected ${rows}`);
  makeSeconds = (performance.now() - w0) / 1000 - countSeconds;
}
const countWall = (performance.now() - w0) / 1000;
const count = { wall: countWall - makeSeconds, cpu: cpu() - c0 };
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
    source,
    makeSeconds: +makeSeconds.toFixed(1),
    largestFeature: `c${largest + 1}`,
    largestDistinct: distinct[largest],
    pastMapLimit: distinct.filter((d) => d > 2 ** 24).length,
    totalDistinct: distinct.reduce((a, c) => a + c, 0),
    vocabRows: vocab.totalRows(),
    countSeconds: +count.wall.toFixed(1),
    loopCpuSeconds: +count.cpu.toFixed(1), // making the rows and counting them
    vocabSeconds: +vocabTime.wall.toFixed(1),
    vocabCpuSeconds: +vocabTime.cpu.toFixed(1),
    countTableMiB: Math.round(countBytes / 2 ** 20),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  }),
);
