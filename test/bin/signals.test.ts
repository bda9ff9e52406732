/**
 * SIGINT and SIGTERM: one line saying how far the run got, exit 130 / 143, no temp
 * files or lock left, and the same command resumes to the uninterrupted result.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { PIPELINE_BIN, REPO_ROOT } from '../helpers/paths.js';
import { runPipeline } from '../helpers/cli.js';
import { SAMPLE_10K } from '../helpers/samples.js';

const dir = t.testdir();
const big = path.join(dir, 'big.tsv');
fs.writeFileSync(big, fs.readFileSync(SAMPLE_10K).toString('latin1').repeat(6), 'latin1');
const args = (out: string) => ['preprocess', '--input', big, '--out', out, '--shard-rows', '2000', '--concurrency', '1', '-q'];
const content = (d: string) =>
  Object.fromEntries(fs.readdirSync(d).sort().map((f) => [f, createHash('sha256').update(fs.readFileSync(path.join(d, f))).digest('hex')]));

/** Starts preprocess, waits for its first committed shard (a manifest listing one), then sends `signal`. */
function interruptAfterFirstShard(out: string, signal: 'SIGINT' | 'SIGTERM'): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PIPELINE_BIN, ...args(out)], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
    fs.mkdirSync(out, { recursive: true });
    let sent = false;
    const check = () => {
      if (sent) return;
      try {
        if (JSON.parse(fs.readFileSync(path.join(out, '_manifest.json'), 'utf8')).shards.length > 0) {
          sent = true;
          watcher.close();
          child.kill(signal);
        }
      } catch {
        // no manifest yet, or being replaced
      }
    };
    const watcher = fs.watch(out, check);
    child.on('close', () => watcher.close());
    check();
  });
}

t.test('preprocess: SIGINT and SIGTERM end with one line, 130 / 143, and resume to the same shards', async (t) => {
  const ref = path.join(dir, 'ref');
  t.equal((await runPipeline(args(ref))).code, 0);
  const want = content(ref);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    const out = path.join(dir, signal);
    const r = await interruptAfterFirstShard(out, signal);
    t.equal(r.code, code, `${signal}: exit ${code}`);
    t.match(r.stderr, /^interrupted: \d+ rows committed in \d+ shards; rerun the same command to resume\n$/, `${signal}: one line`);
    const left = fs.readdirSync(out);
    t.same(left.filter((f) => f.endsWith('.tmp') || f.endsWith('.lock')), [], `${signal}: no temp files, no lock`);
    const again = await runPipeline(args(out));
    t.equal(again.code, 0, again.stderr);
    t.same(content(out), want, `${signal}: the rerun ends with the uninterrupted output`);
  }
});
