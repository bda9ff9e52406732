import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ShardCutter, shardSink } from '../../stages/shard-sink.js';
import { emptyFeatureBatch, type SourcedFeatureBatch } from '../../core/schema.js';
import { PipelineError } from '../../core/errors.js';
import { readManifest, MANIFEST_VERSION, type ManifestConfig } from '../../io/manifest.js';
import { openShardOutput } from '../../io/shard-output.js';
import { tempNameFor } from '../../io/atomic-file.js';
import { readFeatureBatches } from '../../io/read-shards.js';
import { arrowStreamEncoder } from '../../io/arrow-stream.js';
import { collect } from '../io/shard-expect.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shard-sink-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Rows numbered from `start`: dense i1 and cat c1 hold the row number, so order and loss are visible. */
function numbered(start: number, rows: number): SourcedFeatureBatch {
  const b = emptyFeatureBatch(rows);
  const lines = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    b.dense[0][r] = start + r;
    b.cats[0][r] = start + r;
    b.label![r] = (start + r) % 2;
    lines[r] = start + r + 1;
  }
  return { ...b, source: { file: 'in.tsv', fileIndex: 0, firstRow: start, firstLine: start + 1, lines } };
}

const config = (o: Partial<ManifestConfig> = {}): ManifestConfig => ({
  inputs: ['in.tsv'],
  inputBytes: [null],
  format: 'arrow',
  shardRows: 100,
  buckets: null,
  labeled: true,
  onBadRow: 'fail',
  seed: 0,
  version: MANIFEST_VERSION,
  ...o,
});

t.test('validates options at construction', async (t) => {
  t.throws(() => new ShardCutter({ shardRows: 0 }), { code: 'ERR_INVALID_OPTION', message: /shardRows: must be a positive integer, got 0/ });
  t.throws(() => shardSink({ dir: tmp, config: config(), concurrency: -1 }), { message: /concurrency/ });
});

t.test('cuts shards at fixed row boundaries whatever the batch sizes, after skipping committed rows', async (t) => {
  for (const skipRows of [0, 300]) {
    const cutter = new ShardCutter({ shardRows: 100, skipRows, firstIndex: skipRows / 100 });
    const shards = [];
    let at = 0;
    for (const n of [7, 93, 150, 1, 399, 50]) {
      shards.push(...cutter.push(numbered(at, n)).map((s) => ({ ...s, first: s.batch.dense[0][0], last: s.batch.dense[0][s.batch.rows - 1], rows: s.batch.rows })));
      at += n;
    }
    const last = cutter.flush();
    if (last) shards.push({ ...last, first: last.batch.dense[0][0], last: last.batch.dense[0][last.batch.rows - 1], rows: last.batch.rows });
    // 700 rows: shards [skip, ...) of 100 rows each.
    t.same(
      shards.map((s) => [s.index, s.firstRow, s.rows, s.first, s.last]),
      Array.from({ length: (700 - skipRows) / 100 + (skipRows % 100 ? 1 : 0) }, (_, i) => {
        const first = skipRows + i * 100;
        const rows = Math.min(100, 700 - first);
        return [skipRows / 100 + i, first, rows, first, first + rows - 1];
      }).filter((x) => x[2] > 0),
    );
    t.same(shards[0].source, [{ file: 'in.tsv', firstLine: skipRows + 1, lastLine: Math.min(700, skipRows + 100), rows: Math.min(700, skipRows + 100) - skipRows }]);
  }
});

t.test('applies backpressure when the encoders are slower than the producer', async (t) => {
  const dir = path.join(tmp, 'bp');
  const sink = shardSink({ dir, config: config({ format: 'parquet', shardRows: 2000 }), concurrency: 1, maxInFlight: 2 });
  const manifest = await sink.opened();
  let produced = 0;
  let maxAhead = 0;
  const total = 60_000;
  async function* source() {
    for (let at = 0; at < total; at += 500) {
      maxAhead = Math.max(maxAhead, produced - manifest.rows);
      produced += 500;
      yield numbered(at, 500);
    }
  }
  await pipeline(Readable.from(source(), { highWaterMark: 1 }), sink);
  t.equal(manifest.rows, total);
  t.ok(sink.maxInFlightSeen <= 2, `in-flight shards ${sink.maxInFlightSeen} <= 2`);
  // Two shards in flight, one being filled, a batch in the sink's and one in Readable's buffer.
  t.ok(maxAhead <= 3 * 2000 + 3 * 500, `producer ran at most ${maxAhead} rows ahead of the commits (of ${total})`);
  const got = await collect(readFeatureBatches(dir));
  t.same(Array.from(got.dense[0]), Array.from({ length: total }, (_, i) => i));
});

t.test('rolls back this run on error when asked, leaving the directory as found', async (t) => {
  const dir = path.join(tmp, 'rb');
  const sink = shardSink({ dir, config: config(), concurrency: 0, rollbackOnError: true });
  async function* source() {
    for (let at = 0; at < 1000; at += 50) yield numbered(at, 50);
    throw new Error('bad row');
  }
  await t.rejects(pipeline(Readable.from(source()), sink), { message: 'bad row' });
  await sink.settled();
  t.same(fs.readdirSync(dir), [], 'no shard, temp file or manifest left');
});

t.test('arrowStreamEncoder waits for a slow reader', async (t) => {
  let produced = 0;
  let consumedBytes = 0;
  let maxAheadBatches = 0;
  const batchBytes = 500 * 161;
  async function* source() {
    for (let i = 0; i < 200; i++) {
      maxAheadBatches = Math.max(maxAheadBatches, produced - consumedBytes / batchBytes);
      produced++;
      yield numbered(i * 500, 500);
    }
  }
  const slow = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _e, cb) {
      consumedBytes += chunk.length;
      setTimeout(cb, 1);
    },
  });
  await pipeline(Readable.from(source(), { highWaterMark: 1 }), arrowStreamEncoder(), slow);
  t.ok(maxAheadBatches < 6, `producer at most ${maxAheadBatches.toFixed(1)} batches ahead of a slow reader (of 200)`);
});

t.test('reopening an output removes the temp files a killed run left, and only those', async (t) => {
  const dir = path.join(tmp, 'leftovers');
  await pipeline(Readable.from([numbered(0, 250)], { objectMode: true }), shardSink({ dir, config: config(), concurrency: 0 }));
  // What a SIGKILL in the middle of writeFileAtomic leaves behind, named as it names them.
  const leftovers = [tempNameFor(path.join(dir, '_manifest.json')), tempNameFor(path.join(dir, 'part-00007.arrow'))];
  for (const f of leftovers) fs.writeFileSync(f, 'partial');
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'the user keeps this');
  await openShardOutput({ dir, config: config() });
  for (const f of leftovers) t.notOk(fs.existsSync(f), `${path.basename(f)} removed`);
  t.ok(fs.existsSync(path.join(dir, 'notes.txt')), 'a file that is not ours stays');
  t.equal((await readManifest(dir)).rows, 250, 'the committed shards are intact');
});

t.test('the sink opens its output itself: resumes the same config, refuses another, replaces it with overwrite', async (t) => {
  const dir = path.join(tmp, 'open');
  const run = async (rows: number, o: { overwrite?: boolean; cfg?: Partial<ManifestConfig>; fail?: boolean } = {}) => {
    const sink = shardSink({ dir, config: config(o.cfg), overwrite: o.overwrite, concurrency: 0, rollbackOnError: true });
    async function* source() {
      for (let at = 0; at < rows; at += 50) yield numbered(at, 50);
      if (o.fail) throw new Error('stopped');
    }
    try {
      await pipeline(Readable.from(source()), sink);
    } finally {
      await sink.settled().catch(() => {});
    }
    return sink;
  };
  // What a run killed after its third commit leaves: 3 shards, the manifest not complete.
  await run(300);
  const m = await readManifest(dir);
  fs.writeFileSync(path.join(dir, '_manifest.json'), JSON.stringify({ ...m, complete: false }));

  const resumed = await run(500);
  t.equal(resumed.existed, true, 'a manifest was there');
  t.same([resumed.manifest.rows, resumed.manifest.complete, resumed.manifest.shards.length], [500, true, 5], 'resumed after the committed rows');
  const all = await collect(readFeatureBatches(dir));
  t.same(Array.from(all.dense[0]), Array.from({ length: 500 }, (_, i) => i), 'no row lost or repeated');

  const done = shardSink({ dir, config: config(), concurrency: 0 });
  t.equal((await done.opened()).complete, true, 'opened() tells a complete output before any input');
  done.destroy();

  const other = shardSink({ dir, config: config({ seed: 9 }), concurrency: 0 });
  const err = await other.opened().catch((e: unknown) => e);
  t.ok(err instanceof PipelineError);
  t.match(err, { code: 'ERR_OUTPUT_EXISTS', context: { file: dir }, message: /differs in seed/ });
  await t.rejects(run(100, { cfg: { seed: 9 } }), { code: 'ERR_OUTPUT_EXISTS' }, 'and so does a pipeline into it');
  t.equal((await readManifest(dir)).rows, 500, 'the refused run changed nothing');

  await t.rejects(run(200, { cfg: { seed: 9 }, overwrite: true, fail: true }), { message: 'stopped' });
  t.same(fs.readdirSync(dir).sort(), [], 'an overwrite that fails rolls back to nothing (the old output was given up when it started)');
  const replaced = await run(200, { cfg: { seed: 9 }, overwrite: true });
  t.same([replaced.existed, replaced.manifest.rows, replaced.manifest.config.seed], [false, 200, 9]);
});
