/**
 * The rejects file of `--on-bad-row skip`: one line per rejected input line,
 *
 *     file \t line \t reason \t field \t original-line
 *
 * Every column is escaped so the file stays one record per line, pure ASCII,
 * whatever the input held (NUL, CR, invalid UTF-8...): backslash, tab, CR and LF
 * become \\ \t \r \n, any other byte outside printable ASCII becomes \xNN.
 * A line kept only in part (line-too-long) ends with `\...[truncated]`.
 */
import fs from 'node:fs';
import { invalidOption } from '../core/errors.js';
import type { RejectRecord } from './parse.js';

export const REJECTS_HEADER = 'file\tline\treason\tfield\toriginal';

export function escapeBytes(bytes: Uint8Array): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let out = '';
  let run = 0; // start of the current run of plain bytes
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c >= 0x20 && c < 0x7f && c !== 0x5c) continue;
    out += b.toString('latin1', run, i);
    out += c === 0x5c ? '\\\\' : c === 9 ? '\\t' : c === 10 ? '\\n' : c === 13 ? '\\r' : `\\x${c.toString(16).padStart(2, '0')}`;
    run = i + 1;
  }
  return out + b.toString('latin1', run);
}

export function formatReject(rec: RejectRecord): string {
  const text = (s: string) => escapeBytes(Buffer.from(s, 'utf8'));
  return `${text(rec.file)}\t${rec.line}\t${rec.reason}\t${text(rec.field)}\t${escapeBytes(rec.raw)}${rec.truncated ? '\\...[truncated]' : ''}\n`;
}

export interface RejectsWriterOptions {
  /** Append to an existing file (default) rather than truncate it. */
  append?: boolean;
  /** Write a header line when the file is new or empty. Default true. */
  header?: boolean;
}

/**
 * Appends formatted rejects to a file. Synchronous and buffered: rejects are rare,
 * and a sync writer can be called from inside the parser's hot loop without
 * breaking the order of records. Call close() (or flush()) before relying on the file.
 */
export class RejectsWriter {
  readonly path: string;
  /** Records written (or buffered) so far. */
  count = 0;
  private fd: number;
  private pending: string[] = [];
  private pendingLen = 0;
  /** Pass it as parseTsv's onReject. */
  readonly write = (rec: RejectRecord): void => {
    const s = formatReject(rec);
    this.pending.push(s);
    this.pendingLen += s.length;
    this.count++;
    if (this.pendingLen >= 64 * 1024) this.flush();
  };

  constructor(path: string, opts: RejectsWriterOptions = {}) {
    const { append = true, header = true } = opts;
    if (typeof path !== 'string' || path === '') throw invalidOption('rejects path', 'must be a non-empty string', path);
    this.path = path;
    this.fd = fs.openSync(path, append ? 'a' : 'w');
    if (header && fs.fstatSync(this.fd).size === 0) fs.writeSync(this.fd, REJECTS_HEADER + '\n');
  }

  flush(): void {
    if (this.pendingLen === 0 || this.fd < 0) return;
    fs.writeSync(this.fd, this.pending.join(''), null, 'latin1');
    this.pending = [];
    this.pendingLen = 0;
  }

  /** Flushes, syncs to disk and closes; safe to call twice. */
  close(): void {
    if (this.fd < 0) return;
    this.flush();
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}

export function createRejectsWriter(path: string, opts: RejectsWriterOptions = {}): RejectsWriter {
  return new RejectsWriter(path, opts);
}
