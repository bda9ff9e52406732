import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { PassThrough, Readable } from 'node:stream';
import { openInput, assertInputsReadable, isInputMarker, STDIN_NAME, type InputMarker } from '../../input/open.js';
import { SAMPLE_10K } from '../helpers/samples.js';

async function collect(r: Readable): Promise<(Buffer | InputMarker)[]> {
  const out: (Buffer | InputMarker)[] = [];
  for await (const x of r) out.push(x as Buffer | InputMarker);
  return out;
}
const bytesOf = (items: (Buffer | InputMarker)[]) => Buffer.concat(items.filter((x): x is Buffer => !isInputMarker(x)));
const markersOf = (items: (Buffer | InputMarker)[]) => items.filter(isInputMarker).map((m) => [m.file, m.index]);

t.test('option validation', async (t) => {
  t.throws(() => openInput([]), /Invalid option inputs: must be a file path, '-' or a non-empty list of them/);
  t.throws(() => openInput(''), { code: 'ERR_INVALID_OPTION' });
  t.throws(() => openInput(['-', '-']), /may name stdin \('-'\) only once/);
  t.throws(() => openInput('x', { chunkBytes: 0 }), /Invalid option chunkBytes/);
  t.throws(() => openInput('x', { markers: 1 as unknown as boolean }), /Invalid option markers/);
});

t.test('one file: its bytes, after one marker', async (t) => {
  const items = await collect(openInput(SAMPLE_10K, { chunkBytes: 100_000 }));
  t.same(markersOf(items), [[SAMPLE_10K, 0]]);
  t.ok(isInputMarker(items[0]));
  t.same(bytesOf(items), fs.readFileSync(SAMPLE_10K));
  t.ok(items.filter(Buffer.isBuffer).every((b) => b.length <= 100_000));
});

t.test('several files in order, gzip detected by magic bytes whatever the name', async (t) => {
  const dir = t.testdir({ 'a.tsv': 'a1\na2', 'b.txt': 'b1\n' });
  const gz = path.join(dir, 'day_1'); // no .gz suffix: detection is by content
  fs.writeFileSync(gz, zlib.gzipSync(Buffer.from('g1\ng2\n')));
  const notGz = path.join(dir, 'plain.gz');
  fs.writeFileSync(notGz, 'p1\n');
  const files = [path.join(dir, 'a.tsv'), gz, path.join(dir, 'b.txt'), notGz];
  const items = await collect(openInput(files));
  t.same(markersOf(items), files.map((f, i) => [f, i]));
  t.equal(bytesOf(items).toString(), 'a1\na2g1\ng2\nb1\np1\n', 'bytes as they are; markers separate the files');
  t.equal((await collect(openInput(files, { markers: false }))).map(String).join(''), 'a1\na2\ng1\ng2\nb1\np1\n', 'without markers a newline keeps files apart');
  // Concatenated gzip members (as `cat a.gz b.gz` makes) are one stream.
  const multi = path.join(dir, 'multi.gz');
  fs.writeFileSync(multi, Buffer.concat([zlib.gzipSync('m1\n'), zlib.gzipSync('m2\n')]));
  t.equal(bytesOf(await collect(openInput(multi))).toString(), 'm1\nm2\n');
  const empty = path.join(dir, 'empty');
  fs.writeFileSync(empty, '');
  t.same(bytesOf(await collect(openInput([empty, empty]))).length, 0);
});

t.test('a large gzip file streams through', async (t) => {
  const dir = t.testdir();
  const gz = path.join(dir, 'k.tsv.gz');
  const raw = fs.readFileSync(SAMPLE_10K);
  fs.writeFileSync(gz, zlib.gzipSync(raw));
  t.same(bytesOf(await collect(openInput(gz, { chunkBytes: 4096 }))), raw);
});

t.test('stdin, plain and gzip, even one byte at a time', async (t) => {
  const feed = (data: Buffer, step: number) => {
    const s = new PassThrough();
    (async () => {
      for (let i = 0; i < data.length; i += step) {
        s.write(data.subarray(i, i + step));
        await new Promise((r) => setImmediate(r));
      }
      s.end();
    })();
    return s;
  };
  const text = Buffer.from('x\ty\n1\t2\n');
  const got = await collect(openInput('-', { stdin: feed(text, 1) }));
  t.same(markersOf(got), [[STDIN_NAME, 0]]);
  t.same(bytesOf(got), text);
  t.same(bytesOf(await collect(openInput('-', { stdin: feed(zlib.gzipSync(text), 1) }))), text);
  t.same(bytesOf(await collect(openInput(['-'], { stdin: feed(Buffer.from([0x1f]), 1) }))), Buffer.from([0x1f]), 'a lone 1f byte is just a byte');
});

t.test('errors name the file: missing, directory, truncated gzip, corrupt gzip', async (t) => {
  const dir = t.testdir({ 'ok.tsv': 'a\n' });
  const missing = path.join(dir, 'nope.tsv');
  await t.rejects(collect(openInput(missing)), { name: 'PipelineError', code: 'ERR_INPUT_NOT_FOUND', context: { file: missing }, message: `${missing}: no such file` });
  await t.rejects(collect(openInput([path.join(dir, 'ok.tsv'), missing])), { code: 'ERR_INPUT_NOT_FOUND', context: { file: missing } });
  await t.rejects(collect(openInput(dir)), { code: 'ERR_INPUT', context: { file: dir } });
  t.throws(() => assertInputsReadable([path.join(dir, 'ok.tsv'), missing]), { code: 'ERR_INPUT_NOT_FOUND', context: { file: missing } });
  t.doesNotThrow(() => assertInputsReadable([path.join(dir, 'ok.tsv'), '-']));

  const full = zlib.gzipSync(fs.readFileSync(SAMPLE_10K));
  const truncated = path.join(dir, 'day_0.gz');
  fs.writeFileSync(truncated, full.subarray(0, Math.floor(full.length / 2)));
  await t.rejects(collect(openInput(truncated)), { code: 'ERR_TRUNCATED_GZIP', context: { file: truncated }, message: `${truncated}: truncated gzip data (unexpected end of file)` });
  // Cut inside the 8-byte trailer too.
  fs.writeFileSync(truncated, full.subarray(0, full.length - 3));
  await t.rejects(collect(openInput(truncated)), { code: 'ERR_TRUNCATED_GZIP', context: { file: truncated } });
  const corrupt = path.join(dir, 'bad.gz');
  const c = Buffer.from(full);
  for (let i = 20; i < 200; i++) c[i] ^= 0x5a;
  fs.writeFileSync(corrupt, c);
  await t.rejects(collect(openInput(corrupt)), { code: 'ERR_BAD_GZIP', context: { file: corrupt } });
});

t.test('applies backpressure: nothing is read far ahead of a slow consumer', async (t) => {
  const dir = t.testdir();
  for (const gz of [false, true]) {
    const file = path.join(dir, gz ? 'big.gz' : 'big.tsv');
    const data = Buffer.alloc(32 << 20, 'abcdefgh\t');
    fs.writeFileSync(file, gz ? zlib.gzipSync(data, { level: 1 }) : data);
    const r = openInput(file, { chunkBytes: 1 << 16 });
    let seen = 0;
    for await (const x of r) {
      if (isInputMarker(x)) continue;
      seen += (x as Buffer).length;
      if (seen > 1 << 20) break;
      await new Promise((res) => setTimeout(res, 1));
      t.ok(r.readableLength <= 2, `buffered ${r.readableLength} chunks`);
    }
    t.ok(r.destroyed, 'stopping early destroys the stream');
  }
});
