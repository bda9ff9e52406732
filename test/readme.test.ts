/**
 * The README's commands are the acceptance test: every code line of "The command
 * line" section that runs bin/pipeline (or a shell loop of it) runs here as written,
 * in order, in one directory, and must exit 0. The only change: synth writes 8,000
 * rows instead of 1,000,000. The files the README says stand for the user's data
 * (day_*.gz, test.txt, valid.tsv) are generated stand-ins.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from './helpers/paths.js';
import { synthRows } from '../input/synth.js';

export function readmeCommands(readme: string): string[] {
  const start = readme.indexOf('\n## The command line');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end);
  const out: string[] = [];
  let pending = '';
  for (const line of section.split('\n')) {
    if (!line.startsWith('    ') || line.startsWith('     ') && !pending) continue;
    const code = line.slice(4).trimStart();
    if (!pending && !/^(bin\/pipeline |for )/.test(code)) continue;
    if (code.endsWith('\\')) {
      pending += code.slice(0, -1) + ' ';
      continue;
    }
    out.push(pending + code);
    pending = '';
  }
  return out;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

const commands = readmeCommands(fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8'));

t.test('the README section has its commands', async (t) => {
  t.ok(commands.length >= 10, `${commands.length} commands`);
  t.ok(commands.some((c) => c.includes('--input - ')), 'the pipe example');
  t.ok(commands.some((c) => c.startsWith('bin/pipeline train ') && c.includes('--split dlrm')), 'the multi-line train command, joined');
});

t.test('every command runs as written', { timeout: 1_800_000 }, async (t) => {
  // The user's data, as small stand-ins.
  const lines = (n: number, seed: number) => [...synthRows({ rows: n, seed })].map((r) => r.line);
  for (let d = 0; d < 3; d++) fs.writeFileSync(path.join(dir, `day_${d}.gz`), zlib.gzipSync(lines(2000, 10 + d).join('\n') + '\n'));
  fs.writeFileSync(path.join(dir, 'test.txt'), lines(500, 20).map((l) => l.slice(l.indexOf('\t') + 1)).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'valid.tsv'), lines(1000, 21).join('\n') + '\n');
  fs.symlinkSync(path.join(REPO_ROOT, 'bin'), path.join(dir, 'bin'));
  // As a user runs them: without tap's loader hooks in NODE_OPTIONS.
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  for (const written of commands) {
    const cmd = written.replace('--rows 1000000', '--rows 8000');
    const started = Date.now();
    const r = spawnSync('bash', ['-o', 'pipefail', '-c', cmd], { cwd: dir, env, encoding: 'utf8', maxBuffer: 256 << 20 });
    t.equal(r.status, 0, `${cmd}\n(${((Date.now() - started) / 1000).toFixed(1)} s)${r.status ? `\n${r.stderr.slice(-3000)}` : ''}`);
    if (r.status !== 0) break;
  }
  const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
  t.equal(read('ctr.txt').trim().split('\n').length, 500, 'ctr.txt: one probability per test row');
  t.match(read('submission.csv'), /^Id,Predicted\n60000000,0\.\d+\n60000001,/);
  t.match(read('curves.svg'), /^<\?xml/);
  t.match(read('kinds.svg'), />scma<\/text>/);
});
