import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { PIPELINE_BIN } from '../helpers/paths.js';
import { SAMPLE_10K } from '../helpers/samples.js';
import { readFeatureBatches, readManifest } from '../../io/read-shards.js';
import { collect, expectedColumns, firstDifference } from '../io/shard-expect.js';

// Loaded before the first t.test: a top-level await after the tests started lets
// tap end the file first, and the DuckDB test was then never run.
let duck: any = null;
try {
  duck = await import(process.env.DUCKDB_NODE_API ? pathToFileURL(process.env.DUCKDB_NODE_API).href : ('@duckdb/node-api' as string));
} catch {
  duck = null;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'preprocess-cli-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const expected = expectedColumns(SAMPLE_10K);

function cli(args: string[], opts: { input?: string } = {}) {
  const r = spawnSync(process.execPath, [PIPELINE_BIN, ...args], { encoding: 'utf8', input: opts.input, maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The sample repeated: big enough to be killed mid-run. */
const big = path.join(tmp, 'big.tsv');
const REPEATS = 10;
fs.writeFileSync(big, fs.readFileSync(SAMPLE_10K).toString('latin1').repeat(REPEATS), 'latin1');

function dirContent(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).sort()) out[f] = createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex');
  return out;
}

function runUntilKilled(args: string[], afterMs: number): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [PIPELINE_BIN, ...args], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), afterMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

for (const format of ['parquet', 'arrow']) {
  t.test(`${format}: killed with SIGKILL at random moments and rerun, ends with exactly the shards of an uninterrupted run`, { timeout: 180_000 }, async (t) => {
    const args = (out: string) => ['preprocess', '--input', big, '--out', out, '--format', format, '--shard-rows', '5000', '--concurrency', '2', '-q'];
    const ref = path.join(tmp, `ref-${format}`);
    const t0 = Date.now();
    const r = cli(args(ref));
    const refMs = Date.now() - t0;
    t.equal(r.code, 0, r.stderr);
    const refContent = dirContent(ref);
    t.equal(Object.keys(refContent).length, 1 + 2 * REPEATS, 'manifest and one shard per 5,000 rows');
    let killedMidway = 0;
    for (let trial = 0; trial < 2; trial++) {
      const out = path.join(tmp, `kill-${format}-${trial}`);
      // Several kills per trial, each at a random moment of a run that resumes the previous one.
      for (let k = 0; k < 2; k++) {
        // refMs includes node's start-up; early kills find nothing committed, late ones most shards.
        const at = refMs * (0.3 + 0.65 * Math.random());
        const res = await runUntilKilled(args(out), at);
        if (res.signal === 'SIGKILL') killedMidway++;
      }
      const again = cli(args(out));
      t.equal(again.code, 0, again.stderr);
      const s = JSON.parse(again.stdout);
      t.equal(s.rows, REPEATS * 10000);
      t.same(dirContent(out), refContent, `trial ${trial}: byte-identical shards and manifest`);
    }
    t.ok(killedMidway > 0, `${killedMidway} runs were killed mid-way`);
    const got = await collect(readFeatureBatches(ref));
    t.equal(got.rows, REPEATS * 10000);
    t.equal(got.cats[2][10000 * 7 + 123], expected.cats[2][123], 'repeat 8 holds the sample again');
  });
}

t.test('a different config on an existing output stops with a clear error unless --overwrite', async (t) => {
  const out = path.join(tmp, 'cfg');
  t.equal(cli(['preprocess', '--input', SAMPLE_10K, '--out', out, '--shard-rows', '4000', '-q']).code, 0);
  const before = dirContent(out);
  const r = cli(['preprocess', '--input', SAMPLE_10K, '--out', out, '--shard-rows', '5000', '--format', 'arrow', '-q']);
  t.equal(r.code, 1);
  t.match(r.stderr, /different preprocess config \(differs in format, shardRows\).*--overwrite/);
  t.same(dirContent(out), before, 'output untouched');
  const again = cli(['preprocess', '--input', SAMPLE_10K, '--out', out, '--shard-rows', '4000', '-q']);
  t.equal(again.code, 0);
  t.match(JSON.parse(again.stdout), { rows: 10000, shards: 3, newRows: 0, resumed: true }, 'same config: already complete');
  const o = cli(['preprocess', '--input', SAMPLE_10K, '--out', out, '--shard-rows', '5000', '--format', 'arrow', '--overwrite', '-q']);
  t.equal(o.code, 0, o.stderr);
  t.same(fs.readdirSync(out).sort(), ['_manifest.json', 'part-00000.arrow', 'part-00001.arrow']);
  t.equal(firstDifference(await collect(readFeatureBatches(out)), expected), null);
});

t.test('--on-bad-row fail stops naming file, line, field and reason, and commits nothing', async (t) => {
  const lines = fs.readFileSync(SAMPLE_10K, 'latin1').split('\n');
  lines[8500] = lines[8500].replace(/^([01])\t[^\t]*\t/, '$1\tx7\t'); // i1 non-numeric, row 8501
  const bad = path.join(tmp, 'bad.tsv');
  fs.writeFileSync(bad, lines.join('\n'), 'latin1');
  const out = path.join(tmp, 'fail');
  const r = cli(['preprocess', '--input', bad, '--out', out, '--shard-rows', '1000', '--concurrency', '1', '-q']);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`${bad}, line 8501, field i1: .*bad-int`));
  t.same(fs.readdirSync(out), [], 'no shard, temp file or manifest');

  // On an interrupted output of the same config, the failed run leaves it as it was.
  const skipOut = path.join(tmp, 'fail-after-resume');
  fs.mkdirSync(skipOut);
  t.equal(cli(['preprocess', '--input', bad, '--out', skipOut, '--shard-rows', '1000', '--concurrency', '1', '-q']).code, 1);
  t.same(fs.readdirSync(skipOut), []);
});

t.test('--on-bad-row skip counts rejects by reason and writes them with reasons', async (t) => {
  const lines = fs.readFileSync(SAMPLE_10K, 'latin1').split('\n');
  lines[10] = lines[10].replace(/^([01])\t[^\t]*\t/, '$1\tx7\t');
  lines[20] = '2' + lines[20].slice(1);
  lines[30] = lines[30] + '\textra\tfields';
  const bad = path.join(tmp, 'skip.tsv');
  fs.writeFileSync(bad, lines.join('\n'), 'latin1');
  const out = path.join(tmp, 'skip');
  const rej = path.join(tmp, 'rejects.tsv');
  const r = cli(['preprocess', '--input', bad, '--out', out, '--on-bad-row', 'skip', '--rejects', rej, '-q']);
  t.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  t.match(s, { rows: 9997, rejected: 3, rejects: { 'bad-int': 1, 'bad-label': 1, 'too-many-fields': 1 } });
  t.match(fs.readFileSync(rej, 'utf8'), /\t11\tbad-int\ti1\t[\s\S]*\t21\tbad-label\tlabel\t[\s\S]*\t31\ttoo-many-fields\t/);
  t.same((await readManifest(out)).rejected, { 'bad-int': 1, 'bad-label': 1, 'too-many-fields': 1 });
});

t.test('validates options with clear messages', async (t) => {
  t.match(cli(['preprocess', '--input', SAMPLE_10K, '--out', tmp + '/v', '--shard-rows=-3']), { code: 2, stderr: /Invalid option shard-rows: must be a positive integer, got "-3"/ });
  t.match(cli(['preprocess', '--input', SAMPLE_10K]), { code: 2, stderr: /--out DIR or --to -/ });
  t.match(cli(['preprocess', '--input', SAMPLE_10K, '--out', tmp + '/v', '--format', 'csv']), { code: 2, stderr: /Invalid option format/ });
  t.match(cli(['preprocess', '--input', SAMPLE_10K, '--out', tmp + '/v', '--buckets', '1,2']), { code: 2, stderr: /Invalid option buckets/ });
  t.match(cli(['preprocess', '--help']), { code: 0, stdout: /--shard-rows N/ });
});

t.test('--to - streams Arrow IPC that readFeatureBatches reads from stdin, and stats agrees', async (t) => {
  const r = spawnSync(process.execPath, [PIPELINE_BIN, 'preprocess', '--input', SAMPLE_10K, '--to', '-', '-q'], { maxBuffer: 64 << 20 });
  t.equal(r.status, 0);
  const { Readable } = await import('node:stream');
  const got = await collect(readFeatureBatches('-', { stdin: Readable.from([r.stdout]) }));
  t.equal(firstDifference(got, expected), null);
  const fromStream = JSON.parse(spawnSync(process.execPath, [PIPELINE_BIN, 'stats', '--input', '-'], { input: r.stdout, encoding: 'utf8' }).stdout);
  const fromTsv = JSON.parse(cli(['stats', '--input', SAMPLE_10K]).stdout);
  const fromShards = JSON.parse(cli(['stats', '--input', path.join(tmp, 'ref-parquet')]).stdout);
  const distinct = (col: Uint32Array) => new Set(col).size;
  t.equal(fromTsv.rows, 10000);
  t.equal(fromTsv.positives, expected.label!.reduce((a, b) => a + b, 0));
  t.same(fromTsv.distinct, Object.fromEntries(expected.cats.map((c, i) => [`c${i + 1}`, distinct(c)])));
  t.equal(fromShards.rows, REPEATS * 10000);
  t.same(fromShards.distinct, fromTsv.distinct, 'repeats add no new values');
  t.equal(fromShards.positives, REPEATS * fromTsv.positives);
  delete fromTsv.rejected;
  t.same({ ...fromStream, input: null }, { ...fromTsv, input: null }, 'stats of the stream = stats of the TSV');
});

for (const concurrency of ['1', '2']) t.test(`keeps memory bounded when stdout is read slowly (--concurrency ${concurrency})`, async (t) => {
  // The input four times over: ~63 MB of Arrow output, far more than the child's baseline RSS.
  // With parse workers (--concurrency 2) the baseline is ~20 MB higher: eight times over
  // (~126 MB of output) and a 180 MB bound keep the test as sharp.
  const copies = concurrency === '1' ? 4 : 8;
  const bound = concurrency === '1' ? 150 : 180;
  // Through `env -u NODE_OPTIONS`: tap's process-info hooks put an --import into every
  // child's NODE_OPTIONS (even one we clear here) and add ~100 MB to the child and each
  // of its threads; this test is about the pipeline's memory, not tap's.
  const child = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, PIPELINE_BIN, 'preprocess', ...Array.from({ length: copies }, () => ['--input', big]).flat(), '--to', '-', '-q', '--concurrency', concurrency], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let maxRss = 0;
  let bytes = 0;
  const statusFile = `/proc/${child.pid}/status`;
  const sample = () => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(statusFile, 'utf8'));
      if (m) maxRss = Math.max(maxRss, Number(m[1]) * 1024);
    } catch {
      // process gone
    }
  };
  const timer = setInterval(sample, 50);
  // Read 64 KiB every 20 ms (~3 MB/s) for 3 s: without backpressure the child would
  // parse ahead and hold tens of MB of encoded batches.
  const out = child.stdout!;
  out.pause();
  const reader = setInterval(() => {
    let c;
    while ((c = out.read(65536)) !== null) {
      bytes += c.length;
      break;
    }
  }, 20);
  await new Promise<void>((resolve) => setTimeout(resolve, 3000));
  const rssWhileSlow = maxRss;
  clearInterval(reader);
  out.resume();
  out.on('data', (c: Buffer) => (bytes += c.length));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(timer);
  t.equal(code, 0);
  t.ok(bytes > copies * REPEATS * 10000 * 150, `read the whole stream (${bytes} bytes)`);
  t.ok(rssWhileSlow > 0 && rssWhileSlow < bound * 1024 * 1024, `child RSS while the reader was slow: ${(rssWhileSlow / 1048576).toFixed(0)} MB`);
});

t.test('interop: parquetjs-lite reads our Parquet shards with identical values', async (t) => {
  const require = createRequire(import.meta.url);
  const parquet = require('parquetjs-lite');
  const dir = path.join(tmp, 'interop');
  t.equal(cli(['preprocess', '--input', SAMPLE_10K, '--out', dir, '--shard-rows', '4000', '-q']).code, 0);
  const m = await readManifest(dir);
  let row = 0;
  let mismatches = 0;
  for (const sh of m.shards) {
    const reader = await parquet.ParquetReader.openFile(path.join(dir, sh.file));
    t.equal(Number(reader.getRowCount()), sh.rows);
    const schema = reader.getSchema().schema;
    t.match(schema.c1, { type: 'UINT_32' });
    t.match(schema.label, { type: 'UINT_8' });
    const cursor = reader.getCursor();
    let rec;
    while ((rec = await cursor.next())) {
      if (rec.label !== expected.label![row]) mismatches++;
      for (let i = 0; i < 13; i++) if (Math.fround(rec[`i${i + 1}`]) !== expected.dense[i][row]) mismatches++;
      // parquetjs-lite has no converter for UINT_32 and hands back the stored INT32 bits
      // signed; >>> 0 reads the same 32 bits unsigned (DuckDB/pyarrow do this themselves).
      for (let i = 0; i < 26; i++) if (rec[`c${i + 1}`] >>> 0 !== expected.cats[i][row]) mismatches++;
      row++;
    }
    await reader.close();
  }
  t.equal(row, 10000);
  t.equal(mismatches, 0);
});

t.test('interop: DuckDB reads our Parquet shards', { skip: duck ? false : '@duckdb/node-api is not installed (npm install --no-save @duckdb/node-api to run this test)' }, async (t) => {
  const dir = path.join(tmp, 'ref-parquet');
  const inst = await duck.DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  const rows = (await con.runAndReadAll(
    `select any_value(typeof(label)), any_value(typeof(i1)), any_value(typeof(c1)), count(*), sum(label), max(c26) from read_parquet('${dir}/*.parquet')`,
  )).getRows();
  const [lt, it, ct, n, pos, maxC26] = rows[0];
  t.same([lt, it, ct], ['UTINYINT', 'FLOAT', 'UINTEGER']);
  t.equal(Number(n), REPEATS * 10000);
  t.equal(Number(pos), REPEATS * expected.label!.reduce((a, b) => a + b, 0));
  t.equal(Number(maxC26), Math.max(...expected.cats[25]));
});

t.test('several inputs after one --input, positional inputs and a quoted glob all mean the same files, named in the manifest', async (t) => {
  const parts = path.join(tmp, 'parts');
  fs.mkdirSync(parts);
  const lines = fs.readFileSync(SAMPLE_10K, 'latin1').split('\n').filter(Boolean);
  const files = [0, 1, 2].map((d) => path.join(parts, `day_${d}.tsv`));
  files.forEach((f, d) => fs.writeFileSync(f, lines.slice(d * 100, (d + 1) * 100).join('\n') + '\n', 'latin1'));
  const forms: [string, string[]][] = [
    ['one --input, several paths (an unquoted shell glob)', ['--input', ...files]],
    ['positional paths', [...files]],
    ['a quoted glob', ['--input', path.join(parts, 'day_*.tsv')]],
  ];
  for (const [name, args] of forms) {
    const out = path.join(tmp, `multi-${forms.findIndex((f) => f[0] === name)}`);
    const r = cli(['preprocess', ...args, '--out', out, '--format', 'arrow', '--shard-rows', '150', '-q']);
    t.equal(r.code, 0, `${name}: ${r.stderr}`);
    const m = await readManifest(out);
    t.same(m.config.inputs, files, `${name}: the manifest lists the files in order`);
    t.equal(m.rows, 300, name);
    t.same(
      m.shards.map((s) => s.source.map((x) => [path.basename(x.file), x.firstLine, x.lastLine])),
      [[['day_0.tsv', 1, 100], ['day_1.tsv', 1, 50]], [['day_1.tsv', 51, 100], ['day_2.tsv', 1, 100]]],
      `${name}: each shard says which lines of which file it holds`,
    );
  }
  const none = cli(['preprocess', '--input', path.join(parts, 'night_*.tsv'), '--out', path.join(tmp, 'none'), '-q']);
  t.equal(none.code, 1);
  t.match(none.stderr, /night_\*\.tsv: no file matches this pattern/);
});
