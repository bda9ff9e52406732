/**
 * The promise to library users: the CLI's stages are plain Node streams that compose
 * with stages of their own in stream.pipeline, with errors propagated and inputs freed.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Transform, Writable, PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openInput, parseTsv, featurize, arrowStreamEncoder, readArrowStream, type FeatureBatch, NUM_CAT } from '../../pipeline/index.js';
import { SAMPLE_10K } from '../helpers/samples.js';

/** Labels and empty-categorical counts of the sample, by a plain string parse. */
function plainFacts(file: string): { rows: number; positives: number; emptyCats: number } {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
  let positives = 0;
  let emptyCats = 0;
  for (const l of lines) {
    const f = l.split('\t');
    positives += Number(f[0]);
    for (let c = 14; c < 40; c++) if (!f[c]) emptyCats++;
  }
  return { rows: lines.length, positives, emptyCats };
}

t.test('stages compose with a user transform and an Arrow stream round trip keeps every row', async (t) => {
  const expected = plainFacts(SAMPLE_10K);
  let seenRows = 0;
  let seenPositives = 0;
  let seenEmptyCats = 0;
  // A user's own stage in the middle: it observes featurized batches and passes them on.
  const audit = new Transform({
    objectMode: true,
    transform(batch: FeatureBatch, _enc, cb) {
      seenRows += batch.rows;
      for (let i = 0; i < batch.rows; i++) seenPositives += batch.label![i];
      for (let c = 0; c < NUM_CAT; c++) for (let i = 0; i < batch.rows; i++) if (batch.cats[c][i] === 0) seenEmptyCats++;
      cb(null, batch);
    },
  });
  const bytes = new PassThrough();
  const chunks: Buffer[] = [];
  bytes.on('data', (c: Buffer) => chunks.push(c));
  await pipeline(openInput([SAMPLE_10K]), parseTsv(), featurize(), audit, arrowStreamEncoder(), bytes);
  t.same({ rows: seenRows, positives: seenPositives, emptyCats: seenEmptyCats }, expected, 'the user stage saw every row as written');

  let rows = 0;
  let positives = 0;
  for await (const b of readArrowStream(Readable.from([Buffer.concat(chunks)]))) {
    rows += b.rows;
    for (let i = 0; i < b.rows; i++) positives += b.label![i];
  }
  t.same({ rows, positives }, { rows: expected.rows, positives: expected.positives }, 'the Arrow stream reads back whole');
});

t.test('an error in a user stage rejects the pipeline and frees the input', async (t) => {
  const input = openInput([SAMPLE_10K]);
  let batches = 0;
  const failing = new Transform({
    objectMode: true,
    transform(_batch: FeatureBatch, _enc, cb) {
      batches++;
      cb(batches === 2 ? new Error('user stage gave up') : null);
    },
  });
  const sink = new Writable({ objectMode: true, write: (_c, _e, cb) => cb() });
  await t.rejects(pipeline(input, parseTsv({ batchRows: 1000 }), featurize(), failing, sink), /user stage gave up/);
  t.equal(batches, 2, 'stopped at the failing batch');
  t.ok(input.destroyed, 'the input stream was destroyed');
});

t.test('a parse error surfaces through the user pipeline with file, line and field', async (t) => {
  const bad = new PassThrough();
  bad.end('0\t1\t2\t3\t4\t5\t6\t7\t8\t9\t10\t11\t12\tx13\n');
  const sink = new Writable({ objectMode: true, write: (_c, _e, cb) => cb() });
  const err = await pipeline(bad, parseTsv({ file: 'mine.tsv' }), featurize(), sink).then(() => null, (e: Error) => e);
  t.match(err?.message, /mine\.tsv/, 'names the file');
  t.match(err?.message, /line 1\b/, 'names the line');
  t.match(err?.message, /i13/, 'names the field');
});
