import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TsvParser, parseTsv, REJECT_REASONS, type ParseOptions, type RawBatch, type RejectRecord } from '../../stages/parse.js';
import { createRejectsWriter, REJECTS_HEADER } from '../../stages/rejects.js';
import { openInput } from '../../input/open.js';
import { PipelineError } from '../../core/errors.js';
import { REAL_DATA_SKIP, SAMPLE_10K, SAMPLE_TEST_100, SAMPLE_TRIMMED, SAMPLE_1K } from '../helpers/samples.js';
import { KAGGLE_10K, KAGGLE_TEST_100, QUIRKS_TRIMMED, TERABYTE_1K } from '../helpers/paths.js';
import { mulberry32 } from '../../core/hash.js';
import { featurizeInto, type FeaturizeOptions } from '../../stages/featurize.js';
import { packedViews, packedBytes } from '../../core/packed-batch.js';
import type { DirectRows } from '../../stages/parse.js';

/** One parsed row, as plain values, for comparisons. */
interface Row {
  label: number | null;
  ints: number[]; // NaN for empty
  cats: (number | null)[]; // null for empty
  line: number;
  file: string;
}

function rowsOf(batches: RawBatch[]): Row[] {
  const out: Row[] = [];
  for (const b of batches) {
    for (let r = 0; r < b.rows; r++) {
      out.push({
        label: b.label ? b.label[r] : null,
        ints: b.ints.map((c) => c[r]),
        cats: b.cats.map((c, f) => (b.catPresent[f][r] ? c[r] : null)),
        line: b.lines[r],
        file: b.file,
      });
    }
  }
  return out;
}

/** Drives the pure core with the given chunks; collects batches and rejects. */
function parseChunks(chunks: Uint8Array[], opts: ParseOptions = {}) {
  const rejects: RejectRecord[] = [];
  const p = new TsvParser({ onReject: (r) => rejects.push(r), ...opts });
  const batches: RawBatch[] = [];
  const emit = (b: RawBatch) => batches.push(b);
  for (const c of chunks) p.write(c, emit);
  p.end(emit);
  return { batches, rows: rowsOf(batches), rejects, stats: p.stats };
}

const parseText = (text: string | Buffer, opts: ParseOptions = {}) => parseChunks([Buffer.from(text)], opts);

/** The straightforward parse the fast one must agree with. */
function naiveParse(text: string, labeled = true): Omit<Row, 'file'>[] {
  const rows: Omit<Row, 'file'>[] = [];
  text.split('\n').forEach((l, i) => {
    l = l.replace(/\r$/, '');
    if (l === '') return;
    const f = l.split('\t');
    const off = labeled ? 1 : 0;
    const get = (k: number) => f[k] ?? '';
    rows.push({
      label: labeled ? Number(f[0]) : null,
      ints: Array.from({ length: 13 }, (_, k) => (get(off + k) === '' ? NaN : Number(get(off + k)))),
      cats: Array.from({ length: 26 }, (_, k) => (get(off + 13 + k) === '' ? null : parseInt(get(off + 13 + k), 16))),
      line: i + 1,
    });
  });
  return rows;
}

const stripFile = (rows: Row[]) => rows.map(({ file: _f, ...r }) => r);

/** A valid 40-field line with distinct values, to be edited by tests. */
function fields(): string[] {
  return ['1', ...Array.from({ length: 13 }, (_, i) => String(i * 3)), ...Array.from({ length: 26 }, (_, i) => (0x1000 + i).toString(16).padStart(8, '0'))];
}
const GOOD = fields().join('\t');

t.test('option validation', async (t) => {
  const bad: [ParseOptions, RegExp][] = [
    [{ batchRows: 0 }, /Invalid option batchRows: must be a positive integer, got 0/],
    [{ batchRows: 1.5 }, /Invalid option batchRows/],
    [{ labeled: 'no' as unknown as boolean }, /Invalid option labeled: must be a boolean/],
    [{ onBadRow: 'ignore' as 'skip' }, /Invalid option onBadRow: must be 'fail' or 'skip', got "ignore"/],
    [{ maxLineBytes: 10 }, /Invalid option maxLineBytes: must be an integer >= 64, got 10/],
    [{ file: 3 as unknown as string }, /Invalid option file/],
    [{ onReject: 'x' as unknown as () => void }, /Invalid option onReject/],
  ];
  for (const [opts, re] of bad) {
    t.throws(() => parseTsv(opts), re);
    t.throws(() => new TsvParser(opts), { code: 'ERR_INVALID_OPTION' });
  }
  t.doesNotThrow(() => parseTsv());
});

/** The four kinds of sample file: generated ones always, the real Criteo ones when they are beside the checkout. */
const SAMPLE_SETS = [
  { name: 'generated', skip: false as const, train10k: SAMPLE_10K, day1k: SAMPLE_1K, test100: SAMPLE_TEST_100, trimmed: SAMPLE_TRIMMED },
  { name: 'real Criteo', skip: REAL_DATA_SKIP, train10k: KAGGLE_10K, day1k: TERABYTE_1K, test100: KAGGLE_TEST_100, trimmed: QUIRKS_TRIMMED },
];

for (const set of SAMPLE_SETS) {
  t.test(`${set.name}: the 10k-row sample equals a straightforward parse (label, ints, cats, line numbers)`, { skip: set.skip }, async (t) => {
    const buf = fs.readFileSync(set.train10k);
    const { rows, batches, stats } = parseChunks([buf], { batchRows: 4096 });
    t.equal(rows.length, 10000);
    t.same(batches.map((b) => b.rows), [4096, 4096, 1808]);
    t.same(batches.map((b) => b.firstRow), [0, 4096, 8192]);
    t.same(batches.map((b) => b.firstLine), [1, 4097, 8193]);
    t.equal(stats.rows, 10000);
    t.equal(stats.lines, 10000);
    const expected = naiveParse(buf.toString('utf8'));
    // Compare in bulk: one deep-equal of 10k rows, NaN-safe via JSON (NaN -> null).
    t.equal(JSON.stringify(stripFile(rows)), JSON.stringify(expected));
    t.ok(rows.some((r) => r.ints.some((x) => x < 0)), 'the sample has negative integers');
    t.ok(rows.some((r) => r.cats.some((c) => c === null)), 'and empty categoricals');
    t.ok(rows.some((r) => r.ints.some((x) => Number.isNaN(x))), 'and empty integers');
  });

  t.test(`${set.name}: the 1k-row day sample, the unlabeled test sample and the trimmed-fields file parse`, { skip: set.skip }, async (t) => {
    const tb = fs.readFileSync(set.day1k);
    const a = parseChunks([tb]);
    t.equal(a.rows.length, 1000);
    t.equal(JSON.stringify(stripFile(a.rows)), JSON.stringify(naiveParse(tb.toString())));

    const test = fs.readFileSync(set.test100);
    const b = parseChunks([test], { labeled: false });
    t.equal(b.rows.length, 100);
    t.equal(b.batches[0].label, null);
    t.equal(JSON.stringify(stripFile(b.rows)), JSON.stringify(naiveParse(test.toString(), false)));
    t.throws(() => parseChunks([test]), { code: 'ERR_BAD_ROW', context: { line: 1, field: 'label' } }, 'the test file is not labeled');

    const quirks = fs.readFileSync(set.trimmed);
    t.not(quirks[quirks.length - 1], 10, 'no final newline');
    const c = parseChunks([quirks]);
    t.equal(c.rows.length, 1000);
    t.equal(JSON.stringify(stripFile(c.rows)), JSON.stringify(naiveParse(quirks.toString())));
    const lens = quirks.toString().split('\n').map((l) => l.split('\t').length);
    const i37 = lens.indexOf(37);
    t.ok(i37 >= 0);
    t.same(c.rows[i37].cats.slice(23), [null, null, null], 'trimmed trailing fields are empty');
  });
}

t.test('LF, CRLF, empty lines, missing final newline', async (t) => {
  const l2 = fields();
  l2[0] = '0';
  l2[5] = '';
  l2[20] = '';
  const L2 = l2.join('\t');
  const { rows, stats } = parseText(`\n${GOOD}\r\n\r\n\n${L2}\n${GOOD}`);
  t.same(rows.map((r) => r.line), [2, 5, 6], 'physical line numbers, empty lines skipped');
  t.same(rows.map((r) => r.label), [1, 0, 1]);
  t.equal(stats.emptyLines, 3);
  t.equal(stats.lines, 6);
  t.same(rows[0], { ...rows[2], line: 2 }, 'CRLF row equals LF row');
  t.ok(Number.isNaN(rows[1].ints[4]), 'empty i5');
  t.equal(rows[1].cats[6], null, 'empty c7');
  t.same(rows[0].ints, Array.from({ length: 13 }, (_, i) => i * 3));
  t.same(rows[0].cats, Array.from({ length: 26 }, (_, i) => 0x1000 + i));
  t.same(parseText('').rows, [], 'empty input');
  t.same(parseText('\n\r\n').stats.emptyLines, 2);
});

t.test('field counts: 15 to 39 fields is trimmed (counted), fewer is too-few-fields, one extra empty field is accepted, more is rejected', async (t) => {
  const f = fields();
  const { rows, stats } = parseText([f.slice(0, 15).join('\t'), f.join('\t') + '\t', f.slice(0, 20).join('\t'), f.slice(0, 14).join('\t') + '\t', f.join('\t')].join('\n'));
  t.equal(rows.length, 5);
  t.same(rows[0].cats, [0x1000, ...Array(25).fill(null)], 'a 15-field row: c2..c26 empty');
  t.same(rows[1].cats, Array.from({ length: 26 }, (_, i) => 0x1000 + i));
  t.same(rows[2].cats.slice(6), Array(20).fill(null));
  t.same(rows[3].cats, Array(26).fill(null), 'an empty c1 at the end is a field');
  t.equal(stats.trimmedRows, 3, 'the 15-, 20- and 15-field rows are counted as trimmed, the 40- and 41-field ones not');
  for (const [line, field] of [['1', 'i1'], ['0\t', 'i2'], [f.slice(0, 14).join('\t'), 'c1'], [f.slice(0, 8).join('\t'), 'i8']] as const) {
    t.throws(() => parseText(line), { code: 'ERR_BAD_ROW', context: { reason: 'too-few-fields', field, line: 1 } }, `${JSON.stringify(line.slice(0, 12))}: too few`);
  }
  const skipped = parseText('1\n' + GOOD + '\n', { onBadRow: 'skip' });
  t.equal(skipped.stats.rejects['too-few-fields'], 1);
  t.same(skipped.rows.map((r) => r.line), [2]);
  t.throws(() => parseText(f.join('\t') + '\t\t'), { code: 'ERR_BAD_ROW', context: { reason: 'too-many-fields', field: 'f41', line: 1 } });
  t.throws(() => parseText(f.join('\t') + '\tx'), { code: 'ERR_BAD_ROW', context: { reason: 'too-many-fields' } });
  t.throws(() => parseText(GOOD, { labeled: false }), { code: 'ERR_BAD_ROW', context: { reason: 'too-many-fields', field: 'f40' } });
  const unl = parseText(f.slice(1).join('\t'), { labeled: false });
  t.same(unl.rows[0].ints, Array.from({ length: 13 }, (_, i) => i * 3));
  t.throws(() => parseText(f.slice(1, 14).join('\t'), { labeled: false }), { code: 'ERR_BAD_ROW', context: { reason: 'too-few-fields', field: 'c1' } });
  t.equal(parseText(f.slice(1, 15).join('\t'), { labeled: false }).stats.trimmedRows, 1);
});

t.test('the last line without a newline: cut inside a categorical is truncated-line, short is kept and reported', async (t) => {
  const f = fields();
  t.throws(() => parseText(GOOD + '\n' + GOOD.slice(0, -3)), { code: 'ERR_BAD_ROW', context: { reason: 'truncated-line', field: 'c26', line: 2 } });
  t.throws(() => parseText(GOOD + '\n' + f.slice(0, 20).join('\t').slice(0, -1)), { code: 'ERR_BAD_ROW', context: { reason: 'truncated-line', field: 'c6' } });
  const skip = parseText(GOOD + '\n' + GOOD.slice(0, -3), { onBadRow: 'skip' });
  t.same([skip.rows.length, skip.stats.rejects['truncated-line']], [1, 1]);
  // The same bytes with a newline are a complete line: short hex values are legal.
  t.equal(parseText(GOOD.slice(0, -3) + '\n').rows.length, 1);
  const short = parseText(GOOD + '\n' + f.slice(0, 38).join('\t'));
  t.same([short.rows.length, short.stats.possiblyTruncated, short.stats.trimmedRows], [2, 1, 1], 'a short unterminated last line is kept and counted');
  t.same(parseText(GOOD + '\n' + f.slice(0, 38).join('\t') + '\n').stats.possiblyTruncated, 0, 'with its newline it is just trimmed');
  t.same(parseText(GOOD).stats.possiblyTruncated, 0, 'a full last line without a newline is fine');
});

t.test('a UTF-8 byte order mark at the start of a file is dropped, also in a later file', async (t) => {
  const bom = Buffer.from([0xef, 0xbb, 0xbf]);
  const plain = parseText(GOOD + '\n' + GOOD + '\n');
  const withBom = parseChunks([Buffer.concat([bom, Buffer.from(GOOD + '\n' + GOOD + '\n')])]);
  t.same(stripFile(withBom.rows), stripFile(plain.rows));
  // Split inside the BOM: the carry joins it back.
  const split = parseChunks([bom.subarray(0, 2), Buffer.concat([bom.subarray(2), Buffer.from(GOOD + '\n')])]);
  t.equal(split.rows.length, 1);
  const p = new TsvParser({ onBadRow: 'fail' });
  const got: RawBatch[] = [];
  p.startFile('a.tsv', (b) => got.push(b));
  p.write(Buffer.from(GOOD + '\n'), (b) => got.push(b));
  p.startFile('b.tsv', (b) => got.push(b));
  p.write(Buffer.concat([bom, Buffer.from(GOOD + '\n')]), (b) => got.push(b));
  p.end((b) => got.push(b));
  t.same(got.map((b) => [b.file, b.rows]), [['a.tsv', 1], ['b.tsv', 1]]);
  t.throws(() => parseChunks([Buffer.from(GOOD + '\n'), Buffer.concat([bom, Buffer.from(GOOD + '\n')])]), { code: 'ERR_BAD_ROW', context: { line: 2, field: 'label' } }, 'not at the start of a file: a bad label');
});

t.test('CR-only line endings stop the run with a clear error, also with onBadRow skip', async (t) => {
  for (const n of [2, 400]) {
    const text = Array(n).fill(GOOD).join('\r') + '\r';
    for (const onBadRow of ['fail', 'skip'] as const) {
      t.throws(() => parseText(text, { onBadRow }), { code: 'ERR_LINE_ENDINGS', context: { line: 1 }, message: /CR-only line endings/ }, `${n} rows, ${onBadRow}`);
    }
  }
  t.equal(parseText(GOOD + '\r').rows.length, 1, 'one row ended by CR: that is just CRLF-like');
});

t.test('integers: negative, beyond int32, beyond 2^53; categoricals: short and upper-case hex', async (t) => {
  const f = fields();
  f[1] = '-1';
  f[2] = '4294967296000';
  f[3] = '123456789012345678901';
  f[4] = '0';
  f[14] = 'ABCDEF12';
  f[15] = 'a';
  f[16] = 'ffffffff';
  f[17] = '00000000';
  const [r] = parseText(f.join('\t')).rows;
  t.same(r.ints.slice(0, 4), [-1, 4294967296000, Number('123456789012345678901'), 0]);
  t.same(r.cats.slice(0, 4), [0xabcdef12, 0xa, 0xffffffff, 0], '"00000000" is present, value 0');
});

/** Each bad-input kind: the line, the field it should be blamed on, the reason. */
function badLines(): { name: string; line: Buffer; field: string; reason: string }[] {
  const edit = (i: number, v: string) => {
    const f = fields();
    f[i] = v;
    return Buffer.from(f.join('\t'));
  };
  const withBytes = (i: number, bytes: number[]) => {
    const f = fields().map((s) => Buffer.from(s));
    f[i] = Buffer.concat([f[i].subarray(0, 2), Buffer.from(bytes), f[i].subarray(2)]);
    return Buffer.concat(f.flatMap((b, k) => (k ? [Buffer.from('\t'), b] : [b])));
  };
  return [
    { name: 'too many fields', line: Buffer.from(GOOD + '\t5'), field: 'f41', reason: 'too-many-fields' },
    { name: 'non-numeric integer', line: edit(5, '12a'), field: 'i5', reason: 'bad-int' },
    { name: 'decimal integer', line: edit(13, '1.5'), field: 'i13', reason: 'bad-int' },
    { name: 'lone minus', line: edit(1, '-'), field: 'i1', reason: 'bad-int' },
    { name: 'non-hex categorical', line: edit(16, '68fd1e6g'), field: 'c3', reason: 'bad-hex' },
    { name: 'over-long categorical', line: edit(39, '68fd1e641'), field: 'c26', reason: 'long-cat' },
    { name: 'label not 0/1', line: edit(0, '2'), field: 'label', reason: 'bad-label' },
    { name: 'empty label', line: edit(0, ''), field: 'label', reason: 'bad-label' },
    { name: 'NUL byte', line: withBytes(20, [0]), field: 'c7', reason: 'binary' },
    { name: 'binary garbage', line: withBytes(3, [0xff, 0x01, 0xfe]), field: 'i3', reason: 'binary' },
    { name: 'invalid UTF-8', line: withBytes(8, [0xc3, 0x28]), field: 'i8', reason: 'invalid-utf8' },
    { name: 'valid UTF-8 in a categorical', line: withBytes(30, [0xc3, 0xa9]), field: 'c17', reason: 'bad-hex' },
    { name: 'over-long line', line: Buffer.from(GOOD + 'f'.repeat(200)), field: 'c26', reason: 'line-too-long' },
    { name: 'too few fields', line: Buffer.from(fields().slice(0, 14).join('\t')), field: 'c1', reason: 'too-few-fields' },
  ];
}
const MAX_LINE = 400; // GOOD is ~270 bytes

t.test('bad input, onBadRow fail: ERR_BAD_ROW naming file, line, field and reason', async (t) => {
  for (const bad of badLines()) {
    const input = Buffer.concat([Buffer.from(`${GOOD}\n\n`), bad.line, Buffer.from(`\n${GOOD}\n`)]);
    const err = t.throws(() => parseChunks([input], { file: 'day_3.tsv', maxLineBytes: MAX_LINE }), bad.name) as PipelineError;
    t.equal(err.code, 'ERR_BAD_ROW', bad.name);
    t.same(err.context, { file: 'day_3.tsv', line: 3, field: bad.field, reason: bad.reason }, bad.name);
    t.match(err.message, new RegExp(`^day_3\\.tsv, line 3, field ${bad.field}: .*\\(${bad.reason}\\)$`), bad.name);
  }
  t.test('through the stream: the pipeline fails with the error', async (t) => {
    const bad = badLines()[1];
    await t.rejects(
      pipeline(Readable.from([Buffer.concat([Buffer.from(GOOD + '\n'), bad.line])]), parseTsv({ file: 'x.tsv' }), new Writable({ objectMode: true, write: (_b, _e, cb) => cb() })),
      { code: 'ERR_BAD_ROW', context: { file: 'x.tsv', line: 2, field: 'i5' } },
    );
  });
});

t.test('bad input, onBadRow skip: counts per reason and the rejects file', async (t) => {
  const dir = t.testdir();
  const bads = badLines();
  const parts: Buffer[] = [];
  for (const b of bads) parts.push(Buffer.from(GOOD + '\n'), b.line, Buffer.from('\r\n'));
  const input = Buffer.concat(parts);
  const rejectsPath = path.join(dir, 'rejects.tsv');
  const writer = createRejectsWriter(rejectsPath);
  const { rows, stats } = parseChunks([input], { onBadRow: 'skip', onReject: writer.write, file: 'in.tsv', maxLineBytes: MAX_LINE });
  writer.close();
  t.equal(rows.length, bads.length, 'every good line kept');
  t.same(rows.map((r) => r.line), bads.map((_, i) => 2 * i + 1));
  t.equal(stats.rejected, bads.length);
  const expectCounts = Object.fromEntries(REJECT_REASONS.map((r) => [r, bads.filter((b) => b.reason === r).length]));
  t.same(stats.rejects, expectCounts);
  // truncated-line needs the end of a file; its own test covers it.
  t.ok(REJECT_REASONS.every((r) => r === 'truncated-line' || stats.rejects[r] > 0), 'every reason is covered');

  const lines = fs.readFileSync(rejectsPath, 'latin1').split('\n');
  t.equal(lines.pop(), '', 'ends with a newline');
  t.equal(lines.shift(), REJECTS_HEADER);
  t.equal(lines.length, bads.length);
  t.ok(lines.every((l) => /^[\x20-\x7e\t]*$/.test(l)), 'plain ASCII, one record per line');
  lines.forEach((l, i) => {
    const [file, line, reason, field, original] = l.split('\t');
    t.same([file, line, reason, field], ['in.tsv', String(2 * i + 2), bads[i].reason, bads[i].field], bads[i].name);
    if (bads[i].reason === 'line-too-long') {
      t.ok(original.endsWith('\\...[truncated]'));
    } else {
      // Unescape and compare byte for byte with the rejected line.
      const bytes = Buffer.from(original.replace(/\\(x[0-9a-f]{2}|[tnr\\])/g, (_m, e: string) => (e[0] === 'x' ? String.fromCharCode(parseInt(e.slice(1), 16)) : ({ t: '\t', n: '\n', r: '\r', '\\': '\\' } as Record<string, string>)[e])), 'latin1');
      t.same(bytes, bads[i].line, bads[i].name);
    }
  });

  // A second writer appends without a second header.
  const w2 = createRejectsWriter(rejectsPath);
  parseChunks([bads[0].line], { onBadRow: 'skip', onReject: w2.write });
  w2.close();
  const again = fs.readFileSync(rejectsPath, 'latin1').split('\n').filter(Boolean);
  t.equal(again.length, bads.length + 2);
  t.equal(again.filter((l) => l === REJECTS_HEADER).length, 1);
});

t.test('over-long lines are never buffered whole and do not disturb the next line', async (t) => {
  const huge = Buffer.alloc(5_000_000, 0x31);
  const chunks = [Buffer.from(GOOD + '\n')];
  for (let i = 0; i < huge.length; i += 65536) chunks.push(huge.subarray(i, i + 65536));
  chunks.push(Buffer.from('\n' + GOOD));
  const parser = new TsvParser({ onBadRow: 'skip', maxLineBytes: 1000 });
  const rows: RawBatch[] = [];
  for (const c of chunks) {
    parser.write(c, (b) => rows.push(b));
    t.ok((parser as unknown as { carry: Buffer }).carry.length <= 1001 || c === chunks[0], 'carry stays within maxLineBytes + 1');
  }
  parser.end((b) => rows.push(b));
  t.same(rowsOf(rows).map((r) => r.line), [1, 3]);
  t.equal(parser.stats.rejects['line-too-long'], 1);
  t.equal(parser.stats.lines, 3);
  // Exactly at the bound (with CRLF) is fine; one byte over is not.
  const at = 'x'.repeat(100);
  const fit = parseText(`${GOOD}\t${at}`.slice(0, 200) + '\r\n', { onBadRow: 'skip', maxLineBytes: 200 });
  t.equal(fit.stats.rejects['line-too-long'], 0);
  const over = parseText(`${GOOD}\t${at}`.slice(0, 201) + '\r\n', { onBadRow: 'skip', maxLineBytes: 200 });
  t.equal(over.stats.rejects['line-too-long'], 1);
});

t.test('chunk-boundary independence: any chunking gives identical batches and rejects', async (t) => {
  const kaggle = fs.readFileSync(SAMPLE_10K).subarray(0, 300_000);
  const bads = badLines().map((b) => b.line);
  const input = Buffer.concat([
    kaggle.subarray(0, kaggle.lastIndexOf(10) + 1),
    Buffer.from('\r\n\n'),
    ...bads.flatMap((b) => [b, Buffer.from('\r\n' + GOOD + '\n')]),
    Buffer.from(GOOD.replace(/\t/g, '\t\t').slice(0, 120) + '\n\n'),
    Buffer.from(GOOD), // no final newline
  ]);
  const opts: ParseOptions = { onBadRow: 'skip', maxLineBytes: MAX_LINE, batchRows: 777 };
  const whole = parseChunks([input], opts);
  t.ok(whole.rows.length > 1000);
  t.equal(whole.stats.rejected, bads.length + 1);
  const rand = mulberry32(7);
  const chunkings: [string, () => number][] = [
    ['1-byte chunks', () => 1],
    ['random 1..10', () => 1 + Math.floor(rand() * 10)],
    ['random 1..5000', () => 1 + Math.floor(rand() * 5000)],
    ['random 200..600 (around line length)', () => 200 + Math.floor(rand() * 400)],
  ];
  for (const [name, size] of chunkings) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < input.length; ) {
      const n = size();
      chunks.push(Buffer.from(input.subarray(i, i + n))); // copies: no shared memory with the whole-input run
      i += n;
    }
    const got = parseChunks(chunks, opts);
    t.same(got.batches, whole.batches, name);
    t.same(got.rejects, whole.rejects, name);
    t.same(got.stats, whole.stats, name);
  }
});

t.test('input markers: file names, line numbers restart, no line joins across files', async (t) => {
  const dir = t.testdir({ 'a.tsv': `${GOOD}\n${GOOD}`, 'b.tsv': `\n${GOOD}\n` });
  const a = path.join(dir, 'a.tsv');
  const b = path.join(dir, 'b.tsv');
  const batches: RawBatch[] = [];
  const parser = parseTsv({ batchRows: 10 });
  await pipeline(openInput([a, b, a]), parser, async (src: AsyncIterable<RawBatch>) => {
    for await (const x of src) batches.push(x);
  });
  t.same(batches.map((x) => [x.file, x.fileIndex, x.rows, x.firstRow, [...x.lines]]), [
    [a, 0, 2, 0, [1, 2]],
    [b, 1, 1, 2, [2]],
    [a, 2, 2, 3, [1, 2]],
  ]);
  t.equal(parser.stats.rows, 5);
  await t.rejects(
    pipeline(openInput([a, path.join(dir, 'bad.tsv')]), parseTsv(), new Writable({ objectMode: true, write: (_x, _e, cb) => cb() })),
    { code: 'ERR_INPUT_NOT_FOUND', context: { file: path.join(dir, 'bad.tsv') } },
  );
  fs.writeFileSync(path.join(dir, 'c.tsv'), `${GOOD}\n${GOOD}\t9\n`);
  await t.rejects(
    pipeline(openInput([a, path.join(dir, 'c.tsv')]), parseTsv(), new Writable({ objectMode: true, write: (_x, _e, cb) => cb() })),
    { code: 'ERR_BAD_ROW', context: { file: path.join(dir, 'c.tsv'), line: 2, field: 'f41' } },
  );
});

t.test('a truncated .gz fails the parse, also with onBadRow skip, naming the file', async (t) => {
  const dir = t.testdir();
  const gz = path.join(dir, 'day_0.gz');
  const full = zlib.gzipSync(fs.readFileSync(SAMPLE_10K));
  fs.writeFileSync(gz, full.subarray(0, full.length - 1000));
  let rows = 0;
  await t.rejects(
    pipeline(openInput(gz), parseTsv({ onBadRow: 'skip' }), new Writable({ objectMode: true, write: (b: RawBatch, _e, cb) => ((rows += b.rows), cb()) })),
    { code: 'ERR_TRUNCATED_GZIP', context: { file: gz }, message: /day_0\.gz: truncated gzip/ },
  );
  t.ok(rows < 10000, 'the rows before the cut may flow, the error still ends the stream');
});

t.test('applies backpressure when the consumer is slow', async (t) => {
  const line = Buffer.from(GOOD + '\n');
  const chunk = Buffer.concat(Array(1000).fill(line)); // 1000 rows per chunk
  let produced = 0;
  const source = new Readable({
    read() {
      if (produced >= 200) return void this.push(null);
      produced++;
      this.push(chunk);
    },
  });
  const parser = parseTsv({ batchRows: 1000 });
  let consumed = 0;
  let maxAhead = 0;
  await pipeline(source, parser, new Writable({
    objectMode: true,
    highWaterMark: 1,
    write(_b, _e, cb) {
      consumed++;
      maxAhead = Math.max(maxAhead, produced - consumed);
      setTimeout(cb, 1);
    },
  }));
  t.equal(consumed, 200);
  t.ok(maxAhead < 40, `source ran at most ${maxAhead} chunks ahead of a slow consumer`);
});

/**
 * An independent, string-based statement of the line rules (precedence:
 * binary, invalid UTF-8, too many fields, then the first bad field in order).
 */
function referenceVerdict(line: Buffer, labeled: boolean): { reason: string; field: string } | null {
  const names = [...(labeled ? ['label'] : []), ...Array.from({ length: 13 }, (_, i) => `i${i + 1}`), ...Array.from({ length: 26 }, (_, i) => `c${i + 1}`)];
  const fieldAt = (byte: number) => {
    const k = line.subarray(0, byte).toString('latin1').split('\t').length - 1;
    return k < names.length ? names[k] : `f${k + 1}`;
  };
  const ctl = line.findIndex((c) => (c < 0x20 && c !== 9) || c === 0x7f);
  if (ctl >= 0) return { reason: 'binary', field: fieldAt(ctl) };
  const parts = line.toString('latin1').split('\t');
  for (let k = 0; k < parts.length; k++) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(parts[k], 'latin1'));
    } catch {
      return { reason: 'invalid-utf8', field: k < names.length ? names[k] : `f${k + 1}` };
    }
  }
  const E = names.length;
  if (parts.length > E + 1 || (parts.length === E + 1 && parts[E] !== '')) return { reason: 'too-many-fields', field: `f${E + 1}` };
  for (let k = 0; k < Math.min(parts.length, E); k++) {
    const v = parts[k];
    const n = names[k];
    if (n === 'label' && v !== '0' && v !== '1') return { reason: 'bad-label', field: n };
    if (n[0] === 'i' && v !== '' && (!/^-?\d+$/.test(v) || !Number.isFinite(Number(v)))) return { reason: 'bad-int', field: n };
    if (n[0] === 'c' && !/^[0-9a-fA-F]*$/.test(v)) return { reason: 'bad-hex', field: n };
    if (n[0] === 'c' && v.length > 8) return { reason: 'long-cat', field: n };
  }
  if (parts.length < E - 25) return { reason: 'too-few-fields', field: names[parts.length] };
  return null;
}

t.test('fuzz: the fast path and the diagnosis agree with a reference on mutated lines', async (t) => {
  const rand = mulberry32(Number(process.env.PARSE_FUZZ_SEED ?? 2024));
  const pick = <T>(a: ArrayLike<T>) => a[Math.floor(rand() * a.length)];
  const alphabet = Buffer.from('0123456789abcdefABCDEF-\t\t\t\t gx.+\0\r\x7f\xff\xc3\xa9\x80\xe2', 'latin1');
  const sample = fs.readFileSync(SAMPLE_10K, 'latin1').split('\n').slice(0, 200);
  for (const labeled of [true, false]) {
    const lines: Buffer[] = [];
    for (let i = 0; i < 6000; i++) {
      let b = Buffer.from(pick(sample), 'latin1');
      if (!labeled) b = b.subarray(b.indexOf(9) + 1);
      const edits = Math.floor(rand() * 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(rand() * (b.length + 1));
        const op = rand();
        if (op < 0.4) b = Buffer.concat([b.subarray(0, at), Buffer.from([pick(alphabet)]), b.subarray(at)]);
        else if (op < 0.7) b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + Math.floor(rand() * 3))]);
        else if (at < b.length) b = Buffer.from(b), (b[at] = pick(alphabet));
      }
      if (rand() < 0.05) b = Buffer.concat([b, Buffer.from(pick(['\t', '\t\t', '0'.repeat(20), '9'.repeat(400)]))]);
      // Keep lines as lines: no LF inside, and a trailing CR would be a line ending.
      lines.push(b.subarray(0, b[b.length - 1] === 13 ? b.length - 1 : b.length));
    }
    const input = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]));
    const got = parseChunks([input], { labeled, onBadRow: 'skip', maxLineBytes: 4096 });
    const expectedRejects: { line: number; reason: string; field: string }[] = [];
    const kept: Buffer[] = [];
    lines.forEach((l, i) => {
      if (l.length === 0) return;
      const v = referenceVerdict(l, labeled);
      if (v) expectedRejects.push({ line: i + 1, ...v });
      else kept.push(l);
    });
    t.ok(expectedRejects.length > 1000 && kept.length > 1000, `a mix of good and bad lines (${kept.length} good)`);
    t.same(got.rejects.map((r) => ({ line: r.line, reason: r.reason, field: r.field })), expectedRejects, `labeled: ${labeled}: same rejects, reasons and fields`);
    const naive = naiveParse(kept.map((l) => l.toString('latin1')).join('\n'), labeled);
    t.equal(JSON.stringify(got.rows.map((r) => [r.label, r.ints, r.cats])), JSON.stringify(naive.map((r) => [r.label, r.ints, r.cats])), `labeled: ${labeled}: same values for kept lines`);
  }
});

t.test('direct mode (setDirectOutput): the same lines and rejects, and the values featurizeInto gives', async (t) => {
  const rand = mulberry32(77);
  const sample = fs.readFileSync(SAMPLE_10K, 'latin1').split('\n').slice(0, 300);
  const edge = fields();
  Object.assign(edge, { 1: '-1', 2: '4294967296000', 3: '123456789012345678901', 4: '0', 5: '-0', 6: '65535', 7: '65536', 8: '', 14: 'ABCDEF12', 15: 'a', 16: 'ffffffff', 17: '00000000', 18: '' });
  const alphabet = Buffer.from('0123456789abcdefABCDEF-\t\t x', 'latin1');
  const lines: Buffer[] = [Buffer.from(edge.join('\t')), Buffer.from(edge.slice(0, 30).join('\t')), Buffer.from(edge.slice(0, 14).join('\t')), Buffer.from('1')];
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.from(sample[Math.floor(rand() * sample.length)], 'latin1');
    if (rand() < 0.3) b[Math.floor(rand() * b.length)] = alphabet[Math.floor(rand() * alphabet.length)];
    lines.push(b);
  }
  const input = Buffer.concat(lines.flatMap((l) => [l, Buffer.from(rand() < 0.1 ? '\r\n\n' : '\n')]));
  const cases: { labeled: boolean; feat: FeaturizeOptions }[] = [
    { labeled: true, feat: {} },
    { labeled: true, feat: { buckets: 1000, seed: 7 } },
    { labeled: false, feat: { buckets: Array.from({ length: 26 }, (_, f) => (f % 2 ? 2 ** 32 : 17 + f)), seed: 3 } },
  ];
  for (const { labeled, feat } of cases) {
    const text = labeled ? input : Buffer.from(input.toString('latin1').replace(/^[^\t\n]*\t/gm, ''), 'latin1');
    const ref = parseChunks([text], { labeled, onBadRow: 'skip', batchRows: 500 });
    const refRows = ref.batches.reduce((n, b) => n + b.rows, 0);
    const want = packedViews(new ArrayBuffer(packedBytes(refRows, labeled)), refRows, labeled);
    let at = 0;
    for (const b of ref.batches) {
      featurizeInto(b, want, at, feat);
      want.lines.set(b.lines, at);
      at += b.rows;
    }
    const rejects: RejectRecord[] = [];
    const p = new TsvParser({ labeled, onBadRow: 'skip', onReject: (r) => rejects.push(r) });
    let cap = 7;
    const target: DirectRows = { cols: packedViews(new ArrayBuffer(packedBytes(cap, labeled)), cap, labeled), rows: 0, capacity: cap, grow: () => {} };
    target.grow = () => {
      // Grow by copying, as the parse worker does.
      const old = target.cols;
      cap *= 3;
      const nv = packedViews(new ArrayBuffer(packedBytes(cap, labeled)), cap, labeled);
      nv.lines.set(old.lines);
      nv.label?.set(old.label!);
      old.dense.forEach((c, i) => nv.dense[i].set(c));
      old.cats.forEach((c, i) => nv.cats[i].set(c));
      target.cols = nv;
      target.capacity = cap;
    };
    p.setDirectOutput(target, feat);
    const noBatch = () => t.fail('no RawBatch in direct mode');
    // Uneven chunks: lines across chunk boundaries go through the carry.
    for (let i = 0; i < text.length; i += 4099) p.write(text.subarray(i, i + 4099), noBatch);
    p.end(noBatch);
    const name = `labeled ${labeled}, ${JSON.stringify(feat).slice(0, 40)}`;
    t.ok(ref.rejects.length > 100 && refRows > 1000, `${name}: a mix of good and bad lines`);
    t.equal(target.rows, refRows, `${name}: same row count`);
    t.same(p.stats, ref.stats.batches ? { ...ref.stats, batches: 0 } : ref.stats, `${name}: same stats (no batches)`);
    t.same(rejects.map((r) => [r.line, r.reason, r.field]), ref.rejects.map((r) => [r.line, r.reason, r.field]), `${name}: same rejects`);
    const got = target.cols;
    const n = refRows;
    t.same(Array.from(got.lines.subarray(0, n)), Array.from(want.lines), `${name}: same line numbers`);
    if (labeled) t.same(Buffer.from(got.label!.subarray(0, n)), Buffer.from(want.label!), `${name}: same labels`);
    t.ok(got.dense.every((c, i) => Buffer.from(c.buffer, c.byteOffset, 4 * n).equals(Buffer.from(want.dense[i].buffer, want.dense[i].byteOffset, 4 * n))), `${name}: bit-identical dense`);
    t.ok(got.cats.every((c, i) => Buffer.from(c.buffer, c.byteOffset, 4 * n).equals(Buffer.from(want.cats[i].buffer, want.cats[i].byteOffset, 4 * n))), `${name}: identical cat ids`);
  }
});
