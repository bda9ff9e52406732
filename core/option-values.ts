/**
 * Parsers of option values as people type them (CLI flags, config strings), each
 * throwing ERR_INVALID_OPTION naming the option.
 */
import { invalidOption } from './errors.js';

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
