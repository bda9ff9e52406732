import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { SAMPLE_10K } from '../helpers/samples.js';
import { readFeatureBatches, readManifest } from '../../io/read-shards.js';
import { arrowStreamEncoder } from '../../io/arrow-stream.js';
import { preprocess } from '../../pipeline/preprocess.js';
import { collect, expectedColumns, firstDifference } from './shard-expect.js';

const expected = expectedColumns(SAMPLE_10K);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'read-shards-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

t.test('the independent parse sees the whole sample', async (t) => {
  t.equal(expected.rows, 10000);
});

for (const format of ['parquet', 'arrow'] as const) {
  for (const [shardRows, concurrency] of [
    [1000, 0],
    [3333, 2],
    [10000, 1],
    [25000, 0],
  ] as const) {
    t.test(`${format} shards of ${shardRows} rows hold the sample's values unchanged`, async (t) => {
      const out = path.join(tmp, `${format}-${shardRows}`);
      const s = await preprocess({ inputs: [SAMPLE_10K], out, format, shardRows, concurrency });
      t.equal(s.rows, 10000);
      t.equal(s.shards, Math.ceil(10000 / shardRows));
      const got = await collect(readFeatureBatches(out));
      t.equal(firstDifference(got, expected), null);

      const m = await readManifest(out);
      t.equal(m.complete, true);
      t.equal(m.format, format);
      t.equal(m.rows, 10000);
      t.equal(m.labeled, true);
      t.same(m.config.inputs, [path.resolve(SAMPLE_10K)]);
      t.equal(m.config.shardRows, shardRows);
      t.equal(m.shards.length, s.shards);
      let row = 0;
      for (const [k, sh] of m.shards.entries()) {
        t.equal(sh.file, `part-${String(k).padStart(5, '0')}.${format}`);
        t.equal(sh.firstRow, row);
        t.equal(sh.rows, Math.min(shardRows, 10000 - row));
        t.equal(sh.bytes, fs.statSync(path.join(out, sh.file)).size);
        // The sample has no empty lines: row r is line r + 1.
        t.same(sh.source, [{ file: SAMPLE_10K, firstLine: row + 1, lastLine: row + sh.rows, rows: sh.rows }]);
        row += sh.rows;
      }
      t.same(fs.readdirSync(out).sort(), ['_manifest.json', ...m.shards.map((x) => x.file)].sort(), 'no temp files left');

      // A single shard file reads on its own too.
      const one = await collect(readFeatureBatches(path.join(out, m.shards[0].file)));
      t.equal(one.rows, m.shards[0].rows);
      t.equal(one.cats[5][0], expected.cats[5][0]);
    });
  }
}

t.test("'-' reads an Arrow IPC stream (as preprocess --to - writes it)", async (t) => {
  const batches = await collect(readFeatureBatches(path.join(tmp, 'arrow-1000')));
  const parts = [];
  for await (const b of readFeatureBatches(path.join(tmp, 'arrow-1000'))) parts.push(b);
  const stdin = Readable.from(parts).pipe(arrowStreamEncoder());
  const got = await collect(readFeatureBatches('-', { stdin }));
  t.equal(got.batches, 10);
  t.equal(firstDifference(got, batches), null);
  t.equal(firstDifference(got, expected), null);
});

t.test('an empty stream is valid and yields no batches', async (t) => {
  const got = await collect(readFeatureBatches('-', { stdin: Readable.from([]).pipe(arrowStreamEncoder()) }));
  t.equal(got.rows, 0);
});

t.test('refuses an incomplete output, a missing manifest and a non-shard file, naming them', async (t) => {
  const dir = path.join(tmp, 'incomplete');
  fs.cpSync(path.join(tmp, 'parquet-1000'), dir, { recursive: true });
  const m = JSON.parse(fs.readFileSync(path.join(dir, '_manifest.json'), 'utf8'));
  m.complete = false;
  fs.writeFileSync(path.join(dir, '_manifest.json'), JSON.stringify(m));
  await t.rejects(collect(readFeatureBatches(dir)), { code: 'ERR_INCOMPLETE', message: /incomplete.*rerun/ });
  t.equal((await collect(readFeatureBatches(dir, { allowIncomplete: true }))).rows, 10000);
  const empty = path.join(tmp, 'empty');
  fs.mkdirSync(empty);
  await t.rejects(readManifest(empty), { code: 'ERR_MANIFEST', message: new RegExp(`${empty}.*_manifest.json`) });
  await t.rejects(collect(readFeatureBatches(SAMPLE_10K)), { code: 'ERR_INPUT', message: /not a shard/ });
  fs.writeFileSync(path.join(dir, 'part-00003.parquet'), 'garbage');
  // Checked against the manifest first; unchecked, decoding still names the file.
  await t.rejects(collect(readFeatureBatches(dir, { allowIncomplete: true })), { code: 'ERR_CHECKSUM', message: /part-00003\.parquet.*damaged shard/ });
  await t.rejects(collect(readFeatureBatches(dir, { allowIncomplete: true, verify: false })), { code: 'ERR_SHARD', message: /part-00003\.parquet/ });
});

t.test('stops at an aborted signal', async (t) => {
  const ac = new AbortController();
  let n = 0;
  await t.rejects(
    (async () => {
      for await (const b of readFeatureBatches(path.join(tmp, 'arrow-1000'), { signal: ac.signal })) {
        n += b.rows;
        ac.abort();
      }
    })(),
    { name: 'AbortError' },
  );
  t.equal(n, 1000);
});

t.test('the manifest is _manifest.json (directory readers skip it); an output under the old name manifest.json is read and resumed', async (t) => {
  const dir = path.join(tmp, 'legacy');
  fs.cpSync(path.join(tmp, 'parquet-1000'), dir, { recursive: true });
  t.same(fs.readdirSync(dir).filter((f) => !f.endsWith('.parquet')), ['_manifest.json'], 'the only non-shard name starts with _');
  // A run killed after 7 of 10 shards, by a version that used the old name.
  const m = JSON.parse(fs.readFileSync(path.join(dir, '_manifest.json'), 'utf8'));
  for (const s of m.shards.splice(7)) fs.rmSync(path.join(dir, s.file));
  m.rows = 7000;
  m.complete = false;
  fs.rmSync(path.join(dir, '_manifest.json'));
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
  t.equal((await readManifest(dir)).rows, 7000, 'the old name is read');
  const s = await preprocess({ inputs: [SAMPLE_10K], out: dir, format: 'parquet', shardRows: 1000, concurrency: 0 });
  t.equal(s.resumed, true);
  t.equal(s.newRows, 3000);
  t.same(fs.readdirSync(dir).filter((f) => !f.endsWith('.parquet')), ['_manifest.json'], 'rewritten under the new name, the old one gone');
  t.equal(firstDifference(await collect(readFeatureBatches(dir)), expected), null);
});
