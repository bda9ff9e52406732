/**
 * Parse (+ featurize) throughput, single thread, on the 10k Kaggle sample repeated
 * in memory, so disk and gunzip are out of the picture.
 *
 *     node dist/bench/parse.js [--rows N] [--chunk BYTES] [--file PATH]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TsvParser, parseTsv, type RawBatch } from '../stages/parse.js';
import { featurize, featurizeBatch, resolveFeaturizeOptions } from '../stages/featurize.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    chunk: { type: 'string', default: String(1 << 20) },
    file: { type: 'string', default: path.resolve(here, '../../../shared/data/criteo/kaggle-train-head-10k.tsv') },
  },
});
const sample = fs.readFileSync(values.file!);
const sampleRows = sample.toString('latin1').split('\n').filter((l) => l.length > 0).length;
const reps = Math.max(1, Math.round(Number(values.rows) / sampleRows));
const data = Buffer.concat(Array.from({ length: reps }, () => sample));
const rows = reps * sampleRows;
const chunkBytes = Number(values.chunk);
const chunks: Buffer[] = [];
for (let i = 0; i < data.length; i += chunkBytes) chunks.push(data.subarray(i, i + chunkBytes));

/**
 * CPU time of this process, not wall time: the machine is shared (2 cores), and
 * CPU time is what a single-threaded stage costs. Includes GC and any helper threads.
 */
function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

function run(label: string, withFeaturize: boolean): void {
  const fopts = resolveFeaturizeOptions({});
  const best: number[] = [];
  for (let trial = 0; trial < 5; trial++) {
    const p = new TsvParser({});
    let n = 0;
    const emit = (b: RawBatch) => {
      n += withFeaturize ? featurizeBatch(b, fopts).rows : b.rows;
    };
    const c0 = process.cpuUsage();
    for (const c of chunks) p.write(c, emit);
    p.end(emit);
    const s = cpuSeconds(c0);
    if (n !== rows) throw new Error(`parsed ${n} rows, expected ${rows}`);
    best.push(s);
  }
  const s = Math.min(...best);
  console.log(`${label.padEnd(34)} ${Math.round(rows / s).toLocaleString('en-US').padStart(11)} rows/s  ${(data.length / s / 1e6).toFixed(0).padStart(4)} MB/s  (CPU time, best of 5, ${rows.toLocaleString('en-US')} rows)`);
}

async function runStream(): Promise<void> {
  const c0 = process.cpuUsage();
  let n = 0;
  await pipeline(Readable.from(chunks, { objectMode: true }), parseTsv(), featurize(), async (src: AsyncIterable<RawBatch>) => {
    for await (const b of src) n += b.rows;
  });
  const s = cpuSeconds(c0);
  console.log(`${'streams: parseTsv | featurize'.padEnd(34)} ${Math.round(n / s).toLocaleString('en-US').padStart(11)} rows/s  ${(data.length / s / 1e6).toFixed(0).padStart(4)} MB/s`);
}

console.log(`input: ${path.basename(values.file!)} x ${reps} = ${(data.length / 1e6).toFixed(0)} MB in ${chunkBytes}-byte chunks; node ${process.version}`);
run('parse (TsvParser core)', false);
run('parse + featurize (core)', true);
for (let i = 0; i < 3; i++) await runStream();
