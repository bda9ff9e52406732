/**
 * Progress lines for people, by time rather than by count: a long command says
 * where it is at least every `intervalMs`, with a percentage and an ETA when the
 * total is known. They go to stderr (stdout carries data), and by default only
 * when stderr is a terminal: a log file or a CI run asks with --progress.
 */

export interface ProgressOptions {
  /** Prefix, e.g. "preprocess". */
  label: string;
  /** Where lines go. */
  write: (line: string) => void;
  /** Minimum time between lines (default 10 s, the most a person should wait for one). */
  intervalMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

/**
 * --progress / --no-progress given: that; not given: on when stderr is a TTY.
 * `interval`: 2 s on a terminal (someone is watching), 10 s otherwise (a log);
 * the environment variable PIPELINE_PROGRESS_SECONDS sets it for every command.
 */
export function progressSetting(
  flag: boolean | undefined,
  stream: { isTTY?: boolean } = process.stderr,
  env: Record<string, string | undefined> = process.env,
): { enabled: boolean; intervalMs: number } {
  const tty = Boolean(stream.isTTY);
  const fromEnv = Number(env.PIPELINE_PROGRESS_SECONDS);
  const intervalMs = env.PIPELINE_PROGRESS_SECONDS && Number.isFinite(fromEnv) && fromEnv >= 0 ? fromEnv * 1000 : tty ? 2000 : 10_000;
  return { enabled: flag ?? tty, intervalMs };
}

/** 95 -> "1m35s", 4000 -> "1h06m40s"; under a minute "42s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h) return `${h}h${String(m).padStart(2, '0')}m${String(r).padStart(2, '0')}s`;
  if (m) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

/** 1234567 -> "1.23M", 45200 -> "45.2k": rates and counts at a glance. */
export function formatCount(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${(n / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${(n / 1e3).toPrecision(3)}k`;
  return String(Math.round(n));
}

export class Progress {
  private readonly started: number;
  private last: number;
  private readonly intervalMs: number;
  private readonly now: () => number;
  constructor(private readonly opts: ProgressOptions) {
    this.now = opts.now ?? Date.now;
    this.started = this.now();
    this.last = this.started;
    this.intervalMs = opts.intervalMs ?? 10_000;
  }

  /** Seconds since the start. */
  get elapsed(): number {
    return (this.now() - this.started) / 1000;
  }

  /**
   * Prints a line when the interval has passed: `done` of `total` `unit`s (a
   * percentage and an ETA when total is known; `fraction` overrides done/total for
   * the percentage, e.g. bytes read of a known size while counting rows), the rate,
   * and `extra` fields. Returns whether it printed.
   */
  tick(done: number, { total, fraction, unit = 'rows', extra }: { total?: number; fraction?: number; unit?: string; extra?: string } = {}): boolean {
    const now = this.now();
    if (now - this.last < this.intervalMs) return false;
    this.last = now;
    this.opts.write(this.line(done, { total, fraction, unit, extra }));
    return true;
  }

  line(done: number, { total, fraction, unit = 'rows', extra }: { total?: number; fraction?: number; unit?: string; extra?: string } = {}): string {
    const secs = Math.max(1e-3, (this.now() - this.started) / 1000);
    const f = fraction ?? (total ? done / total : undefined);
    const parts = [`${this.opts.label}:`];
    if (f !== undefined) parts.push(`${(100 * Math.min(1, f)).toFixed(1)}%`);
    parts.push(`${done.toLocaleString('en-US')}${total !== undefined ? `/${total.toLocaleString('en-US')}` : ''} ${unit}`);
    if (extra) parts.push(extra);
    parts.push(`${formatCount(done / secs)} ${unit}/s`);
    parts.push(`elapsed ${formatDuration(secs)}`);
    if (f !== undefined && f > 0 && f < 1) parts.push(`ETA ${formatDuration((secs * (1 - f)) / f)}`);
    return parts.join(' ');
  }
}
