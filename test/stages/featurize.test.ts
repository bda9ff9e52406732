import t from 'tap';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TsvParser, parseTsv, type RawBatch } from '../../stages/parse.js';
import { featurize, featurizeBatch, featurizeInto, catId, resolveFeaturizeOptions, UNBUCKETED, type FeaturizeOptions, type SourcedFeatureBatch } from '../../stages/featurize.js';
import { hash2 } from '../../core/hash.js';
import { openInput } from '../../input/open.js';
import { SAMPLE_10K, SAMPLE_1K } from '../helpers/samples.js';

function parseFile(file: string, batchRows = 8192): RawBatch[] {
  const p = new TsvParser({ batchRows, file });
  const out: RawBatch[] = [];
  p.write(fs.readFileSync(file), (b) => out.push(b));
  p.end((b) => out.push(b));
  return out;
}

t.test('option validation', async (t) => {
  const bad: [FeaturizeOptions, RegExp][] = [
    [{ buckets: -3 }, /Invalid option buckets: must be an integer from 2 to 4294967296, got -3/],
    [{ buckets: 1 }, /Invalid option buckets: .*got 1$/],
    [{ buckets: 2.5 }, /Invalid option buckets/],
    [{ buckets: 2 ** 32 + 1 }, /Invalid option buckets/],
    [{ buckets: '100' as unknown as number }, /Invalid option buckets: .*got "100"/],
    [{ buckets: Array(25).fill(10) }, /Invalid option buckets: must be one integer or a list of 26/],
    [{ buckets: [...Array(25).fill(10), 0] }, /Invalid option buckets\[25\]: .*got 0/],
    [{ seed: -1 }, /Invalid option seed/],
    [{ seed: 1.5 }, /Invalid option seed/],
  ];
  for (const [opts, re] of bad) {
    t.throws(() => featurize(opts), re);
    t.throws(() => featurizeBatch(parseFile(SAMPLE_1K)[0], opts), { code: 'ERR_INVALID_OPTION' });
  }
  t.throws(() => featurizeBatch(parseFile(SAMPLE_1K)[0], { buckets: new Float64Array(26) as unknown as number[] }), /Invalid option buckets/, 'a look-alike of resolved options is still checked');
  t.same([...resolveFeaturizeOptions({ buckets: 7 }).buckets], Array(26).fill(7));
  t.same([...resolveFeaturizeOptions({}).buckets], Array(26).fill(UNBUCKETED));
});

t.test('the 10k Kaggle sample: featurized values equal a straightforward parse', async (t) => {
  const batches = parseFile(SAMPLE_10K, 3000).map((b) => featurizeBatch(b));
  t.equal(batches.reduce((n, b) => n + b.rows, 0), 10000);
  const lines = fs.readFileSync(SAMPLE_10K, 'utf8').split('\n').filter((l) => l !== '');
  t.equal(lines.length, 10000);
  const labels: number[] = [];
  const dense: number[] = [];
  const cats: number[] = [];
  for (const l of lines) {
    const f = l.split('\t');
    labels.push(Number(f[0]));
    for (let i = 0; i < 13; i++) {
      const s = f[1 + i] ?? '';
      dense.push(Math.fround(s === '' ? 0 : Math.log1p(Math.max(Number(s), 0))));
    }
    for (let c = 0; c < 26; c++) {
      const s = f[14 + c] ?? '';
      // The documented id: 0 for empty, else 1 + hash2(value, feature, seed) % (2^32 - 1).
      cats.push(s === '' ? 0 : 1 + (hash2(parseInt(s, 16), c, 0) % (2 ** 32 - 1)));
    }
  }
  const gotLabels: number[] = [];
  const gotDense: number[] = [];
  const gotCats: number[] = [];
  for (const b of batches) {
    for (let r = 0; r < b.rows; r++) {
      gotLabels.push(b.label![r]);
      for (let i = 0; i < 13; i++) gotDense.push(b.dense[i][r]);
      for (let c = 0; c < 26; c++) gotCats.push(b.cats[c][r]);
    }
  }
  t.same(gotLabels, labels, 'labels');
  t.same(gotDense, dense, 'dense: log1p(max(x, 0)) as float32, empty -> 0');
  t.same(gotCats, cats, 'categorical ids');
  t.ok(gotCats.includes(0), 'the sample has empty categoricals (id 0)');
  t.same(batches[1].source && [batches[1].source.file, batches[1].source.firstRow, batches[1].source.firstLine], [SAMPLE_10K, 3000, 3001]);
});

t.test('dense transform: negatives and empties -> 0, large values stay finite', async (t) => {
  const raw = parseFile(SAMPLE_1K)[0];
  raw.ints[0][0] = -5;
  raw.ints[1][0] = NaN;
  raw.ints[2][0] = 1e15;
  raw.ints[3][0] = 0;
  const b = featurizeBatch(raw);
  t.same([b.dense[0][0], b.dense[1][0], b.dense[3][0]], [0, 0, 0]);
  t.equal(b.dense[2][0], Math.fround(Math.log1p(1e15)));
});

t.test('buckets: ids in [0, N), 0 only for empty, per-feature lists', async (t) => {
  const raw = parseFile(SAMPLE_10K)[0];
  const plain = featurizeBatch(raw);
  const b10 = featurizeBatch(raw, { buckets: 10 });
  const per = Array.from({ length: 26 }, (_, f) => 2 + f * 3);
  const bper = featurizeBatch(raw, { buckets: per });
  for (let f = 0; f < 26; f++) {
    for (let r = 0; r < raw.rows; r++) {
      const present = raw.catPresent[f][r] === 1;
      if ((b10.cats[f][r] === 0) !== !present || b10.cats[f][r] >= 10) return t.fail(`buckets 10: feature ${f} row ${r}`);
      if ((bper.cats[f][r] === 0) !== !present || bper.cats[f][r] >= per[f]) return t.fail(`per-feature: feature ${f} row ${r}`);
      if ((plain.cats[f][r] === 0) !== !present) return t.fail(`unbucketed: feature ${f} row ${r}`);
      if (present && bper.cats[f][r] !== catId(raw.cats[f][r], f, 0, per[f])) return t.fail('catId agrees');
    }
  }
  t.same([...new Set(bper.cats[0])].sort(), [1], 'buckets 2 (c1, never empty here): every value is id 1');
  const used = new Set(b10.cats[2]);
  t.equal(used.size, 10, 'a high-cardinality feature fills all 9 value buckets plus empty');
  t.pass('all ids in range, 0 exactly where empty');
});

t.test('ids: deterministic, per-feature, seeded, never 0 for a value', async (t) => {
  t.equal(catId(0x68fd1e64, 0), catId(0x68fd1e64, 0));
  t.not(catId(0x68fd1e64, 0), catId(0x68fd1e64, 1), 'same hex in another feature gets another id');
  t.not(catId(0x68fd1e64, 0, 1), catId(0x68fd1e64, 0, 0), 'the seed changes ids');
  t.ok(catId(0, 0) > 0, 'value 00000000 is not "empty"');
  // The one value per feature whose hash is 2^32 - 1 maps to id 1 (as does hash 0); still not 0.
  for (let v = 0; v < 100000; v++) if (catId(v, 3) === 0 || catId(v, 3, 0, 2) !== 1) return t.fail(`value ${v}`);
  t.pass('no value maps to 0');
});

t.test('featurize() stream: parse -> featurize pipeline', async (t) => {
  const out: SourcedFeatureBatch[] = [];
  await pipeline(openInput(SAMPLE_10K), parseTsv({ batchRows: 4000 }), featurize({ buckets: 1000 }), async (src: AsyncIterable<SourcedFeatureBatch>) => {
    for await (const b of src) out.push(b);
  });
  t.same(out.map((b) => b.rows), [4000, 4000, 2000]);
  t.same(out.map((b) => b.source?.firstLine), [1, 4001, 8001]);
  const direct = parseFile(SAMPLE_10K, 4000).map((b) => featurizeBatch(b, { buckets: 1000 }));
  t.same(out.map((b) => [b.label, b.dense, b.cats]), direct.map((b) => [b.label, b.dense, b.cats]));
  await t.rejects(
    pipeline(Readable.from([{ rows: 1 }]), featurize(), async (src: AsyncIterable<unknown>) => {
      for await (const _ of src);
    }),
    TypeError,
    'a malformed batch fails the pipeline instead of throwing out of _transform',
  );
});

t.test('featurizeInto writes every cell at an offset of a dirty, reused buffer: same values as featurizeBatch', async (t) => {
  // reuseBatches: the parser overwrites one set of arrays, as the parse workers use it.
  const raws: RawBatch[] = [];
  const p = new TsvParser({ batchRows: 3000, reuseBatches: true });
  const n = 10000;
  const out = {
    label: new Uint8Array(n + 7).fill(7),
    dense: Array.from({ length: 13 }, () => new Float32Array(n + 7).fill(-1)),
    cats: Array.from({ length: 26 }, () => new Uint32Array(n + 7).fill(0xdeadbeef)),
  };
  const opts = resolveFeaturizeOptions({ buckets: 5000, seed: 9 });
  let at = 7;
  const emit = (b: RawBatch) => {
    featurizeInto(b, out, at, opts);
    at += b.rows;
    raws.push(b);
  };
  p.write(fs.readFileSync(SAMPLE_10K), emit);
  p.end(emit);
  t.equal(at, n + 7);
  t.equal(raws[0].ints[0].buffer, raws[1].ints[0].buffer, 'the parser reused its arrays');
  const ref = parseFile(SAMPLE_10K).map((b) => featurizeBatch(b, opts));
  let r = 7;
  let diffs = 0;
  for (const b of ref) {
    for (let i = 0; i < b.rows; i++, r++) {
      if (out.label[r] !== b.label![i]) diffs++;
      for (let j = 0; j < 13; j++) if (out.dense[j][r] !== b.dense[j][i]) diffs++;
      for (let j = 0; j < 26; j++) if (out.cats[j][r] !== b.cats[j][i]) diffs++;
    }
  }
  t.equal(diffs, 0);
  t.equal(out.dense[0][6], -1, 'nothing written before the offset');
});
