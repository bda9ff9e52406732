/**
 * The checked reader of an Arrow IPC stream on a pipe: a stream cut short, or bytes
 * that are not an Arrow stream at all (raw TSV, gzip, a Parquet or Arrow file), fail
 * with an error that says which, never as fewer rows or a decoder's message.
 */
import t from 'tap';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { arrowStreamEncoder } from '../../io/arrow-stream.js';
import { readCheckedArrowStream, readFeatureBatches } from '../../io/read-shards.js';
import { encodeShard } from '../../io/shard-format.js';
import { numberedBatches, rowIds } from '../helpers/train-data.js';

/** The stream as preprocess --to - writes it, and its pieces as the encoder pushed them (one per message group). */
async function encode(total: number, chunk: number): Promise<{ chunks: Buffer[]; whole: Buffer }> {
  const chunks: Buffer[] = [];
  const encoder = arrowStreamEncoder();
  encoder.on('data', (c: Buffer) => chunks.push(c));
  const ended = once(encoder, 'end');
  for (const b of numberedBatches(total, chunk)) encoder.write(b);
  encoder.end();
  await ended;
  return { chunks, whole: Buffer.concat(chunks) };
}

async function readAll(bytes: Uint8Array, pieces = 3) {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < pieces; i++) parts.push(bytes.subarray(Math.floor((i * bytes.length) / pieces), Math.floor(((i + 1) * bytes.length) / pieces)));
  const out = [];
  for await (const b of readCheckedArrowStream(Readable.from(parts, { objectMode: false }), 'test-stream')) out.push(b);
  return out;
}

t.test('an Arrow IPC stream that stops before its end marker is an error, never a shorter input', async (t) => {
  // Three record batches, as preprocess --to - writes them.
  const { chunks, whole } = await encode(30, 10);
  t.equal(chunks.length, 4, 'schema + batch, two batches, end marker');
  const read = readAll;
  t.same(rowIds(await read(whole)), Array.from({ length: 30 }, (_, i) => i), 'the whole stream reads fully');
  t.same(rowIds(await read(whole, 1)), Array.from({ length: 30 }, (_, i) => i), 'in one chunk too');
  // Cut at every message boundary (where the IPC format itself cannot tell) and inside messages.
  const boundaries = [];
  for (let i = 1; i < chunks.length; i++) boundaries.push(chunks.slice(0, i).reduce((n, c) => n + c.length, 0));
  const cuts = [0, 3, 9, ...boundaries, boundaries[0] + 17, whole.length - 8, whole.length - 1];
  for (const cut of cuts) {
    await t.rejects(read(whole.subarray(0, cut)), { code: 'ERR_TRUNCATED_INPUT', message: /test-stream: the Arrow IPC stream (is empty|stopped after \d+ bytes without its end-of-stream marker)/ }, `cut at ${cut} of ${whole.length}`);
  }
  const garbage = Buffer.from(whole);
  garbage.fill(7, 12, 40);
  await t.rejects(read(garbage), { name: 'PipelineError', message: /test-stream/ }, 'corrupt bytes: a PipelineError naming the stream');
});

t.test('bytes that are not an Arrow stream say what they look like', async (t) => {
  const tsv = Buffer.from('1\t5\t110\t\t16\t\t1\t0\t14\t7\t1\t\t306\t\t62770d79\te21f5d58\n0\t32\t3\t5\n');
  const cases: [string, Uint8Array, RegExp][] = [
    ['raw TSV', tsv, /test-stream: not an Arrow IPC stream: it starts with text "1\\t5\\t110.*like raw TSV rows: run them through `pipeline preprocess --input - --to -` first/],
    ['gzipped TSV', gzipSync(tsv), /not an Arrow IPC stream: it is gzip-compressed/],
    ['a Parquet shard', encodeShard(numberedBatches(5, 5)[0], 'parquet'), /not an Arrow IPC stream: it is a Parquet file: pass the file/],
    ['an Arrow file', encodeShard(numberedBatches(5, 5)[0], 'arrow'), /not an Arrow IPC stream: it is an Arrow file \(random-access format\)/],
    ['other bytes', Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), /not an Arrow IPC stream: it does not start with the Arrow IPC continuation marker/],
  ];
  for (const [name, bytes, re] of cases) {
    for (const pieces of [1, 3]) await t.rejects(readAll(bytes, pieces), { code: 'ERR_NOT_ARROW_STREAM', message: re }, `${name} in ${pieces} chunk(s)`);
  }
  // The first bytes one at a time: the check waits for all four.
  const { whole } = await encode(20, 10);
  t.same(rowIds(await readAll(whole, whole.length)), Array.from({ length: 20 }, (_, i) => i), 'a valid stream in 1-byte chunks');
  await t.rejects(readAll(tsv, tsv.length), { code: 'ERR_NOT_ARROW_STREAM' }, 'TSV in 1-byte chunks');
});

t.test("readFeatureBatches('-') is the checked reader", async (t) => {
  const { whole } = await encode(30, 10);
  const read = async (bytes: Uint8Array) => {
    const out = [];
    for await (const b of readFeatureBatches('-', { stdin: Readable.from([bytes], { objectMode: false }) })) out.push(b);
    return out;
  };
  t.same(rowIds(await read(whole)), Array.from({ length: 30 }, (_, i) => i));
  await t.rejects(read(whole.subarray(0, whole.length - 8)), { code: 'ERR_TRUNCATED_INPUT', message: /<stdin>: the Arrow IPC stream stopped after/ });
  await t.rejects(read(Buffer.from('0\t1\t2\n')), { code: 'ERR_NOT_ARROW_STREAM', message: /<stdin>: not an Arrow IPC stream/ });
});
