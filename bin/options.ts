/**
 * Typed option tables: each command declares its options once, with a type, bounds
 * or choices and a default (taken from the library's exported defaults); one parser
 * turns argv into typed values, and --help is written from the same table, so
 * neither the accepted values nor the help text can drift from what the command does.
 */
import { parseArgs } from 'node:util';
import {
  describeInt,
  describeNumber,
  parseEnumValue,
  parseFractionValue,
  parseIntValue,
  parseListValue,
  parseNumberValue,
  type IntBounds,
  type NumberBounds,
} from '../core/option-values.js';
import { invalidOption } from '../core/errors.js';

interface Common {
  short?: string;
  /** Shown in --help, e.g. "FILE". */
  arg?: string;
  help: string;
  /** Missing: an error saying what the option takes. */
  required?: boolean;
}

export type OptionSpec = Common &
  (
    | ({ type: 'int'; default?: number } & IntBounds)
    | ({ type: 'number'; default?: number } & NumberBounds)
    /** A number that may also be written "1/16". */
    | ({ type: 'fraction'; default?: number } & NumberBounds)
    | { type: 'enum'; choices: readonly string[]; default?: string }
    /** A file or directory, or '-' where the help says so; repeatable with `multiple`. */
    | { type: 'path'; default?: string; multiple?: boolean }
    /** Free text the command parses itself (an arch string, "i/n"); repeatable with `multiple`. */
    | { type: 'string'; default?: string; multiple?: boolean }
    /** Comma-separated integers, `lengths` of them. */
    | ({ type: 'int-list'; lengths?: readonly number[]; default?: number[] } & IntBounds)
    | { type: 'boolean'; default?: boolean }
  );

export type OptionTable = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S extends { type: 'int' | 'number' | 'fraction' }
  ? number
  : S extends { type: 'enum'; choices: readonly (infer C)[] }
    ? C
    : S extends { type: 'path' | 'string'; multiple: true }
      ? string[]
      : S extends { type: 'int-list' }
        ? number[]
        : S extends { type: 'boolean' }
          ? boolean
          : string;

/** The typed values: an option with a default, a required one or a boolean is always present. */
export type OptionValues<T extends OptionTable> = {
  -readonly [K in keyof T]: T[K] extends { default: unknown } | { required: true } | { type: 'boolean' } ? ValueOf<T[K]> : ValueOf<T[K]> | undefined;
};

/** What the option takes, in words, for --help and for a missing required option. */
export function describeOption(o: OptionSpec): string {
  switch (o.type) {
    case 'int':
      return describeInt(o);
    case 'number':
    case 'fraction':
      return describeNumber(o) + (o.type === 'fraction' ? ', or a ratio like 1/16' : '');
    case 'enum':
      return `one of ${o.choices.join(', ')}`;
    case 'int-list':
      return `${(o.lengths ?? [1]).join(' or ')} comma-separated ${describeInt(o).replace(/^an? /, '').replace('integer', 'integers')}`;
    case 'path':
      return 'a path';
    case 'string':
      return 'text';
    case 'boolean':
      return 'a flag';
  }
}

function convert(name: string, o: OptionSpec, raw: string): unknown {
  switch (o.type) {
    case 'int':
      return parseIntValue(name, raw, o);
    case 'number':
      return parseNumberValue(name, raw, o);
    case 'fraction':
      return parseFractionValue(name, raw, o);
    case 'enum':
      return parseEnumValue(name, raw, o.choices);
    case 'int-list':
      return parseListValue(name, raw, (n, r) => parseIntValue(n, r, o), o.lengths);
    default:
      return raw;
  }
}

function showDefault(o: OptionSpec): string {
  if (o.default === undefined || o.default === false) return '';
  return `default ${String(o.default)}`;
}

export function helpText(usage: string, description: string, options: OptionTable): string {
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'boolean' ? '' : ` ${o.arg ?? (o.type === 'enum' ? o.choices.join('|') : 'VALUE')}`}`;
    const facts = [o.type === 'int' || o.type === 'number' || o.type === 'fraction' || o.type === 'int-list' || o.type === 'enum' ? describeOption(o) : '', o.required ? 'required' : '', showDefault(o)].filter(Boolean);
    return `  ${flag.padEnd(34)} ${o.help}${facts.length ? ` (${facts.join('; ')})` : ''}`;
  });
  return `usage: ${usage}\n\n${description}\n\noptions:\n${rows.join('\n')}\n      --help                         show this help`;
}

/**
 * Parses argv into typed values; returns null after printing help when --help was given.
 * `positionals`: the name of a `multiple` path option that bare arguments are added
 * to, so `--input day_*.gz` (which the shell expands into `--input day_0.gz day_1.gz
 * ...`) and `preprocess a.tsv b.tsv` both mean every file, in the order given.
 */
export function parseCommandArgs<T extends OptionTable>(
  argv: string[],
  usage: string,
  description: string,
  options: T,
  { positionals }: { positionals?: keyof T & string } = {},
): OptionValues<T> | null {
  const spec: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, o] of Object.entries(options)) {
    spec[name] = { type: o.type === 'boolean' ? 'boolean' : 'string', ...(o.short ? { short: o.short } : {}), ...('multiple' in o && o.multiple ? { multiple: true } : {}) };
  }
  spec.help = { type: 'boolean', short: 'h' };
  const parsed = parseArgs({ args: argv, options: spec, allowPositionals: positionals !== undefined, allowNegative: true } as Parameters<typeof parseArgs>[0]);
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (values.help) {
    process.stdout.write(helpText(usage, description, options) + '\n');
    return null;
  }
  if (positionals !== undefined && parsed.positionals.length > 0) {
    values[positionals] = [...((values[positionals] as string[] | undefined) ?? []), ...parsed.positionals];
  }
  const out: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(options)) {
    const raw = values[name];
    if (raw === undefined) {
      // "Missing option rows: is required (a non-negative integer: number of rows)", not "got null".
      if (o.required) throw invalidOption(name, `is required (${o.type === 'path' ? (o.arg ?? 'a path') : describeOption(o)}: ${o.help})`, undefined);
      out[name] = o.type === 'boolean' ? (o.default ?? false) : o.default;
    } else out[name] = Array.isArray(raw) || typeof raw === 'boolean' ? raw : convert(name, o, raw);
  }
  return out as OptionValues<T>;
}
