/**
 * One error type for the whole pipeline: a stable code for programs, and the
 * context (file, line, field, shard...) a person needs to find the problem.
 */
export interface ErrorContext {
  file?: string;
  line?: number;
  field?: string;
  shard?: string;
  [key: string]: unknown;
}

export class PipelineError extends Error {
  readonly code: string;
  readonly context: ErrorContext;
  constructor(code: string, message: string, context: ErrorContext = {}) {
    const where = [
      context.file !== undefined ? `${context.file}` : undefined,
      context.line !== undefined ? `line ${context.line}` : undefined,
      context.field !== undefined ? `field ${context.field}` : undefined,
      context.shard !== undefined ? `shard ${context.shard}` : undefined,
    ].filter(Boolean);
    super(where.length ? `${where.join(', ')}: ${message}` : message);
    this.name = 'PipelineError';
    this.code = code;
    this.context = context;
  }
}

/** `Invalid option buckets: must be a positive integer, got -3` */
export function invalidOption(name: string, expected: string, got: unknown): PipelineError {
  return new PipelineError('ERR_INVALID_OPTION', `Invalid option ${name}: ${expected}, got ${JSON.stringify(got)}`, { option: name });
}
