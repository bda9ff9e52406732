/**
 * `npm start`: the whole chain on the project's own synthetic data, end to end,
 * exactly as a user would run it from the shell:
 *   synth -> preprocess (Parquet shards) -> minhash (SCMA mapping) -> train (SCMA) -> test metrics
 * It prints the test AUC beside the oracle AUC that the generator knows.
 * Each step is a real `bin/pipeline` child process, so this also checks the CLI.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandArgs } from './options.js';
import { exactAuc } from '../core/metrics.js';
import { roundSignificant } from '../core/round.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'bin/pipeline');

function step(name: string, args: string[]): Promise<string> {
  process.stderr.write(`\n== ${name}: pipeline ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${name} failed with exit code ${code}`))));
  });
}

function lastJson(out: string): Record<string, unknown> {
  const lines = out.trim().split('\n').filter((l) => l.startsWith('{'));
  return lines.length ? JSON.parse(lines[lines.length - 1]) : {};
}

async function main(): Promise<void> {
  const opts = parseCommandArgs(
    process.argv.slice(2),
    'npm start [-- options]',
    'Runs synth -> preprocess -> minhash -> train (SCMA) -> test metrics on synthetic data.',
    {
      rows: { type: 'int', min: 1, default: 200000, arg: 'N', help: 'synthetic rows to generate' },
      seed: { type: 'int', min: 0, default: 1, arg: 'S', help: 'seed for data, sampling and model' },
      work: { type: 'path', default: 'work/main-job', arg: 'DIR', help: 'folder for the intermediate files (replaced on the next run)' },
      backend: { type: 'string', arg: 'NAME', help: 'tensorflow|webgpu|wasm|cpu (default: best available)' },
      epochs: { type: 'int', min: 1, default: 2, arg: 'N', help: 'training epochs' },
    },
  );
  if (!opts) return;
  const work = path.resolve(root, String(opts.work));
  // Replace only a folder this job made (it leaves a marker), never a user's folder.
  const marker = path.join(work, '.main-job');
  if (existsSync(work) && readdirSync(work).length > 0 && !existsSync(marker)) {
    throw new Error(`--work ${work} is a non-empty folder that this job did not make: choose another`);
  }
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(marker, '');
  const t0 = Date.now();
  const tsv = path.join(work, 'synth.tsv');
  const probs = path.join(work, 'synth.probs');
  const shards = path.join(work, 'shards');
  const mapping = path.join(work, 'mapping.arrow');
  const seed = String(opts.seed);

  await step('synth', ['synth', '--rows', String(opts.rows), '--seed', seed, '--out', tsv, '--probs', probs]);
  await step('preprocess', ['preprocess', '--input', tsv, '--out', shards]);
  await step('minhash', ['minhash', '--input', shards, '--out', mapping, '--dim', '16', '--seed', seed]);
  const trainArgs = [
    'train', '--input', shards, '--embedding', 'scma', '--mapping', mapping,
    '--arch-sparse-feature-size', '16', '--arch-mlp-bot', '13-64-16', '--arch-mlp-top', '64-32-1',
    '--mini-batch-size', '256', '--learning-rate', '0.1', '--nepochs', String(opts.epochs),
    '--compression', String(1 / 16), '--test-fraction', '0.1', '--seed', seed,
    '--out', path.join(work, 'model'), '--metrics', path.join(work, 'metrics.jsonl'),
  ];
  if (opts.backend) trainArgs.push('--backend', String(opts.backend));
  const summary = lastJson(await step('train', trainArgs));

  // The oracle: the generator's true click probabilities scored on the same test rows
  // (the last 10% in input order, as --test-fraction takes them).
  const p = readFileSync(probs, 'utf8').trim().split('\n').map(Number);
  const labels = readFileSync(tsv, 'utf8').trim().split('\n').map((l) => Number(l.slice(0, l.indexOf('\t'))));
  const testStart = p.length - Math.round(p.length * 0.1);
  const oracle = exactAuc(labels.slice(testStart), p.slice(testStart));
  const test = (summary.test ?? summary) as Record<string, number>;
  const result = {
    rows: Number(opts.rows),
    testAuc: test.auc,
    oracleAuc: oracle,
    fractionOfOracle: test.auc !== undefined ? (test.auc - 0.5) / (oracle - 0.5) : undefined,
    testLogloss: test.logloss,
    seconds: (Date.now() - t0) / 1000,
  };
  // 4 significant digits for people (core/round.ts); train's metrics file keeps full precision.
  process.stdout.write(JSON.stringify(roundSignificant(result)) + '\n');
}

main().catch((err) => {
  process.stderr.write(`main job: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
