/**
 * parse: Criteo TSV bytes -> columnar RawBatch objects.
 *
 * The core (TsvParser) is a state machine over byte chunks that works on the
 * Buffers directly: no String.split, no per-field strings, no per-row objects.
 * Every byte of a line is checked on the fast path (a digit, a hex digit, a tab),
 * so any surprise drops the line into `diagnose`, a slow but exact path that
 * names the reason and the field. parseTsv() wraps the core in a Transform.
 *
 * Line rules (Criteo in the wild, see ../shared/data/criteo/quirks/):
 * - LF or CRLF; a missing final newline is fine; empty lines are skipped (they
 *   still count for line numbers, which are physical 1-based lines of the file).
 * - A labeled row has 40 fields (label, i1..i13, c1..c26), an unlabeled one 39.
 *   Fewer fields: the missing trailing ones are empty (tools that strip trailing
 *   tabs leave 37- and 38-field rows), and the row is counted in `trimmedRows`.
 *   But a row needs the label, the 13 integers and one categorical (15 fields, 14
 *   unlabeled), else it is "too-few-fields": `1` alone is not a row of empties.
 *   One extra field is accepted only when it is empty (a trailing tab); anything
 *   more is "too-many-fields".
 * - The last line of a file without a newline may be a cut-off write: if it ends
 *   inside a categorical (1 to 7 hex digits where Criteo always has 8) it is
 *   "truncated-line"; if it is merely short it is kept and counted in
 *   `possiblyTruncated` (a trimmed file without a final newline looks the same).
 * - A UTF-8 byte order mark at the start of a file is dropped.
 * - CR-only (classic Mac) line endings make the whole file one line; that always
 *   stops the run (ERR_LINE_ENDINGS), even when skipping bad rows, since skipping
 *   would drop every row.
 * - Integers: optional '-', then decimal digits ('+', '1.5', '1e3', spaces are
 *   bad); empty -> NaN. Kept as float64 since Terabyte values can exceed int32;
 *   one too large for a float64 (Infinity) is bad.
 * - Categoricals: up to 8 hex digits (either case) -> uint32, with a presence
 *   mask since the empty value is distinct from "00000000".
 */
import { Transform, type TransformCallback } from 'node:stream';
import { PipelineError, invalidOption } from '../core/errors.js';
import { CAT_NAMES, DENSE_NAMES, NUM_CAT, NUM_DENSE } from '../core/schema.js';
import { isInputMarker } from '../input/open.js';
import { catId, denseFeature, log1pTable, resolveFeaturizeOptions, type FeatureColumns, type FeaturizeOptions, type ResolvedFeaturizeOptions } from './featurize-kernel.js';

/** Columnar rows as parsed, before featurize. Arrays are exactly `rows` long. */
export interface RawBatch {
  rows: number;
  /** 0/1 per row; null when parsed with labeled: false. */
  label: Uint8Array | null;
  /** NUM_DENSE columns; NaN where the field was empty. */
  ints: Float64Array[];
  /** NUM_CAT columns of the hex value; 0 where empty (see catPresent). */
  cats: Uint32Array[];
  /** NUM_CAT columns: 1 where the categorical field was non-empty. */
  catPresent: Uint8Array[];
  /** The input file the rows came from (a batch never spans two files). */
  file: string;
  /** Position of `file` among the inputs (0-based). */
  fileIndex: number;
  /** Index of this batch's first row among all rows accepted so far, across files (0-based). */
  firstRow: number;
  /** Line number (1-based, within `file`) of the first row; same as lines[0]. */
  firstLine: number;
  /** Line number (1-based, within `file`) of each row. */
  lines: Float64Array;
}

export type OnBadRow = 'fail' | 'skip';

/**
 * Where a TsvParser in direct mode (setDirectOutput) writes accepted rows, already
 * featurized: the same values featurizeInto would write, without a RawBatch between.
 */
export interface DirectRows {
  /** Featurized columns and each row's line number; rows [0, capacity) may be written. */
  cols: FeatureColumns & { lines: Float64Array };
  /** Rows written so far (the parser advances it). */
  rows: number;
  capacity: number;
  /** Called when rows === capacity and a row is about to be written: must raise capacity (cols may be replaced). */
  grow(): void;
}

export const REJECT_REASONS = [
  'too-many-fields',
  'too-few-fields',
  'truncated-line',
  'bad-int',
  'bad-hex',
  'long-cat',
  'bad-label',
  'binary',
  'invalid-utf8',
  'line-too-long',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** One rejected line, as handed to onReject (and written by stages/rejects.ts). */
export interface RejectRecord {
  file: string;
  line: number;
  reason: RejectReason;
  /** `label`, `i1`..`i13`, `c1`..`c26`, or `f41` (1-based position) for an unexpected extra field. */
  field: string;
  message: string;
  /** The line's bytes without its line ending; for line-too-long only a prefix (then truncated is true). */
  raw: Buffer;
  truncated: boolean;
}

export interface ParseStats {
  /** Physical lines seen, empty ones included. */
  lines: number;
  /** Rows accepted. */
  rows: number;
  emptyLines: number;
  /** Lines rejected (onBadRow: 'skip'), in total and per reason. */
  rejected: number;
  rejects: Record<RejectReason, number>;
  batches: number;
  /** Rows accepted with trailing fields missing (taken as empty). */
  trimmedRows: number;
  /** Files whose last line had no newline and too few fields: kept, but possibly cut off. */
  possiblyTruncated: number;
}

/** All counters at zero, every reject reason present. */
export function emptyParseStats(): ParseStats {
  return {
    lines: 0,
    rows: 0,
    emptyLines: 0,
    rejected: 0,
    rejects: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>,
    batches: 0,
    trimmedRows: 0,
    possiblyTruncated: 0,
  };
}

export interface ParseOptions {
  /** Rows per RawBatch (the last one may be shorter). Default 8192. */
  batchRows?: number;
  /** Rows start with a 0/1 label (40 fields); false for Kaggle's test.txt (39 fields). Default true. */
  labeled?: boolean;
  /** 'fail' (default): the first bad line is an ERR_BAD_ROW error. 'skip': count it, hand it to onReject, go on. */
  onBadRow?: OnBadRow;
  /** A line longer than this (without its line ending) is bad; never buffered beyond it. Default 65536. */
  maxLineBytes?: number;
  /** Name used in batches and messages until an input marker names the file. Default '<input>'. */
  file?: string;
  /** Receives each rejected line when onBadRow is 'skip'. */
  onReject?: (rec: RejectRecord) => void;
  /**
   * Reuse one set of batch arrays: a batch handed to emit is overwritten once emit
   * returns, so emit must copy what it keeps (featurizeInto does). Saves allocating
   * and collecting ~2 MiB per batch. Only for the pure core; default false.
   */
  reuseBatches?: boolean;
}

interface ResolvedParseOptions {
  batchRows: number;
  labeled: boolean;
  onBadRow: OnBadRow;
  maxLineBytes: number;
  file: string;
  onReject: ((rec: RejectRecord) => void) | undefined;
  reuseBatches: boolean;
}

const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

export function resolveParseOptions(opts: ParseOptions = {}): ResolvedParseOptions {
  if (opts === null || typeof opts !== 'object') throw invalidOption('options', 'must be an object', opts);
  const { batchRows = 8192, labeled = true, onBadRow = 'fail', maxLineBytes = 65536, file = '<input>', onReject, reuseBatches = false } = opts;
  if (!isPositiveInt(batchRows)) throw invalidOption('batchRows', 'must be a positive integer', batchRows);
  if (typeof labeled !== 'boolean') throw invalidOption('labeled', 'must be a boolean', labeled);
  if (onBadRow !== 'fail' && onBadRow !== 'skip') throw invalidOption('onBadRow', "must be 'fail' or 'skip'", onBadRow);
  // Below ~ a minimal 40-field row nothing real fits; the bound is about memory, not policy.
  if (!isPositiveInt(maxLineBytes) || maxLineBytes < 64) throw invalidOption('maxLineBytes', 'must be an integer >= 64', maxLineBytes);
  if (typeof file !== 'string') throw invalidOption('file', 'must be a string', file);
  if (onReject !== undefined && typeof onReject !== 'function') throw invalidOption('onReject', 'must be a function', onReject);
  if (typeof reuseBatches !== 'boolean') throw invalidOption('reuseBatches', 'must be a boolean', reuseBatches);
  return { batchRows, labeled, onBadRow, maxLineBytes, file, onReject, reuseBatches };
}

/** hex digit value per byte, -1 for anything else. */
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[97 + i] = HEX[65 + i] = 10 + i;

const TAB = 9;
const LF = 10;
const CR = 13;

/** parseRow's answers: the line is bad, a full row, or a row with trailing fields missing. */
const ROW_BAD = 0;
const ROW_OK = 1;
const ROW_TRIMMED = 2;

/** True when buf[start, end) starts with the UTF-8 byte order mark EF BB BF. */
function hasBom(buf: Uint8Array, start: number, end: number): boolean {
  return end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf;
}

/** The error for CR-only line endings: always fatal, since no line of such a file can be read. */
export function crLineEndingsError(file: string, line: number): PipelineError {
  return new PipelineError(
    'ERR_LINE_ENDINGS',
    "CR-only line endings (classic Mac): the file is one long line; convert it first, e.g. tr '\\r' '\\n'",
    { file, line },
  );
}

/** scanCat's answers besides a value (values are uint32, so these never collide). */
const EMPTY_CAT = -1;
const BAD_CAT = -2;
/** Where the field that scanCat last read stops (its tab, or the line's end). */
let catEnd = 0;

/**
 * Reads the categorical field that starts at p and stops at a tab or at `end`: its
 * uint32 value, EMPTY_CAT, or BAD_CAT when it is not 1 to 8 hex digits. Both row
 * parsers (raw and featurizing) call it, so they accept exactly the same fields.
 */
function scanCat(buf: Uint8Array, p: number, end: number): number {
  const q = p + 8;
  if (q <= end && (q === end || buf[q] === TAB)) {
    // The usual case, 8 hex digits then a tab or the end. Any other byte (a tab
    // too: "abc\t\t" is a short value then an empty field) makes its lookup -1,
    // the OR negative, and the general loop below decides.
    const h0 = HEX[buf[p]], h1 = HEX[buf[p + 1]], h2 = HEX[buf[p + 2]], h3 = HEX[buf[p + 3]];
    const h4 = HEX[buf[p + 4]], h5 = HEX[buf[p + 5]], h6 = HEX[buf[p + 6]], h7 = HEX[buf[p + 7]];
    if ((h0 | h1 | h2 | h3 | h4 | h5 | h6 | h7) >= 0) {
      catEnd = q;
      return ((h0 << 28) | (h1 << 24) | (h2 << 20) | (h3 << 16) | (h4 << 12) | (h5 << 8) | (h6 << 4) | h7) >>> 0;
    }
  }
  let v = 0;
  const digits = p;
  while (p < end) {
    const c = buf[p];
    if (c === TAB) break;
    const h = HEX[c];
    if (h < 0) return BAD_CAT;
    v = (v << 4) | h;
    p++;
  }
  const nd = p - digits;
  if (nd > 8) return BAD_CAT;
  catEnd = p;
  return nd === 0 ? EMPTY_CAT : v >>> 0;
}
/** How much of an over-long line is kept for the rejects sink. */
const TOO_LONG_PREFIX = 1024;

class BatchBuilder {
  rows = 0;
  readonly label: Uint8Array | null;
  readonly ints: Float64Array[];
  readonly cats: Uint32Array[];
  readonly catPresent: Uint8Array[];
  readonly lines: Float64Array;
  constructor(
    readonly capacity: number,
    labeled: boolean,
  ) {
    this.label = labeled ? new Uint8Array(capacity) : null;
    this.ints = Array.from({ length: NUM_DENSE }, () => new Float64Array(capacity));
    this.cats = Array.from({ length: NUM_CAT }, () => new Uint32Array(capacity));
    this.catPresent = Array.from({ length: NUM_CAT }, () => new Uint8Array(capacity));
    this.lines = new Float64Array(capacity);
  }
  finish(file: string, fileIndex: number, firstRow: number): RawBatch {
    const n = this.rows;
    const cut = <T extends Uint8Array | Float64Array | Uint32Array>(a: T): T => (n === this.capacity ? a : (a.subarray(0, n) as T));
    return {
      rows: n,
      label: this.label && cut(this.label),
      ints: this.ints.map(cut),
      cats: this.cats.map(cut),
      catPresent: this.catPresent.map(cut),
      file,
      fileIndex,
      firstRow,
      firstLine: this.lines[0],
      lines: cut(this.lines),
    };
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The pure core: feed it byte chunks (write), file boundaries (startFile) and the
 * end (end); it calls `emit` with each full batch. In 'fail' mode a bad line
 * throws an ERR_BAD_ROW PipelineError; the stream wrapper turns that into callback(err).
 */
export class TsvParser {
  readonly options: Readonly<ResolvedParseOptions>;
  readonly stats: ParseStats;
  private readonly fieldNames: string[];
  private readonly expected: number;
  /** Fewest fields of an accepted row: up to the first categorical. */
  private readonly minFields: number;
  private file: string;
  private fileIndex = 0;
  private filesStarted = 0;
  /** Lines completed in the current file. */
  private line = 0;
  /** Partial line carried from one chunk to the next (bounded by maxLineBytes + 1). */
  private carry: Buffer = Buffer.alloc(0);
  private carryLen = 0;
  /** Inside an over-long line that was already reported: drop bytes up to its LF. */
  private discarding = false;
  private batch: BatchBuilder | null = null;
  private direct: DirectRows | null = null;
  /** Per categorical feature: its number of ids, in direct mode. */
  private directBuckets = new Float64Array(NUM_CAT);
  private directSeed = 0;
  /** The current unit starts at its file's first byte (a parse worker's later chunks do not). */
  private atFileStart = true;
  /** The line being handled is the file's last and had no newline. */
  private unterminated = false;

  constructor(opts: ParseOptions = {}) {
    this.options = resolveParseOptions(opts);
    this.file = this.options.file;
    this.fieldNames = [...(this.options.labeled ? ['label'] : []), ...DENSE_NAMES, ...CAT_NAMES];
    this.expected = this.fieldNames.length;
    this.minFields = this.expected - NUM_CAT + 1;
    this.stats = emptyParseStats();
  }

  /**
   * Direct mode: accepted rows go featurized (with `featurize` options) into
   * `target` instead of into RawBatches, so emit is never called; null turns it off.
   * Lines, rejects, errors and stats are the same as in batch mode.
   */
  setDirectOutput(target: DirectRows | null, featurize: FeaturizeOptions | ResolvedFeaturizeOptions = {}): void {
    const { buckets, seed } = resolveFeaturizeOptions(featurize);
    this.directBuckets.set(buckets);
    this.directSeed = seed;
    this.direct = target;
  }

  /**
   * Ends the current file (its unterminated last line included) and starts the next
   * one. `atFileStart` false: the bytes that follow continue a file from a line
   * boundary (a parse worker's chunk), so line 1 here is not the file's first line.
   */
  startFile(file: string, emit: (b: RawBatch) => void, index?: number, atFileStart = true): void {
    this.finishFile(emit);
    this.file = file;
    this.fileIndex = index ?? this.filesStarted;
    this.filesStarted++;
    this.line = 0;
    this.atFileStart = atFileStart;
  }

  write(chunk: Uint8Array, emit: (b: RawBatch) => void): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const n = buf.length;
    let pos = 0;
    if (this.discarding || this.carryLen > 0) {
      const nl = buf.indexOf(LF);
      if (nl < 0) {
        if (!this.discarding) this.appendCarry(buf, 0, n);
        return;
      }
      if (!this.discarding) this.appendCarry(buf, 0, nl);
      if (this.discarding) {
        this.discarding = false;
        this.endLine();
      } else {
        this.endLine();
        this.handleLine(this.carry, 0, this.carryLen, emit);
      }
      this.carryLen = 0;
      pos = nl + 1;
    }
    while (pos < n) {
      const nl = buf.indexOf(LF, pos);
      if (nl < 0) {
        this.appendCarry(buf, pos, n);
        return;
      }
      this.endLine();
      this.handleLine(buf, pos, nl, emit);
      pos = nl + 1;
    }
  }

  /** End of all input: the last line (even without a final newline) and the last, shorter batch. */
  end(emit: (b: RawBatch) => void): void {
    this.finishFile(emit);
  }

  private finishFile(emit: (b: RawBatch) => void): void {
    if (this.discarding) {
      this.discarding = false;
      this.endLine();
    } else if (this.carryLen > 0) {
      this.endLine();
      const len = this.carryLen;
      this.carryLen = 0;
      this.unterminated = true;
      try {
        this.handleLine(this.carry, 0, len, emit);
      } finally {
        this.unterminated = false;
      }
    }
    this.flushBatch(emit);
  }

  private endLine(): void {
    this.line++;
    this.stats.lines++;
  }

  private flushBatch(emit: (b: RawBatch) => void): void {
    const b = this.batch;
    if (!b || b.rows === 0) return;
    if (!this.options.reuseBatches) this.batch = null;
    this.stats.batches++;
    const out = b.finish(this.file, this.fileIndex, this.stats.rows - b.rows);
    b.rows = 0;
    emit(out);
  }

  private appendCarry(src: Buffer, from: number, to: number): void {
    const limit = this.options.maxLineBytes + 1; // one more: it may be the CR of a CRLF
    const len = to - from;
    if (this.carryLen + len > limit) {
      // Fill up to the limit so the report is the same whatever the chunking, then drop the rest.
      const need = limit - this.carryLen;
      this.ensureCarry(limit);
      src.copy(this.carry, this.carryLen, from, from + need);
      this.carryLen = 0;
      this.discarding = true;
      this.tooLong(this.carry, 0, this.line + 1);
      return;
    }
    this.ensureCarry(this.carryLen + len);
    src.copy(this.carry, this.carryLen, from, to);
    this.carryLen += len;
  }

  private ensureCarry(size: number): void {
    if (this.carry.length >= size) return;
    const grown = Buffer.allocUnsafe(Math.min(this.options.maxLineBytes + 1, Math.max(size, 4096, this.carry.length * 2)));
    this.carry.copy(grown, 0, 0, this.carryLen);
    this.carry = grown;
  }

  /** A complete line buf[start, end) without its LF; this.line is its number. */
  private handleLine(buf: Buffer, start: number, end: number, emit: (b: RawBatch) => void): void {
    if (this.line === 1 && this.atFileStart && hasBom(buf, start, end)) start += 3;
    if (end > start && buf[end - 1] === CR) end--;
    if (end === start) {
      this.stats.emptyLines++;
      return;
    }
    if (end - start > this.options.maxLineBytes) {
      this.tooLong(buf, start, this.line);
      return;
    }
    const d = this.direct;
    if (d) {
      if (d.rows >= d.capacity) d.grow();
      const r = d.rows;
      const got = this.parseRowDirect(buf, start, end, d.cols, r);
      if (!this.accepted(got, buf, start, end)) return;
      d.cols.lines[r] = this.line;
      d.rows = r + 1;
      this.stats.rows++;
      return;
    }
    let b = this.batch;
    if (!b) b = this.batch = new BatchBuilder(this.options.batchRows, this.options.labeled);
    const r = b.rows;
    if (!this.accepted(this.parseRow(buf, start, end, b, r), buf, start, end)) return;
    b.lines[r] = this.line;
    b.rows = r + 1;
    this.stats.rows++;
    if (b.rows === b.capacity) this.flushBatch(emit);
  }

  /**
   * The hot path: fills row r or returns false at the first unexpected byte (the
   * row is then simply not counted; the next row overwrites what was written).
   * p runs over field starts; p === end means "an empty field at the end of the
   * line", p > end "no such field" (trimmed trailing fields): both are empty.
   */
  private parseRow(buf: Buffer, start: number, end: number, b: BatchBuilder, r: number): number {
    let p = start;
    if (b.label) {
      const c = buf[p];
      if ((c !== 48 && c !== 49) || (p + 1 < end && buf[p + 1] !== TAB)) return ROW_BAD;
      b.label[r] = c - 48;
      p += 2;
    }
    for (let i = 0; i < NUM_DENSE; i++) {
      const col = b.ints[i];
      if (p > end) return ROW_BAD; // too few fields: the integers must all be there
      if (p === end) {
        col[r] = NaN;
        p++;
        continue;
      }
      let neg = false;
      if (buf[p] === 45) {
        neg = true;
        p++;
      }
      const digits = p;
      let v = 0;
      while (p < end) {
        const d = buf[p] - 48;
        if (d === TAB - 48) break;
        if (d >>> 0 > 9) return ROW_BAD;
        v = v * 10 + d;
        p++;
      }
      const nd = p - digits;
      if (nd === 0) {
        if (neg) return ROW_BAD;
        col[r] = NaN;
      } else {
        // Beyond 15 digits v*10+d can round differently from a correctly rounded parse.
        if (nd > 15) {
          v = Number(buf.toString('latin1', digits, p));
          if (v === Infinity) return ROW_BAD; // over ~309 digits: not a count
        }
        col[r] = neg ? -v : v;
      }
      p++;
    }
    if (p > end) return ROW_BAD; // too few fields: at least one categorical
    for (let i = 0; i < NUM_CAT; i++) {
      if (p >= end) {
        b.cats[i][r] = 0;
        b.catPresent[i][r] = 0;
        p++;
        continue;
      }
      const v = scanCat(buf, p, end);
      if (v === BAD_CAT) return ROW_BAD;
      p = catEnd;
      b.cats[i][r] = v === EMPTY_CAT ? 0 : v;
      b.catPresent[i][r] = v === EMPTY_CAT ? 0 : 1;
      p++;
    }
    // p is now the start of an extra field, if any: accept only one, empty, at the very end.
    return p === end || p === end + 1 ? ROW_OK : p > end ? ROW_TRIMMED : ROW_BAD;
  }

  /**
   * parseRow's twin for direct mode: accepts exactly the same lines and writes what
   * featurizeInto would, through the same kernel (denseFeature, catId). An empty
   * field is 0 in both columns, as the kernel defines it.
   */
  private parseRowDirect(buf: Buffer, start: number, end: number, b: FeatureColumns, r: number): number {
    const buckets = this.directBuckets;
    const table = log1pTable();
    const seed = this.directSeed;
    let p = start;
    if (b.label) {
      const c = buf[p];
      if ((c !== 48 && c !== 49) || (p + 1 < end && buf[p + 1] !== TAB)) return ROW_BAD;
      b.label[r] = c - 48;
      p += 2;
    }
    for (let i = 0; i < NUM_DENSE; i++) {
      const col = b.dense[i];
      if (p > end) return ROW_BAD; // too few fields: the integers must all be there
      if (p === end) {
        col[r] = 0;
        p++;
        continue;
      }
      let neg = false;
      if (buf[p] === 45) {
        neg = true;
        p++;
      }
      const digits = p;
      let v = 0;
      while (p < end) {
        const d = buf[p] - 48;
        if (d === TAB - 48) break;
        if (d >>> 0 > 9) return ROW_BAD;
        v = v * 10 + d;
        p++;
      }
      const nd = p - digits;
      if (nd === 0) {
        if (neg) return ROW_BAD;
        col[r] = 0;
      } else {
        // Beyond 15 digits v*10+d can round differently from a correctly rounded parse.
        if (nd > 15) {
          v = Number(buf.toString('latin1', digits, p));
          if (v === Infinity) return ROW_BAD; // over ~309 digits: not a count
        }
        col[r] = denseFeature(neg ? -v : v, table);
      }
      p++;
    }
    if (p > end) return ROW_BAD; // too few fields: at least one categorical
    for (let i = 0; i < NUM_CAT; i++) {
      if (p >= end) {
        b.cats[i][r] = 0;
        p++;
        continue;
      }
      const v = scanCat(buf, p, end);
      if (v === BAD_CAT) return ROW_BAD;
      p = catEnd;
      b.cats[i][r] = v === EMPTY_CAT ? 0 : catId(v, i, seed, buckets[i]);
      p++;
    }
    // p is now the start of an extra field, if any: accept only one, empty, at the very end.
    return p === end || p === end + 1 ? ROW_OK : p > end ? ROW_TRIMMED : ROW_BAD;
  }

  /**
   * After parseRow(Direct): true when the row stands (counted as trimmed if so);
   * false when it was rejected (a bad line, or a cut-off last line).
   */
  private accepted(got: number, buf: Buffer, start: number, end: number): boolean {
    if (got === ROW_BAD) {
      this.reject(this.diagnose(buf, start, end), buf.subarray(start, end), false);
      return false;
    }
    if (this.unterminated) {
      // The file's last line, without a newline: a write may have been cut off here.
      let tabs = 0;
      let last = start;
      for (let i = start; i < end; i++) if (buf[i] === TAB) (tabs++, (last = i + 1));
      const lastName = this.fieldName(tabs);
      const lastLen = end - last;
      if (lastName.startsWith('c') && lastLen > 0 && lastLen < 8) {
        this.reject(
          { reason: 'truncated-line', field: lastName, message: `last line has no newline and ends inside ${lastName} (${lastLen} of 8 hex digits): the file looks cut off` },
          buf.subarray(start, end),
          false,
        );
        return false;
      }
      if (got === ROW_TRIMMED) this.stats.possiblyTruncated++;
    }
    if (got === ROW_TRIMMED) this.stats.trimmedRows++;
    return true;
  }

  private reject(d: { reason: RejectReason; field: string; message: string }, raw: Buffer, truncated: boolean, line = this.line): void {
    if (this.options.onBadRow === 'fail') {
      throw new PipelineError('ERR_BAD_ROW', `${d.message} (${d.reason})`, { file: this.file, line, field: d.field, reason: d.reason });
    }
    this.stats.rejected++;
    this.stats.rejects[d.reason]++;
    this.options.onReject?.({ file: this.file, line, reason: d.reason, field: d.field, message: d.message, raw: Buffer.from(raw), truncated });
  }

  /** buf[start...] holds at least maxLineBytes + 1 bytes of line number `line`. */
  private tooLong(buf: Buffer, start: number, line: number): void {
    const max = this.options.maxLineBytes;
    let tabs = 0;
    let crs = 0;
    for (let i = start; i < start + max; i++) {
      if (buf[i] === TAB) tabs++;
      else if (buf[i] === CR) crs++;
    }
    // An over-long line with CRs inside is a file of CR-only line endings.
    if (crs >= 2) throw crLineEndingsError(this.file, line);
    const prefix = buf.subarray(start, start + Math.min(TOO_LONG_PREFIX, max));
    this.reject({ reason: 'line-too-long', field: this.fieldName(tabs), message: `line longer than maxLineBytes (${max} bytes)` }, prefix, true, line);
  }

  private fieldName(index: number): string {
    return index < this.expected ? this.fieldNames[index] : `f${index + 1}`;
  }

  /** The slow, exact path for a line the fast path refused: which rule, which field. */
  private diagnose(buf: Buffer, start: number, end: number): { reason: RejectReason; field: string; message: string } {
    let tabs = 0;
    let high = false;
    for (let i = start; i < end; i++) {
      const c = buf[i];
      if (c === TAB) tabs++;
      else if (c === CR && this.line === 1 && this.atFileStart && tabs >= this.minFields - 1) {
        // The first line of a file holds a whole row and then a CR: CR-only line endings.
        throw crLineEndingsError(this.file, this.line);
      } else if (c < 0x20 || c === 0x7f) {
        const what = c === 0 ? 'NUL byte' : `control byte 0x${c.toString(16).padStart(2, '0')}`;
        return { reason: 'binary', field: this.fieldName(tabs), message: `binary data: ${what} at byte ${i - start + 1}` };
      } else if (c >= 0x80) high = true;
    }
    const fields: Buffer[] = [];
    for (let p = start; ; ) {
      const t = buf.indexOf(TAB, p);
      const stop = t < 0 || t >= end ? end : t;
      fields.push(buf.subarray(p, stop));
      if (stop === end) break;
      p = stop + 1;
    }
    // A multi-byte sequence cannot contain a tab, so the line is valid UTF-8 iff every field is.
    if (high) {
      for (let f = 0; f < fields.length; f++) {
        try {
          utf8.decode(fields[f]);
        } catch {
          return { reason: 'invalid-utf8', field: this.fieldName(f), message: 'invalid UTF-8' };
        }
      }
    }
    const n = fields.length;
    const E = this.expected;
    if (n > E && !(n === E + 1 && fields[E].length === 0)) {
      const hint = !this.options.labeled && n === E + 1 ? ' (a labeled row? parsing with labeled: false)' : '';
      return { reason: 'too-many-fields', field: this.fieldName(E), message: `too many fields: ${n}, expected ${E}${hint}` };
    }
    const show = (b: Buffer) => JSON.stringify(b.length > 40 ? b.toString('utf8', 0, 40) + '…' : b.toString('utf8'));
    for (let f = 0; f < Math.min(n, E); f++) {
      const v = fields[f];
      const name = this.fieldNames[f];
      if (name === 'label') {
        if (!(v.length === 1 && (v[0] === 48 || v[0] === 49))) return { reason: 'bad-label', field: name, message: `label must be 0 or 1, got ${show(v)}` };
      } else if (name.startsWith('i')) {
        if (v.length > 0 && !/^-?[0-9]+$/.test(v.toString('latin1'))) return { reason: 'bad-int', field: name, message: `non-numeric integer ${show(v)}` };
        if (!Number.isFinite(Number(v.toString('latin1')))) return { reason: 'bad-int', field: name, message: `integer out of range ${show(v)}` };
      } else {
        for (const c of v) if (HEX[c] < 0) return { reason: 'bad-hex', field: name, message: `categorical is not hex: ${show(v)}` };
        if (v.length > 8) return { reason: 'long-cat', field: name, message: `categorical longer than 8 hex digits: ${show(v)}` };
      }
    }
    // After the values: a bad value in a field that is there says more than the count.
    if (n < this.minFields) {
      return { reason: 'too-few-fields', field: this.fieldName(n), message: `too few fields: ${n}, need at least ${this.minFields} (up to c1)` };
    }
    throw new PipelineError('ERR_INTERNAL', 'parser refused a line but found nothing wrong with it', { file: this.file, line: this.line });
  }
}

export interface ParseTsvStream extends Transform {
  readonly parser: TsvParser;
  readonly stats: ParseStats;
}

class ParseTsvTransform extends Transform implements ParseTsvStream {
  readonly parser: TsvParser;
  private readonly emitBatch = (b: RawBatch) => void this.push(b);
  constructor(opts: ParseOptions) {
    const parser = new TsvParser(opts); // validates before any stream exists
    // Input chunks are up to ~1 MiB and a batch ~2 MiB: keep only a few of either in flight.
    super({ writableObjectMode: true, readableObjectMode: true, writableHighWaterMark: 4, readableHighWaterMark: 2 });
    this.parser = parser;
  }
  get stats(): ParseStats {
    return this.parser.stats;
  }
  override _transform(chunk: unknown, encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      if (isInputMarker(chunk)) this.parser.startFile(chunk.file, this.emitBatch, chunk.index);
      else if (chunk instanceof Uint8Array) this.parser.write(chunk, this.emitBatch);
      else if (typeof chunk === 'string') this.parser.write(Buffer.from(chunk, encoding), this.emitBatch);
      else throw new PipelineError('ERR_INVALID_ARG', `parseTsv expects Buffer chunks or input markers, got ${typeof chunk}`);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }
  override _flush(callback: TransformCallback): void {
    try {
      this.parser.end(this.emitBatch);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }
}

/**
 * A Transform from TSV bytes (Buffers; or openInput()'s Buffers and file markers,
 * which name the file in batches and errors and restart line numbers) to RawBatch
 * objects. Options are validated here, synchronously.
 */
export function parseTsv(opts: ParseOptions = {}): ParseTsvStream {
  return new ParseTsvTransform(opts);
}
