/** `pipeline stats --input -`: an Arrow stream on stdin, read through the checked reader. */
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PIPELINE_BIN } from '../../helpers/paths.js';
import { SAMPLE_10K } from '../../helpers/samples.js';
import { arrowStreamBytes } from '../../helpers/arrow-bytes.js';

function stats(args: string[], stdin: Uint8Array): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PIPELINE_BIN, 'stats', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {}); // the command may stop reading early
    child.stdin.end(stdin);
  });
}

const whole = await arrowStreamBytes(300, 100);

t.test('a whole stream: its statistics', async (t) => {
  const r = await stats(['--input', '-'], whole);
  t.equal(r.code, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { input: '-', rows: 300, labeled: true, positives: 100 });
});

t.test('a stream cut short is an error, not the statistics of fewer rows', async (t) => {
  for (const cut of [whole.length - 8, Math.floor(whole.length / 2)]) {
    const r = await stats(['--input', '-'], whole.subarray(0, cut));
    t.equal(r.code, 1, `cut at ${cut}`);
    t.equal(r.stdout, '', 'no statistics printed');
    t.match(r.stderr, /pipeline stats: <stdin>: the Arrow IPC stream stopped after \d+ bytes without its end-of-stream marker/);
  }
});

t.test('raw TSV on stdin says so', async (t) => {
  const r = await stats(['--input', '-'], readFileSync(SAMPLE_10K));
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.match(r.stderr, /pipeline stats: <stdin>: not an Arrow IPC stream: it starts with text .*like raw TSV rows/);
  t.notMatch(r.stderr, /metadata bytes/);
});
