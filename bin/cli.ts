/**
 * `bin/pipeline <command> [options]`: one CLI, one module per command under
 * bin/commands/, each exporting `summary` (one line for the top-level help) and
 * `run(argv)`. Data goes to stdout, progress and logs to stderr.
 */
import { readFileSync } from 'node:fs';
import { PipelineError } from '../core/errors.js';
import { runInterruptHandlers } from '../core/interrupt.js';

/**
 * SIGINT / SIGTERM: the workflow's cleanup runs (temp files, lock), one line says how
 * far it got, and the exit status is the shell's 128 + signal number.
 */
/** Errors of the environment, not of the program: said in one line naming the path. */
const SYSTEM_ERRORS: Record<string, string> = {
  EEXIST: 'already exists',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  ENOENT: 'no such file or directory',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EMFILE: 'too many open files',
  EIO: 'input/output error',
};

/** `PATH: what went wrong (CODE, syscall)` for a Node system error, else undefined. */
export function systemErrorLine(e: Error & { code?: string; path?: string; syscall?: string }): string | undefined {
  const what = e.code !== undefined ? SYSTEM_ERRORS[e.code] : undefined;
  if (!what || e instanceof PipelineError) return undefined;
  return `${e.path !== undefined ? `${e.path}: ` : ''}${what} (${e.code}${e.syscall ? `, ${e.syscall}` : ''})`;
}

async function onSignal(signal: 'SIGINT' | 'SIGTERM'): Promise<void> {
  const status = await runInterruptHandlers();
  const done = status.length ? status.join('; ') : 'nothing committed';
  process.stderr.write(`interrupted: ${done}; rerun the same command to resume\n`);
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

export const COMMANDS = ['synth', 'preprocess', 'stats', 'minhash', 'train', 'predict', 'evaluate', 'plot'] as const;

interface CommandModule {
  summary: string;
  run(argv: string[]): Promise<number | void>;
}

async function load(name: string): Promise<CommandModule> {
  return (await import(`./commands/${name}.js`)) as CommandModule;
}

async function topHelp(): Promise<string> {
  const lines = ['usage: pipeline <command> [options]   (pipeline <command> --help for its options)', '       pipeline --version', '', 'commands:'];
  for (const c of COMMANDS) {
    try {
      lines.push(`  ${c.padEnd(11)} ${(await load(c)).summary}`);
    } catch {
      lines.push(`  ${c.padEnd(11)} (not available in this build)`);
    }
  }
  return lines.join('\n');
}

/** The package's version, read from package.json (two levels above dist/bin/). */
export function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

export async function main(argv: string[]): Promise<void> {
  // A closed stdout (e.g. `| head`) is a normal end for a data producer, not a crash.
  // Any other stdout error reaches the command through its own stream pipeline
  // (which reports it and sets the exit code); rethrowing here would only add a
  // second, uncaught report of the same failure.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
  process.once('SIGINT', () => void onSignal('SIGINT'));
  process.once('SIGTERM', () => void onSignal('SIGTERM'));
  const [name, ...rest] = argv;
  // No command is a usage error (exit 2, usage on stderr); asking for help is not.
  if (!name) {
    process.stderr.write((await topHelp()) + '\n');
    process.exitCode = 2;
    return;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write((await topHelp()) + '\n');
    return;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`scma-pipeline ${version()}\n`);
    return;
  }
  if (!(COMMANDS as readonly string[]).includes(name)) {
    process.stderr.write(`pipeline: unknown command ${JSON.stringify(name)}\n${await topHelp()}\n`);
    process.exitCode = 2;
    return;
  }
  try {
    const code = await (await load(name)).run(rest);
    if (typeof code === 'number') process.exitCode = code;
  } catch (err) {
    const e = err as Error & { code?: string };
    const usage = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' || e.code === 'ERR_INVALID_OPTION';
    const sys = systemErrorLine(e);
    process.stderr.write(`pipeline ${name}: ${sys ?? (e instanceof PipelineError || usage ? e.message : e.stack ?? e.message)}\n`);
    process.exitCode = usage ? 2 : 1;
  }
}
