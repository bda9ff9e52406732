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
    [{ input, embedding: 'hashnet', compression: 0 }, /Invalid option compression: must be a number in \(0, 1\], got 0/],
    [{ input, embedding: 'hashnet', compression: 1.01 }, /Invalid option compression/],
    [{ input, embedding: 'hashnet', compression: 0.5, memoryFloats: 100 }, /cannot be combined/],
    [{ input, embedding: 'full', compression: 0.5 }, /cannot read input/], // ignored for full (one log line), so it gets as far as the input
    [{ input, embedding: 'hashnet', memoryFloats: 1 }, /shared embedding memory of 1 floats is below the floor of 416 \(d = 16 floats for each of the 26 features\)/],
    [{ input, embedding: 'robe', memoryFloats: 415 }, /below the floor of 416/],
    [{ input, embedding: 'hashnet', robeBlock: 4 }, /Invalid option robe-block: applies to --embedding robe only/],
    [{ input, embedding: 'robe', robeBlock: 17 }, /Invalid option robe-block: must be an integer in 1..16/],
    [{ input, embedding: 'hashnet', mapping: 'm.arrow' }, /Invalid option mapping: applies to --embedding scma only/],
    [{ input, batchSize: 0 }, /mini-batch-size/],
    [{ input, testFreq: -1 }, /test-freq/],
    [{ input, resume: true }, /Invalid option resume: needs --out DIR/],
    [{ input, embedding: 'dense' as never }, /Invalid option embedding/],
  ];
  for (const [opts, re] of cases) await t.rejects(train(opts), re);
  await t.rejects(train({ input, embedding: 'hashnet', memoryFloats: 416 }), /cannot read input/);
  await t.rejects(train({ input: '-', embedding: 'hashnet', memoryFloats: 416, split: parseSplit({ split: 'dlrm' }) }), /--split dlrm needs the total row count/);
});
