/**
 * Input lists as people type them: several paths, glob patterns (quoted, so the
 * shell leaves them to us, or unquoted where the shell found no match), and '-'.
 *
 * A pattern's matches are sorted in natural order (day_2 before day_10), because
 * Criteo Terabyte's day files are named day_0 .. day_23 and a shell's lexical
 * order would put day_10 before day_2, changing which rows are the last day.
 * Patterns support *, ? and [...] in any path segment except '**'.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../core/errors.js';

const GLOB_CHARS = /[*?[]/;

export function isGlob(p: string): boolean {
  return GLOB_CHARS.test(p);
}

/** day_2 < day_10: digit runs compare as numbers. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

function segmentRegExp(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        const body = seg.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The files matching one pattern, in natural order; hidden files only when the pattern's segment starts with '.'. */
export function expandGlob(pattern: string): string[] {
  const abs = path.isAbsolute(pattern);
  const segs = pattern.split('/').filter((s, i) => s !== '' || i === 0);
  let bases = [abs ? '/' : ''];
  for (let i = abs ? 1 : 0; i < segs.length; i++) {
    const seg = segs[i];
    const last = i === segs.length - 1;
    const next: string[] = [];
    for (const base of bases) {
      if (!isGlob(seg)) {
        next.push(base ? path.join(base, seg) : seg);
        continue;
      }
      let names: string[];
      try {
        names = fs.readdirSync(base || '.');
      } catch {
        continue;
      }
      const re = segmentRegExp(seg);
      for (const n of names.sort(naturalCompare)) {
        if (n.startsWith('.') && !seg.startsWith('.')) continue;
        if (!re.test(n)) continue;
        const p = base ? path.join(base, n) : n;
        let st: fs.Stats;
        try {
          st = fs.statSync(p);
        } catch {
          continue;
        }
        if (last ? st.isFile() : st.isDirectory()) next.push(p);
      }
    }
    bases = next;
  }
  return bases.filter((p) => fs.existsSync(p));
}

/**
 * Expands glob patterns among `inputs` (in place, each pattern's matches in
 * natural order); literal paths and '-' pass through. A pattern matching nothing
 * is an error naming it, rather than an empty run.
 */
export function expandInputs(inputs: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of inputs) {
    if (p === '-' || !isGlob(p) || fs.existsSync(p)) {
      out.push(p);
      continue;
    }
    const files = expandGlob(p);
    if (files.length === 0) throw new PipelineError('ERR_INPUT_NOT_FOUND', 'no file matches this pattern', { file: p });
    out.push(...files);
  }
  return out;
}

/**
 * Day files (day_N, day_N.gz, ...) given out of numeric order, as an unquoted
 * shell glob gives them (day_0 day_1 day_10 ... day_2): a warning to print, or
 * null. Order is the user's to choose, so we warn instead of reordering.
 */
export function dayOrderWarning(inputs: readonly string[]): string | null {
  const days = inputs.map(dayNumber);
  if (days.some((d) => d === null) || days.length < 2) return null;
  for (let i = 1; i < days.length; i++) {
    if (days[i]! < days[i - 1]!) {
      return `inputs are day files out of numeric order (${path.basename(inputs[i - 1])} before ${path.basename(inputs[i])}); a shell glob sorts lexically. Quote the pattern (--input 'day_*.gz') to get day_0 .. day_23 in order.`;
    }
  }
  return null;
}

/** N for a file named day_N (any extension), else null. */
export function dayNumber(file: string): number | null {
  const m = /^day_(\d+)(\.|$)/.exec(path.basename(file));
  return m ? Number(m[1]) : null;
}
