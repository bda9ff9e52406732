/**
 * node:util.parseArgs option specs that also produce --help, so a command's help
 * text can never drift from what it accepts.
 */
import { parseArgs } from 'node:util';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  default?: string | boolean | string[];
  /** Shown in --help, e.g. "FILE". */
  arg?: string;
  help: string;
}

export function helpText(usage: string, description: string, options: Record<string, OptionSpec>): string {
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.arg ?? 'VALUE'}` : ''}`;
    const def = o.default !== undefined && o.default !== false ? ` (default: ${o.default})` : '';
    return `  ${flag.padEnd(34)} ${o.help}${def}`;
  });
  return `usage: ${usage}\n\n${description}\n\noptions:\n${rows.join('\n')}\n      --help                         show this help`;
}

/** Parses argv; returns null after printing help when --help was given. */
export function parseCommandArgs(
  argv: string[],
  usage: string,
  description: string,
  options: Record<string, OptionSpec>,
): Record<string, string | boolean | string[] | undefined> | null {
  const spec: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean | string[] }> = {};
  for (const [name, o] of Object.entries(options)) {
    spec[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}), ...(o.default !== undefined ? { default: o.default } : {}) };
  }
  spec.help = { type: 'boolean', short: 'h' };
  const { values } = parseArgs({ args: argv, options: spec, allowPositionals: false, allowNegative: true } as Parameters<typeof parseArgs>[0]);
  if (values.help) {
    process.stdout.write(helpText(usage, description, options) + '\n');
    return null;
  }
  return values as Record<string, string | boolean | string[] | undefined>;
}
