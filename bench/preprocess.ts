/**
 * bench/preprocess: TSV -> Arrow shards, TSV -> Parquet shards, TSV -> Arrow IPC stream
 * (to /dev/null), on synthetic Criteo rows (input/synth.ts), reporting rows/s, input
 * MB/s and peak RSS (the whole process: main thread plus encoder workers).
 *
 *     node dist/bench/preprocess.js [--rows 2000000] [--seed 1] [--concurrency N] [--parse-workers N] [--shard-rows N] [--cases arrow,parquet,stream]
 *
 * The synthetic TSV is generated once and cached in the temp dir. Each case runs in
 * a fresh child process so that peak RSS is that case's alone.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeSynth } from '../input/synth.js';
import { preprocess } from '../pipeline/preprocess.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '2000000' },
    seed: { type: 'string', default: '1' },
    concurrency: { type: 'string' },
    'parse-workers': { type: 'string' },
    cases: { type: 'string', default: 'arrow,parquet,stream' },
    'shard-rows': { type: 'string', default: '131072' },
    child: { type: 'string' },
    input: { type: 'string' },
    out: { type: 'string' },
  },
});

if (args.child) {
  // Child mode: one case, one JSON line.
  const format = args.child as 'arrow' | 'parquet' | 'stream';
  const devnull = fs.createWriteStream('/dev/null');
  // CPU time of all threads: on a shared machine it says what a run costs when wall time cannot.
  const cpu0 = process.cpuUsage();
  const s = await preprocess({
    inputs: [args.input!],
    out: format === 'stream' ? '-' : args.out!,
    format: format === 'stream' ? 'arrow' : format,
    shardRows: Number(args['shard-rows']),
    overwrite: true,
    stdout: devnull,
    ...(args.concurrency ? { concurrency: Number(args.concurrency) } : {}),
    ...(args['parse-workers'] ? { parseWorkers: Number(args['parse-workers']) } : {}),
  });
    const cpu = process.cpuUsage(cpu0);
  process.stdout.write(JSON.stringify({ rows: s.rows, seconds: s.seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssBytes: process.resourceUsage().maxRSS * 1024 }) + '\n');
  process.exit(0);
}

const rows = Number(args.rows);
const seed = Number(args.seed);
const input = path.join(os.tmpdir(), `scma-bench-synth-${rows}-${seed}.tsv`);
if (!fs.existsSync(input)) {
  process.stderr.write(`generating ${rows} synthetic rows into ${input}...\n`);
  const tmp = `${input}.${process.pid}.tmp`;
  await writeSynth({ rows, seed, out: tmp });
  fs.renameSync(tmp, input);
}
const mb = fs.statSync(input).size / 1e6;
const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-preprocess-'));
const self = fileURLToPath(import.meta.url);
const results: string[] = [];
for (const format of args.cases!.split(',') as ('arrow' | 'parquet' | 'stream')[]) {
  const r = spawnSync(
    process.execPath,
    [self, '--child', format, '--input', input, '--out', path.join(outDir, format), '--shard-rows', args['shard-rows']!, ...(args.concurrency ? ['--concurrency', args.concurrency] : []), ...(args['parse-workers'] ? ['--parse-workers', args['parse-workers']] : [])],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    process.exit(1);
  }
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
  const label = format === 'stream' ? 'TSV -> Arrow IPC stream (/dev/null)' : `TSV -> ${format} shards`;
  const outBytes = format === 'stream' ? 0 : fs.readdirSync(path.join(outDir, format)).reduce((s, f) => s + fs.statSync(path.join(outDir, format, f)).size, 0);
  results.push(
    `| ${label} | ${res.rows.toLocaleString('en-US')} | ${res.seconds.toFixed(2)} | ${Math.round(res.rows / res.seconds).toLocaleString('en-US')} | ${(mb / res.seconds).toFixed(1)} | ${res.cpuSeconds.toFixed(2)} | ${(res.maxRssBytes / 1048576).toFixed(0)} | ${outBytes ? (outBytes / 1e6).toFixed(0) : '-'} |`,
  );
}
fs.rmSync(outDir, { recursive: true, force: true });
console.log(`preprocess on ${rows.toLocaleString('en-US')} synthetic rows (${mb.toFixed(0)} MB TSV), node ${process.version}, ${os.cpus().length} CPUs, shard-rows ${args['shard-rows']}, concurrency ${args.concurrency ?? 'default (CPU count)'}, parse workers ${args['parse-workers'] ?? 'default (= concurrency if >= 2, for arrow and stream; 0 for parquet)'}`);
console.log('| case | rows | seconds | rows/s | input MB/s | CPU s (all threads) | peak RSS MB | output MB |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const line of results) console.log(line);
