/**
 * bench/minhash: the SCMA reduce on Kaggle-shaped synthetic rows (input/synth.ts with
 * Kaggle's row count, so per-feature value distributions are those of the full data
 * set; its rows are iid, so a uniform sample of them is shaped like a uniform sample of
 * Kaggle). Each configuration runs in its own child process so peak RSS is its own.
 *
 *   node dist/bench/minhash.js [--rows 500000] [--sample 125000] [--dims 16,128] [--num-hash 2] [--scan-rows 45840617]
 *
 * Prints per d: seconds to sample and to reduce (one core), peak RSS, mapping bytes,
 * and the reference's N x d int64 table for the same values (N = distinct values in
 * the input), plus the extrapolation to Kaggle (33.8M values).
 */
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { KAGGLE_CARDINALITIES, SynthGenerator } from '../input/synth.js';
import { emptyFeatureBatch, NUM_CAT, type FeatureBatch } from '../core/schema.js';
import { MinHashReducer } from '../scma/reduce.js';
import { writeMapping } from '../scma/mapping-file.js';

/** Kaggle train.txt rows (shared/data/criteo/README.md). */
const KAGGLE_ROWS = 45_840_617;

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '500000' },
    sample: { type: 'string', default: '125000' },
    dims: { type: 'string', default: '16,128' },
    'num-hash': { type: 'string', default: '2' },
    seed: { type: 'string', default: '1' },
    'scan-rows': { type: 'string', default: String(KAGGLE_ROWS) },
    child: { type: 'string' },
  },
});
const rows = Number(args.rows);
const sample = Number(args.sample);
const numHash = Number(args['num-hash']);
const seed = Number(args.seed);
const KAGGLE_VALUES = KAGGLE_CARDINALITIES.reduce((s, c) => s + c, 0);

/** Kaggle-shaped FeatureBatches: the synth's latent value index + 1 per feature (0 = empty). */
function* kaggleShaped(total: number, batchRows = 65536): Generator<FeatureBatch> {
  const gen = new SynthGenerator({ rows: KAGGLE_ROWS, seed, batchRows });
  for (let done = 0; done < total; ) {
    const n = Math.min(batchRows, total - done);
    const sb = gen.next(n);
    const b = emptyFeatureBatch(n);
    const v = sb.latent.values;
    for (let i = 0; i < n; i++) for (let c = 0; c < NUM_CAT; c++) b.cats[c][i] = v[i * NUM_CAT + c] + 1;
    done += n;
    yield b;
  }
}

async function child(mode: string): Promise<void> {
  const t0 = performance.now();
  let genMs = 0;
  let sampleMs = 0;
  const reducer = new MinHashReducer({ sample, seed });
  const seen: Uint8Array[] | null = mode === 'count' ? KAGGLE_CARDINALITIES.map((c) => new Uint8Array(c + 2)) : null;
  const batches: FeatureBatch[] = [];
  let g = performance.now();
  let sampleCpu = 0;
  for (const b of kaggleShaped(rows)) {
    const s = performance.now();
    genMs += s - g;
    const c0 = process.cpuUsage();
    if (seen) for (let c = 0; c < NUM_CAT; c++) for (let i = 0; i < b.rows; i++) seen[c][b.cats[c][i]] = 1;
    else reducer.add(b);
    const c1 = process.cpuUsage(c0);
    sampleCpu += (c1.user + c1.system) / 1e6;
    if (mode === 'scan') batches.push(b);
    g = performance.now();
    sampleMs += g - s;
  }
  if (seen) {
    const distinct = seen.reduce((s, a) => s + a.reduce((x, y) => x + y, 0), 0);
    process.stdout.write(JSON.stringify({ distinct, genSeconds: genMs / 1000 }) + '\n');
    return;
  }
  if (mode === 'scan') {
    // The sampling pass at Kaggle scale: the same rows again under fresh row indices.
    const scanRows = Number(args['scan-rows']);
    const r = new MinHashReducer({ sample, seed });
    const s = performance.now();
    const c0 = process.cpuUsage();
    for (let first = 0; first < scanRows; ) {
      for (const b of batches) {
        if (first >= scanRows) break;
        r.add(b, first);
        first += b.rows;
      }
    }
    const c1 = process.cpuUsage(c0);
    process.stdout.write(JSON.stringify({ scanRows: r.inputRows, scanSeconds: (performance.now() - s) / 1000, scanCpuSeconds: (c1.user + c1.system) / 1e6 }) + '\n');
    return;
  }
  const dim = Number(mode);
  if (dim === 0) {
    process.stdout.write(JSON.stringify({ peakRssMB: process.resourceUsage().maxRSS / 1024, sampleSeconds: sampleMs / 1000 }) + '\n');
    return;
  }
  const r0 = performance.now();
  const c0 = process.cpuUsage();
  const mapping = reducer.toMapping({ dim, numHash });
  const reduceMs = performance.now() - r0;
  const c1 = process.cpuUsage(c0);
  const reduceCpuSeconds = (c1.user + c1.system) / 1e6;
  // codesInto throughput, as the training sink calls it: the first 100k input rows x 26
  // features (sampled values hit the table, the rest fall back to the plain hash).
  const probe = kaggleShaped(100_000, 100_000).next().value as FeatureBatch;
  const outCodes = new Uint32Array(NUM_CAT * dim);
  const l0 = performance.now();
  for (let i = 0; i < probe.rows; i++) for (let c = 0; c < NUM_CAT; c++) mapping.codesInto(c, probe.cats[c][i], outCodes, c * dim);
  const lookupsPerSecond = (probe.rows * NUM_CAT) / ((performance.now() - l0) / 1000);
  const file = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), 'bench-minhash-')), 'm.arrow');
  const w0 = performance.now();
  const fileBytes = await writeMapping(file, mapping);
  const writeMs = performance.now() - w0;
  await fsp.rm(path.dirname(file), { recursive: true, force: true });
  process.stdout.write(
    JSON.stringify({
      dim,
      values: mapping.meta.values,
      sampledRows: mapping.meta.sampledRows,
      genSeconds: genMs / 1000,
      sampleSeconds: sampleMs / 1000,
      sampleCpuSeconds: sampleCpu,
      reduceSeconds: reduceMs / 1000,
      reduceCpuSeconds,
      writeSeconds: writeMs / 1000,
      totalSeconds: (performance.now() - t0 - genMs) / 1000,
      loadAverage: os.loadavg()[0],
      lookupsPerSecond,
      mappingBytes: mapping.byteLength,
      fileBytes,
      peakRssMB: process.resourceUsage().maxRSS / 1024,
    }) + '\n',
  );
}

function runChild(mode: string): Record<string, number> {
  const self = fileURLToPath(import.meta.url);
  const argv = [self, '--child', mode, '--rows', String(rows), '--sample', String(sample), '--num-hash', String(numHash), '--seed', String(seed), '--scan-rows', String(args['scan-rows'])];
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`bench child ${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;

if (args.child) await child(args.child);
else {
  console.log(`minhash bench: ${rows} Kaggle-shaped synthetic rows, P=${sample}, K=${numHash}, node ${process.version}, ${os.cpus()[0]?.model ?? ''}, load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores (one core used)`);
  const { distinct } = runChild('count');
  console.log(`distinct (feature, value) in the input: ${distinct} (the reference stores all of them)`);
  const base = runChild('0');
  console.log(`baseline child (generate + sample, no reduce): peak RSS ${base.peakRssMB.toFixed(0)} MB, sampling ${base.sampleSeconds.toFixed(2)} s`);
  const scan = runChild('scan');
  console.log(`sampling pass over ${scan.scanRows} rows (Kaggle's count, rows in memory): ${scan.scanSeconds.toFixed(2)} s (cpu ${scan.scanCpuSeconds.toFixed(2)} s) = ${(scan.scanRows / scan.scanSeconds / 1e6).toFixed(1)}M rows/s`);
  for (const d of String(args.dims).split(',').map(Number)) {
    const r = runChild(String(d));
    const refBytes = distinct * d * 8;
    const refKaggle = KAGGLE_VALUES * d * 8;
    console.log(
      [
        `d=${d}: ${r.values} values from ${r.sampledRows} sampled rows`,
        `  sample ${r.sampleSeconds.toFixed(2)} s (cpu ${r.sampleCpuSeconds.toFixed(2)} s, ${rows} rows) + reduce ${r.reduceSeconds.toFixed(2)} s (cpu ${r.reduceCpuSeconds.toFixed(2)} s) + write ${r.writeSeconds.toFixed(2)} s; peak RSS ${r.peakRssMB.toFixed(0)} MB`,
        `  codesInto: ${(r.lookupsPerSecond / 1e6).toFixed(2)}M lookups/s (${d} codes each)`,
        `  mapping ${mb(r.mappingBytes)} in memory, file ${mb(r.fileBytes)}; reference table for this input's ${distinct} values: ${gb(refBytes)} (ours ${((100 * r.fileBytes) / refBytes).toFixed(2)}%)`,
        `  Kaggle: reference ${KAGGLE_VALUES} x ${d} x 8 B = ${gb(refKaggle)}; ours ${mb(r.fileBytes)} = ${((100 * r.fileBytes) / refKaggle).toFixed(2)}% (only sampled values stored)`,
      ].join('\n'),
    );
    console.log(JSON.stringify({ bench: 'minhash', rows, sample, numHash, distinct, refBytes, refKaggleBytes: refKaggle, ...r }));
  }
}
