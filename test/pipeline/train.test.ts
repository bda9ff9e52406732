import t from 'tap';
import { prefetch, train } from '../../pipeline/train.js';
import { parseSplit } from '../../stages/split.js';
import { setTimeout as sleep } from 'node:timers/promises';

t.test('prefetch prepares ahead while the consumer works, but never beyond its bound', async (t) => {
  let produced = 0;
  async function* source() {
    for (let i = 0; i < 20; i++) {
      produced++;
      yield i;
    }
  }
  let consumed = 0;
  const seen: number[] = [];
  for await (const x of prefetch(source(), 3)) {
    seen.push(x);
    consumed++;
    await sleep(2); // the "model step": the queue fills meanwhile
    t.ok(produced <= consumed + 3, `produced ${produced} after consuming ${consumed}`);
    if (consumed === 5) t.ok(produced >= consumed + 2, 'items were prepared ahead');
  }
  t.same(seen, Array.from({ length: 20 }, (_, i) => i));
});

t.test('prefetch surfaces a source error in order and closes the source when the consumer stops', async (t) => {
  async function* failing() {
    yield 1;
    yield 2;
    throw new Error('shard 3 is corrupt');
  }
  const got: number[] = [];
  await t.rejects(
    (async () => {
      for await (const x of prefetch(failing(), 4)) got.push(x);
    })(),
    /shard 3 is corrupt/,
  );
  t.same(got, [1, 2]);
  let closed = false;
  async function* endless() {
    try {
      for (let i = 0; ; i++) yield i;
    } finally {
      closed = true;
    }
  }
  for await (const x of prefetch(endless(), 2)) if (x === 3) break;
  t.ok(closed, 'source closed');
});

t.test('options are validated before any input is read', async (t) => {
  const input = '/nonexistent/input';
  const cases: [Parameters<typeof train>[0], RegExp][] = [
    [{ input, embedding: 'hashnet', compression: 0 }, /Invalid option compression: must be in \(0, 1\], got 0/],
    [{ input, embedding: 'hashnet', compression: 1.01 }, /Invalid option compression/],
    [{ input, embedding: 'hashnet', compression: 0.5, memoryFloats: 100 }, /cannot be combined/],
    [{ input, embedding: 'full', compression: 0.5 }, /apply to hashnet and scma/],
    [{ input, embedding: 'hashnet', mapping: 'm.arrow' }, /Invalid option mapping: applies to --embedding scma only/],
    [{ input, batchSize: 0 }, /mini-batch-size/],
    [{ input, testFreq: -1 }, /test-freq/],
    [{ input, resume: true }, /Invalid option resume: needs --out DIR/],
    [{ input, embedding: 'dense' as never }, /Invalid option embedding/],
  ];
  for (const [opts, re] of cases) await t.rejects(train(opts), re);
  await t.rejects(train({ input, embedding: 'hashnet', memoryFloats: 10 }), /cannot read input/);
  await t.rejects(train({ input: '-', embedding: 'hashnet', memoryFloats: 10, split: parseSplit({ split: 'dlrm' }) }), /--split dlrm needs the total row count/);
});

t.test('an Arrow IPC stream that stops before its end marker is an error, never a shorter input', async (t) => {
  const { Readable } = await import('node:stream');
  const { arrowStreamEncoder } = await import('../../io/arrow-stream.js');
  const { readCheckedArrowStream } = await import('../../pipeline/train.js');
  const { numberedBatches, rowIds } = await import('../helpers/train-data.js');
  // Three record batches, as preprocess --to - writes them.
  const chunks: Buffer[] = [];
  for await (const c of Readable.from(numberedBatches(30, 10)).pipe(arrowStreamEncoder())) chunks.push(c as Buffer);
  const whole = Buffer.concat(chunks);
  const read = async (bytes: Uint8Array, pieces = 3) => {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < pieces; i++) parts.push(bytes.subarray(Math.floor((i * bytes.length) / pieces), Math.floor(((i + 1) * bytes.length) / pieces)));
    const out = [];
    for await (const b of readCheckedArrowStream(Readable.from(parts, { objectMode: false }), 'test-stream')) out.push(b);
    return out;
  };
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
