/** Runs `bin/pipeline` as a child process, as a user would, for end-to-end tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { PIPELINE_BIN, REPO_ROOT } from './paths.js';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runPipeline(args: string[], opts: { input?: string; onSpawn?: (c: ChildProcess) => void } = {}): Promise<RunResult> {
  return runShell(null, [PIPELINE_BIN, ...args], opts);
}

/** `shell` given: runs it with bash -o pipefail (args unused). */
export function runShell(shell: string | null, args: string[] = [], opts: { input?: string; onSpawn?: (c: ChildProcess) => void } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = shell !== null ? spawn('bash', ['-o', 'pipefail', '-c', shell], { cwd: REPO_ROOT }) : spawn(process.execPath, args, { cwd: REPO_ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
    opts.onSpawn?.(child);
  });
}

/** The last JSON line of stdout (the command's summary). */
export function summaryOf(r: RunResult): any {
  const lines = r.stdout.trim().split('\n');
  try {
    return JSON.parse(lines[lines.length - 1]);
  } catch {
    throw new Error(`no JSON summary (exit ${r.code}); stderr:\n${r.stderr}`);
  }
}
