/**
 * bench/faults: random fault trials against the real CLI (bin/pipeline), each
 * compared with an uninterrupted run.
 *
 *     node dist/bench/faults.js [--trials N] [--kinds preprocess,rollback,minhash,train,concurrent,bitflip] [--rows R] [--train-rows T] [--seed S]
 *
 * Kinds:
 *  - preprocess: a run (Parquet or Arrow; a .tsv, a .gz, or two files) is killed
 *    (SIGKILL, SIGTERM or SIGINT) at a random moment, 1 to 3 times, then rerun to the
 *    end. Compared: every file of the output (bytes), against the reference run; and
 *    after each kill, that every shard the manifest lists exists.
 *  - rollback: a run with --on-bad-row fail over an input whose bad row comes late is
 *    killed at a random moment (often during its rollback), then rerun. Compared: the
 *    rerun fails with the same ERR_BAD_ROW and the directory ends as it began (empty).
 *  - minhash: killed at a random moment, then rerun. Compared: the mapping's bytes,
 *    and that no temp file or lock is left.
 *  - train: a `train --resume` run (hashnet, wasm, checkpoints every 4 steps, periodic
 *    evaluations, a --metrics file) on T rows (default min(R, 2000)) is killed (SIGKILL,
 *    SIGTERM or SIGINT) at a random moment, 1 to 3 times, then rerun to the end.
 *    Compared: the saved model's files (bytes) and the metrics lines (timing fields
 *    dropped) against an uninterrupted run; no lock or temp file left.
 *  - concurrent: two preprocess runs into one --out at once. Compared: one succeeds,
 *    the other is refused with ERR_LOCKED (or finds the output complete), and the
 *    output equals the reference.
 *  - bitflip: 1 to 64 random bytes of a random shard (or of the mapping's code
 *    column) flipped. Compared: stats (minhash --merge-free read, or train's mapping
 *    load) exits 1 with ERR_CHECKSUM naming the damaged file.
 * Prints one JSON line per kind (trials, failures, what was compared) and the
 * failures' details on stderr. Exit status 1 when any trial failed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { synthBatches } from '../input/synth.js';
import { mulberry32 } from '../core/hash.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/pipeline');
const KINDS = ['preprocess', 'rollback', 'minhash', 'train', 'concurrent', 'bitflip'] as const;
type Kind = (typeof KINDS)[number];

const { values: args } = parseArgs({
  options: {
    trials: { type: 'string', default: '20' },
    kinds: { type: 'string', default: KINDS.join(',') },
    rows: { type: 'string', default: '60000' },
    'train-rows': { type: 'string' },
    seed: { type: 'string', default: '1' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  console.log(`usage: node dist/bench/faults.js [--trials N] [--kinds ${KINDS.join(',')}] [--rows R] [--train-rows T] [--seed S]
  N random trials per kind (default 20) on R synthetic rows (default 60000; train uses T = min(R, 2000));
  one JSON line per kind (trials, failures, seconds, what was compared), failures on stderr, exit 1 if any failed.`);
  process.exit(0);
}
const trials = Number(args.trials);
const rows = Number(args.rows);
const trainRows = Number(args['train-rows'] ?? Math.min(rows, 2000));
const kinds = (args.kinds as string).split(',') as Kind[];
const rand = mulberry32(Number(args.seed));
const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'faults-'));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  ms: number;
}

/** Children still running: killed when a whole trial overruns (TRIAL_WATCHDOG_MS). */
const live = new Set<ReturnType<typeof spawn>>();

/** A run that has not ended after this long is killed and the trial fails as hung (never a silent stall). */
const WATCHDOG_MS = 300_000;

/** Runs the CLI; with `killAt`, sends `signal` (and SIGKILL on a repeat) that many ms after the start. */
function cli(argv: string[], killAt?: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [BIN, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
    live.add(child);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = killAt !== undefined ? setTimeout(() => child.kill(signal), killAt) : undefined;
    const watchdog = setTimeout(() => {
      stderr += `\n[faults: ${argv[0]} still running after ${WATCHDOG_MS} ms: killed as hung]`;
      child.kill('SIGKILL');
    }, WATCHDOG_MS);
    child.on('error', reject);
    child.on('close', (code, sig) => {
      live.delete(child);
      clearTimeout(timer);
      clearTimeout(watchdog);
      resolve({ code, signal: sig, stderr, ms: Date.now() - t0 });
    });
  });
}

function digest(dir: string): Record<string, string> {
  if (!fs.existsSync(dir)) return {};
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((f) => [f, createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex').slice(0, 16)]),
  );
}

function firstDifference(a: Record<string, string>, b: Record<string, string>): string | null {
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) if (a[k] !== b[k]) return `${k}: ${a[k] ?? 'absent'} vs ${b[k] ?? 'absent'}`;
  return null;
}

/** Every shard the manifest lists exists (the invariant a kill must never break). */
function listedShardsExist(dir: string): string | null {
  const m = path.join(dir, '_manifest.json');
  if (!fs.existsSync(m)) return null;
  const man = JSON.parse(fs.readFileSync(m, 'utf8')) as { shards: { file: string }[] };
  const missing = man.shards.filter((s) => !fs.existsSync(path.join(dir, s.file)));
  return missing.length ? `manifest lists missing ${missing.map((s) => s.file).join(', ')}` : null;
}

function rm(p: string): void {
  fs.rmSync(p, { recursive: true, force: true });
}

// Inputs: a TSV, its .gz, and two halves (several files in order).
const tsv = path.join(work, 'in.tsv');
{
  const parts: Buffer[] = [];
  for (const b of synthBatches({ rows, seed: 7 })) parts.push(b.text);
  fs.writeFileSync(tsv, Buffer.concat(parts));
}
const text = fs.readFileSync(tsv, 'latin1');
const cut = text.indexOf('\n', Math.floor(text.length / 2)) + 1;
const gz = path.join(work, 'in.tsv.gz');
fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(tsv)));
const halfA = path.join(work, 'a.tsv');
const halfB = path.join(work, 'b.tsv');
fs.writeFileSync(halfA, text.slice(0, cut), 'latin1');
fs.writeFileSync(halfB, text.slice(cut), 'latin1');
const bad = path.join(work, 'bad.tsv');
const lines = text.split('\n');
lines[Math.floor(lines.length * 0.9)] = '1'; // a too-few-fields row, late in the input
fs.writeFileSync(bad, lines.join('\n'), 'latin1');
const INPUTS: Record<string, string[]> = { tsv: [tsv], gz: [gz], two: [halfA, halfB] };
const shardRows = String(Math.max(1000, Math.floor(rows / 12)));
const preArgs = (inputs: string[], out: string, format: string) => ['preprocess', ...inputs.flatMap((f) => ['--input', f]), '--out', out, '--format', format, '--shard-rows', shardRows, '--concurrency', '2', '-q'];

// References, one per (input set, format), and their run times (to place kills).
const refs = new Map<string, { digest: Record<string, string>; ms: number; dir: string }>();
async function reference(inputName: string, format: string) {
  const key = `${inputName}/${format}`;
  let r = refs.get(key);
  if (!r) {
    const dir = path.join(work, `ref-${inputName}-${format}`);
    const run = await cli(preArgs(INPUTS[inputName], dir, format));
    if (run.code !== 0) throw new Error(`reference run failed: ${run.stderr}`);
    r = { digest: digest(dir), ms: run.ms, dir };
    refs.set(key, r);
  }
  return r;
}

// train: its own small input (training is the slow part), preprocessed once.
const trainShards = path.join(work, 'train-shards');
const metricsLines = (file: string): string[] =>
  fs.existsSync(file)
    ? fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => {
        const { seconds, samplesPerSecond, resumedFromStep, inputWaitSeconds, trainSeconds, ...rest } = JSON.parse(l);
        return JSON.stringify(rest);
      })
    : [];
const trainArgs = (out: string) => ['train', '--input', trainShards, '--embedding', 'hashnet', '--memory-floats', '4000', '--arch-sparse-feature-size', '4', '--arch-mlp-bot', '13-8-4', '--arch-mlp-top', '8-1',
  '--mini-batch-size', '50', '--test-fraction', '0.2', '--val-fraction', '0.1', '--test-freq', '8', '--checkpoint-freq', '4', '--shuffle-buffer', '200', '--seed', '3', '--backend', 'wasm', '--print-freq', '5',
  '--out', out, '--metrics', path.join(out, 'metrics.jsonl'), '--resume', '--no-progress'];
let trainRef: { model: Record<string, string>; metrics: string[]; ms: number } | undefined;
async function trainReference() {
  if (!trainRef) {
    const tsvTrain = path.join(work, 'train.tsv');
    fs.writeFileSync(tsvTrain, text.split('\n').slice(0, trainRows).join('\n') + '\n', 'latin1');
    const pre = await cli(['preprocess', '--input', tsvTrain, '--out', trainShards, '--format', 'arrow', '-q']);
    if (pre.code !== 0) throw new Error(`train input: preprocess failed: ${pre.stderr}`);
    const dir = path.join(work, 'train-ref');
    const run = await cli(trainArgs(dir));
    if (run.code !== 0) throw new Error(`train reference failed: ${run.stderr}`);
    trainRef = { model: digest(path.join(dir, 'model')), metrics: metricsLines(path.join(dir, 'metrics.jsonl')), ms: run.ms };
    // A comparison against nothing would pass vacuously.
    if (!trainRef.model['dense.bin'] || !trainRef.metrics.some((l) => l.includes('"eval"'))) throw new Error(`train reference wrote no model or no evaluations: ${Object.keys(trainRef.model)}`);
  }
  return trainRef;
}

const results: Record<string, { trials: number; failures: number; compared: string }> = {};
const failures: string[] = [];
let trialNo = 0;

async function trial(kind: Kind): Promise<string | null> {
  const out = path.join(work, `t${trialNo++}`);
  rm(out);
  try {
    switch (kind) {
      case 'preprocess': {
        const inputName = pick(Object.keys(INPUTS));
        const format = pick(['parquet', 'arrow']);
        const ref = await reference(inputName, format);
        const kills = 1 + Math.floor(rand() * 3);
        const what: string[] = [];
        for (let k = 0; k < kills; k++) {
          const signal = pick<NodeJS.Signals>(['SIGKILL', 'SIGKILL', 'SIGTERM', 'SIGINT']);
          const at = Math.floor(ref.ms * (0.2 + 0.9 * rand()));
          const r = await cli(preArgs(INPUTS[inputName], out, format), at, signal);
          what.push(`${signal}@${at}ms->${r.signal ?? r.code}`);
          if (r.code !== null && r.code !== 0 && r.code !== 130 && r.code !== 143) return `${inputName}/${format} ${what.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`;
          const broken = listedShardsExist(out);
          if (broken) return `${inputName}/${format} ${what.join(' ')}: ${broken}`;
        }
        const again = await cli(preArgs(INPUTS[inputName], out, format));
        if (again.code !== 0) return `${inputName}/${format} ${what.join(' ')}: rerun exit ${again.code}: ${again.stderr.trim()}`;
        const diff = firstDifference(digest(out), ref.digest);
        return diff ? `${inputName}/${format} ${what.join(' ')}: ${diff}` : null;
      }
      case 'rollback': {
        const format = pick(['parquet', 'arrow']);
        const ref = await reference('tsv', format);
        const at = Math.floor(ref.ms * (0.7 + 0.5 * rand()));
        const r = await cli(preArgs([bad], out, format), at, pick<NodeJS.Signals>(['SIGKILL', 'SIGTERM']));
        const broken = listedShardsExist(out);
        if (broken) return `${format} killed@${at}ms (${r.signal ?? r.code}): ${broken}`;
        const again = await cli(preArgs([bad], out, format));
        if (again.code !== 1 || !/too-few-fields/.test(again.stderr)) return `${format}: rerun exit ${again.code}: ${again.stderr.trim()}`;
        const left = Object.keys(digest(out)).filter((f) => f !== '.pipeline.lock');
        return left.length ? `${format} killed@${at}ms: left ${left.join(', ')}` : null;
      }
      case 'minhash': {
        const ref = await reference('tsv', 'arrow');
        const mapRef = path.join(work, 'map-ref.arrow');
        const mhArgs = (file: string) => ['minhash', '--input', ref.dir, '--out', file, '--dim', '4', '--sample', '5000', '-q'];
        if (!fs.existsSync(mapRef)) {
          const r = await cli(mhArgs(mapRef));
          if (r.code !== 0) throw new Error(`minhash reference failed: ${r.stderr}`);
        }
        fs.mkdirSync(out);
        const file = path.join(out, 'map.arrow');
        const first = await cli(mhArgs(file), Math.floor(200 + 3000 * rand()), pick<NodeJS.Signals>(['SIGKILL', 'SIGTERM', 'SIGINT']));
        const again = await cli(mhArgs(file));
        if (again.code !== 0) return `rerun exit ${again.code}: ${again.stderr.trim()} (first: ${first.signal ?? first.code})`;
        const left = fs.readdirSync(out).filter((f) => f !== 'map.arrow');
        if (left.length) return `left ${left.join(', ')}`;
        return fs.readFileSync(file).equals(fs.readFileSync(mapRef)) ? null : 'mapping bytes differ';
      }
      case 'train': {
        const ref = await trainReference();
        const kills = 1 + Math.floor(rand() * 3);
        const what: string[] = [];
        for (let k = 0; k < kills; k++) {
          const signal = pick<NodeJS.Signals>(['SIGKILL', 'SIGKILL', 'SIGTERM', 'SIGINT']);
          const at = Math.floor(ref.ms * (0.2 + 0.9 * rand()));
          const r = await cli(trainArgs(out), at, signal);
          what.push(`${signal}@${at}ms->${r.signal ?? r.code}`);
          if (r.code !== null && r.code !== 0 && r.code !== 130 && r.code !== 143) return `${what.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`;
          if ((r.code === 130 || r.code === 143) && fs.existsSync(path.join(out, '.pipeline.lock'))) return `${what.join(' ')}: interrupted run left its lock`;
        }
        const again = await cli(trainArgs(out));
        if (again.code !== 0) return `${what.join(' ')}: rerun exit ${again.code}: ${again.stderr.trim()}`;
        const diff = firstDifference(digest(path.join(out, 'model')), ref.model);
        if (diff) return `${what.join(' ')}: model ${diff}`;
        const lines = metricsLines(path.join(out, 'metrics.jsonl'));
        const at = lines.findIndex((l, i) => l !== ref.metrics[i]);
        if (at >= 0 || lines.length !== ref.metrics.length) return `${what.join(' ')}: metrics line ${at >= 0 ? at + 1 : lines.length + 1}: ${lines[at] ?? 'absent'} vs ${ref.metrics[at] ?? 'absent'}`;
        const left = fs.readdirSync(out).filter((f) => f === '.pipeline.lock' || f.endsWith('.tmp') || f.startsWith('.metrics.jsonl.lock'));
        return left.length ? `${what.join(' ')}: left ${left.join(', ')}` : null;
      }
      case 'concurrent': {
        const format = pick(['parquet', 'arrow']);
        const ref = await reference('tsv', format);
        const [a, b] = await Promise.all([cli(preArgs([tsv], out, format)), cli(preArgs([tsv], out, format))]);
        const ok = [a, b].filter((r) => r.code === 0).length;
        const locked = [a, b].filter((r) => r.code === 1 && /is in use by another run: pid \d+ on host .*, started /.test(r.stderr)).length;
        if (!(ok === 2 || (ok === 1 && locked === 1))) return `${format}: exits ${a.code}/${b.code}: ${a.stderr.trim()} | ${b.stderr.trim()}`;
        const diff = firstDifference(digest(out), ref.digest);
        return diff ? `${format}: ${diff}` : null;
      }
      case 'bitflip': {
        const format = pick(['parquet', 'arrow']);
        const ref = await reference('tsv', format);
        fs.cpSync(ref.dir, out, { recursive: true });
        const shards = fs.readdirSync(out).filter((f) => f.startsWith('part-'));
        const shard = pick(shards);
        const file = path.join(out, shard);
        const b = fs.readFileSync(file);
        const n = 1 + Math.floor(rand() * 64);
        for (let i = 0; i < n; i++) b[Math.floor(rand() * b.length)] ^= 1 + Math.floor(rand() * 255);
        fs.writeFileSync(file, b);
        const r = spawnSync(process.execPath, [BIN, 'stats', '--input', out], { encoding: 'utf8' });
        if (r.status !== 1 || !r.stderr.includes(`shard ${shard}: damaged shard`)) return `${format} ${shard} (${n} bytes): exit ${r.status}: ${r.stderr.trim()}`;
        return null;
      }
    }
  } finally {
    rm(out);
  }
}

/** A whole trial that overruns (the bench itself stuck, not only a child) fails, its children killed. */
const TRIAL_WATCHDOG_MS = 900_000;
async function withWatchdog(p: Promise<string | null>, name: string): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<string>((resolve) => {
    timer = setTimeout(() => {
      for (const c of live) c.kill('SIGKILL');
      resolve(`${name} still running after ${TRIAL_WATCHDOG_MS} ms: stopped as hung (children: ${live.size})`);
    }, TRIAL_WATCHDOG_MS);
  });
  try {
    return await Promise.race([p, hung]);
  } finally {
    clearTimeout(timer);
  }
}

const COMPARED: Record<Kind, string> = {
  preprocess: 'all output files byte-identical to an uninterrupted run; listed shards exist after every kill',
  rollback: 'listed shards exist after the kill; rerun fails with the same bad row and leaves the directory empty',
  minhash: 'mapping bytes identical to an uninterrupted run; no temp file or lock left',
  train: 'saved model files byte-identical and metrics lines identical (timing fields dropped) to an uninterrupted run; no lock or temp file left',
  concurrent: 'one run succeeds and the other is refused naming the holder (or both succeed in turn); output byte-identical',
  bitflip: 'stats exits 1 naming the damaged shard (ERR_CHECKSUM)',
};

try {
  let failed = false;
  for (const kind of kinds) {
    const t0 = Date.now();
    let f = 0;
    for (let i = 0; i < trials; i++) {
      process.stderr.write(`${kind} trial ${i}\n`);
      const err = await withWatchdog(trial(kind), `${kind} trial ${i}`);
      if (err) {
        f++;
        failed = true;
        failures.push(`${kind} trial ${i}: ${err}`);
        process.stderr.write(`FAIL ${kind} trial ${i}: ${err}\n`);
      }
    }
    results[kind] = { trials, failures: f, compared: COMPARED[kind] };
    console.log(JSON.stringify({ kind, trials, failures: f, seconds: Math.round((Date.now() - t0) / 1000), compared: COMPARED[kind] }));
  }
  process.exitCode = failed ? 1 : 0;
} finally {
  rm(work);
}
