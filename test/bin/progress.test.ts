/** Progress lines on the long commands: stderr only, when asked (stderr here is not a TTY), with % and ETA when the size is known. */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PIPELINE_BIN } from '../helpers/paths.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'progress-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [PIPELINE_BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tsv = path.join(dir, 'train.tsv');
t.test('setup', async (t) => {
  const r = cli(['synth', '--rows', '60000', '--seed', '3', '--out', tsv]);
  t.equal(r.code, 0, r.stderr);
});

// Every tick prints: interval 0.
const every = { PIPELINE_PROGRESS_SECONDS: '0' };
const PROGRESS = /^(preprocess|stats|minhash): (\d+\.\d)% [\d,]+(\/[\d,]+)? rows [\d.]+[kMG]? rows\/s elapsed \S+( ETA \S+)?$/;

t.test('preprocess --progress: percentage of the input bytes and an ETA, on stderr; stdout stays the JSON summary', async (t) => {
  const r = cli(['preprocess', '--input', tsv, '--out', path.join(dir, 'shards'), '--format', 'arrow', '--shard-rows', '10000', '--concurrency', '1', '--progress'], every);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('preprocess: ') && /rows\/s/.test(l));
  t.ok(lines.length >= 2, `progress lines: ${lines.length}`);
  for (const l of lines) t.match(l, PROGRESS);
  t.ok(lines.some((l) => / ETA /.test(l)), 'an ETA');
  t.doesNotThrow(() => JSON.parse(r.stdout), 'stdout is one JSON line');
  const quiet = cli(['preprocess', '--input', tsv, '--out', path.join(dir, 'shards-2'), '--format', 'arrow', '--concurrency', '1'], every);
  t.notMatch(quiet.stderr, /rows\/s/, 'not a terminal and no --progress: no progress lines');
});

t.test('stats and minhash --progress on a shard directory: rows of the manifest total', async (t) => {
  const shards = path.join(dir, 'shards');
  const s = cli(['stats', '--input', shards, '--progress'], every);
  t.equal(s.code, 0, s.stderr);
  const sl = s.stderr.split('\n').filter((l) => l.startsWith('stats: '));
  t.ok(sl.length >= 2, `stats progress lines: ${sl.length}`);
  for (const l of sl) t.match(l, /^stats: \d+\.\d% [\d,]+\/60,000 rows /);
  const m = cli(['minhash', '--input', shards, '--out', path.join(dir, 'm.arrow'), '--dim', '2', '--progress'], every);
  t.equal(m.code, 0, m.stderr);
  t.match(m.stderr, /^minhash: \d+\.\d% [\d,]+\/60,000 rows /m);
});

t.test('predict --progress: rows predicted so far on stderr; stdout stays one probability per row', async (t) => {
  const shards = path.join(dir, 'shards');
  const run = path.join(dir, 'run');
  const tr = cli(['train', '--input', shards, '--embedding', 'hashnet', '--memory-floats', '4096', '--arch-sparse-feature-size', '4', '--arch-mlp-bot', '13-4', '--arch-mlp-top', '4-1', '--mini-batch-size', '4096', '--test-fraction', '0.1', '--out', run]);
  t.equal(tr.code, 0, tr.stderr);
  const p = cli(['predict', '--model', run, '--input', tsv, '--mini-batch-size', '5000', '--progress'], every);
  t.equal(p.code, 0, p.stderr);
  t.equal(p.stdout.trim().split('\n').length, 60000, 'one line per row');
  const lines = p.stderr.split('\n').filter((l) => l.startsWith('predict: ') && /rows\/s/.test(l));
  t.ok(lines.length >= 2, `progress lines: ${lines.length}`);
  for (const l of lines) t.match(l, /^predict: [\d,]+ rows [\d.]+[kMG]? rows\/s elapsed \S+$/);
  const quiet = cli(['predict', '--model', run, '--input', tsv, '--mini-batch-size', '5000'], every);
  t.notMatch(quiet.stderr, /rows\/s elapsed/, 'not a terminal and no --progress: no progress lines');
});
