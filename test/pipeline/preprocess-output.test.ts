/**
 * The output directory of preprocess: one writer at a time, nothing deleted that a
 * run did not write, and a resume that checks what the manifest lists.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { preprocess } from '../../pipeline/preprocess.js';
import { readManifest, writeManifest, type Manifest } from '../../io/manifest.js';
import { LOCK_NAME } from '../../io/lock.js';
import { SAMPLE_10K } from '../helpers/samples.js';

const opts = { inputs: [SAMPLE_10K], shardRows: 2000, concurrency: 1 };
const content = (dir: string) =>
  Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex')]));

let ref: Record<string, string>;
const refDir = path.join(t.testdirName, 'ref');
t.before(async () => {
  fs.rmSync(refDir, { recursive: true, force: true });
  fs.mkdirSync(refDir, { recursive: true });
  await preprocess({ ...opts, out: refDir });
  ref = content(refDir);
});

t.test('a second writer into the same --out is refused naming the first; the first completes whole', async (t) => {
  const out = t.testdir();
  const first = preprocess({ ...opts, out, shardRows: 500 });
  // Wait for the first run's lock: its event is the file appearing.
  await new Promise<void>((resolve) => {
    const w = fs.watch(out, () => fs.existsSync(path.join(out, LOCK_NAME)) && (w.close(), resolve()));
    if (fs.existsSync(path.join(out, LOCK_NAME))) (w.close(), resolve());
  });
  await t.rejects(preprocess({ ...opts, out, shardRows: 500 }), { code: 'ERR_LOCKED', message: new RegExp(`is in use by another run: pid ${process.pid} on host .*, started `) });
  const s = await first;
  t.equal(s.rows, 10000);
  const m = await readManifest(out);
  t.ok(m.complete);
  t.ok(m.shards.every((sh) => fs.existsSync(path.join(out, sh.file))), 'every listed shard exists');
  t.notOk(fs.existsSync(path.join(out, LOCK_NAME)), 'lock released');
});

t.test('a lock left by a dead run is taken over, and the run resumes', async (t) => {
  const out = t.testdir();
  fs.writeFileSync(path.join(out, LOCK_NAME), JSON.stringify({ pid: 2 ** 22 + 12345, host: (await import('node:os')).hostname(), started: 'then', command: 'preprocess' }));
  await preprocess({ ...opts, out });
  t.same(content(out), ref);
});

t.test('a foreign shard-named file in --out is refused, untouched; --overwrite replaces it', async (t) => {
  const out = t.testdir({ 'part-00007.parquet': 'not ours' });
  await t.rejects(preprocess({ ...opts, out }), { code: 'ERR_OUTPUT_EXISTS', message: /part-00007\.parquet.*never deletes files it did not write/ });
  t.equal(fs.readFileSync(path.join(out, 'part-00007.parquet'), 'utf8'), 'not ours');
  t.same(fs.readdirSync(out), ['part-00007.parquet'], 'nothing written either');
  // In an existing output, an unlisted shard that no run recorded as its own is foreign too.
  const out2 = t.testdir();
  await preprocess({ ...opts, out: out2 });
  fs.writeFileSync(path.join(out2, 'part-00009.parquet'), 'mine');
  await t.rejects(preprocess({ ...opts, out: out2 }), { code: 'ERR_OUTPUT_EXISTS' });
  await preprocess({ ...opts, out, overwrite: true });
  t.same(content(out), ref);
  fs.writeFileSync(path.join(out, 'notes.txt'), 'a user file of another name is left alone');
  await preprocess({ ...opts, out, overwrite: true });
  t.ok(fs.existsSync(path.join(out, 'notes.txt')));
});

t.test('a kill during rollback: every intermediate state resumes to the reference output', async (t) => {
  // The rollback's states, in its order: (1) manifest back to before, this run's shards
  // named pending; (2) some of them deleted; (3) all deleted; (4) manifest gone.
  const full = await readManifest(refDir);
  const partial: Manifest = { ...full, complete: false, rows: 4000, shards: full.shards.slice(0, 2) };
  for (const deleted of [0, 1, 3]) {
    const out = t.testdir();
    for (const sh of full.shards) fs.copyFileSync(path.join(refDir, sh.file), path.join(out, sh.file));
    const mine = full.shards.slice(2).map((s) => s.file);
    await writeManifest(out, { ...partial, pending: mine });
    for (const f of mine.slice(0, deleted)) fs.rmSync(path.join(out, f));
    await preprocess({ ...opts, out });
    t.same(content(out), ref, `${deleted} of this run's shards deleted when killed`);
  }
});

t.test('a resume checks the listed shards: a missing or resized one is an error, not a hole', async (t) => {
  const full = await readManifest(refDir);
  const out = t.testdir();
  for (const sh of full.shards.slice(0, 3)) fs.copyFileSync(path.join(refDir, sh.file), path.join(out, sh.file));
  await writeManifest(out, { ...full, complete: false, rows: 6000, shards: full.shards.slice(0, 3) });
  fs.rmSync(path.join(out, full.shards[1].file));
  await t.rejects(preprocess({ ...opts, out }), { code: 'ERR_RESUME', context: { shard: full.shards[1].file }, message: /missing/ });
  fs.copyFileSync(path.join(refDir, full.shards[1].file), path.join(out, full.shards[1].file));
  fs.appendFileSync(path.join(out, full.shards[2].file), 'x');
  await t.rejects(preprocess({ ...opts, out }), { code: 'ERR_RESUME', context: { shard: full.shards[2].file }, message: /bytes/ });
});

t.test('--out that is a file: one line naming it', async (t) => {
  const dir = t.testdir({ f: 'x' });
  await t.rejects(preprocess({ ...opts, out: path.join(dir, 'f') }), { code: 'ERR_OUTPUT', message: /f: exists and is not a directory/ });
});

t.test('a resume refuses an input changed since, naming it: same size, or only touched', async (t) => {
  const dir = t.testdir();
  const input = path.join(dir, 'in.tsv');
  fs.copyFileSync(SAMPLE_10K, input);
  const out = path.join(dir, 'out');
  await preprocess({ ...opts, inputs: [input], out });
  const m = await readManifest(out);
  t.match(m.config.inputFingerprints, [{ size: fs.statSync(input).size, head: /^[0-9a-f]{8}$/, tail: /^[0-9a-f]{8}$/ }]);
  // Pretend the run was killed half-way, then change the input without changing its size.
  await writeManifest(out, { ...m, complete: false });
  const b = fs.readFileSync(input);
  const at = b.length - 100;
  const orig = b[at];
  b[at] = orig === 0x31 ? 0x32 : 0x31;
  const stat = fs.statSync(input);
  fs.writeFileSync(input, b);
  fs.utimesSync(input, stat.atime, stat.mtime);
  await t.rejects(preprocess({ ...opts, inputs: [input], out }), { code: 'ERR_INPUT_CHANGED', context: { file: path.resolve(input) }, message: /in\.tsv: changed since the run that wrote .*content changed \(same size\).*--overwrite/ });
  b[at] = orig; // put it back, but newer
  fs.writeFileSync(input, b);
  await t.rejects(preprocess({ ...opts, inputs: [input], out }), { code: 'ERR_INPUT_CHANGED', message: /modified since/ });
  await writeManifest(out, m); // complete: a rerun must not say "already complete" about a changed input either
  await t.rejects(preprocess({ ...opts, inputs: [input], out }), { code: 'ERR_INPUT_CHANGED' });
  const s = await preprocess({ ...opts, inputs: [input], out, overwrite: true });
  t.equal(s.rows, 10000);
});
