/**
 * Parsers of option values as people type them (CLI flags, config strings), each
 * throwing ERR_INVALID_OPTION naming the option. One rule for numbers everywhere:
 * an integer is decimal digits only (so "1e3", "12abc", "0x10", "1.0" and "" are
 * errors, not 1000, 12, 16, 1 and 0); a number may use a fraction and an exponent
 * ("0.1", "1e-3", "1e3"); a fraction option also reads "1/16".
 */
import { invalidOption } from './errors.js';

export interface IntBounds {
  min?: number;
  max?: number;
}

export interface NumberBounds {
  min?: number;
  max?: number;
  /** The bound itself is outside the range: (min, ...] or [..., max). */
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

/** What an integer option accepts, in words: "a positive integer", "an integer in 1..64". */
export function describeInt({ min, max }: IntBounds): string {
  if (min !== undefined && max !== undefined) return `an integer in ${min}..${max}`;
  if (min === 1) return 'a positive integer';
  if (min === 0) return 'a non-negative integer';
  if (min !== undefined) return `an integer >= ${min}`;
  if (max !== undefined) return `an integer <= ${max}`;
  return 'an integer';
}

/** What a number option accepts, in words: "a positive number", "a number in (0, 1]". */
export function describeNumber({ min, max, minExclusive = false, maxExclusive = false }: NumberBounds): string {
  if (min !== undefined && max !== undefined) return `a number in ${minExclusive ? '(' : '['}${min}, ${max}${maxExclusive ? ')' : ']'}`;
  if (min === 0) return minExclusive ? 'a positive number' : 'a non-negative number';
  if (min !== undefined) return `a number ${minExclusive ? '>' : '>='} ${min}`;
  if (max !== undefined) return `a number ${maxExclusive ? '<' : '<='} ${max}`;
  return 'a number';
}

const INT = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const RATIO = /^(\d+)\/(\d+)$/;

export function parseIntValue(name: string, raw: string, bounds: IntBounds = {}): number {
  const s = raw.trim();
  const n = INT.test(s) ? Number(s) : NaN;
  const { min = -Number.MAX_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = bounds;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw invalidOption(name, `must be ${describeInt(bounds)}`, raw);
  return n;
}

function inRange(x: number, { min, max, minExclusive = false, maxExclusive = false }: NumberBounds): boolean {
  if (min !== undefined && (minExclusive ? x <= min : x < min)) return false;
  if (max !== undefined && (maxExclusive ? x >= max : x > max)) return false;
  return true;
}

export function parseNumberValue(name: string, raw: string, bounds: NumberBounds = {}): number {
  const s = raw.trim();
  const x = DECIMAL.test(s) ? Number(s) : NaN;
  if (!Number.isFinite(x) || !inRange(x, bounds)) throw invalidOption(name, `must be ${describeNumber(bounds)}`, raw);
  return x;
}

/** A number that may also be written as a ratio of integers, "1/16". */
export function parseFractionValue(name: string, raw: string, bounds: NumberBounds = {}): number {
  const ratio = RATIO.exec(raw.trim());
  const x = ratio ? Number(ratio[1]) / Number(ratio[2]) : NaN;
  if (ratio && (!Number.isFinite(x) || !inRange(x, bounds))) throw invalidOption(name, `must be ${describeNumber(bounds)}`, raw);
  return ratio ? x : parseNumberValue(name, raw, bounds);
}

export function parseEnumValue<C extends string>(name: string, raw: string, choices: readonly C[]): C {
  if (!(choices as readonly string[]).includes(raw)) throw invalidOption(name, `must be ${choices.length === 2 ? `${choices[0]} or ${choices[1]}` : `one of ${choices.join(', ')}`}`, raw);
  return raw as C;
}

/**
 * A comma-separated list whose items `item` parses (each error names the option
 * and the item's index). `lengths`: the counts allowed.
 */
export function parseListValue<T>(name: string, raw: string, item: (name: string, raw: string) => T, lengths?: readonly number[]): T[] {
  const parts = raw.split(',');
  if (lengths && !lengths.includes(parts.length)) throw invalidOption(name, `must be ${lengths.map((n) => (n === 1 ? 'one value' : `${n} values`)).join(' or ')} separated by commas (got ${parts.length})`, raw);
  return parts.map((p, i) => item(parts.length > 1 ? `${name}[${i}]` : name, p));
}

/**
 * Parses a DLRM arch string such as "13-512-256-16" into layer sizes.
 * `name` is the option name used in the error, e.g. "arch-mlp-bot".
 */
export function parseArch(s: string, name: string): number[] {
  if (typeof s !== 'string' || s.trim() === '') throw invalidOption(name, 'must be layer sizes joined by "-", e.g. 13-512-256-16', s);
  const parts = s.trim().split('-');
  const sizes = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  const bad = sizes.findIndex((n) => !Number.isSafeInteger(n) || n < 1);
  if (bad >= 0) throw invalidOption(name, `layer ${bad + 1} ("${parts[bad]}") must be a positive integer; expected sizes joined by "-", e.g. 13-512-256-16`, s);
  return sizes;
}
