/**
 * Nothing damaged is read as data: the manifest is checked against itself, each
 * shard against its size and CRC-32, and a mapping against the checksum in its
 * metadata; each error names the file and shard.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { preprocess } from '../../pipeline/preprocess.js';
import { readFeatureBatches, readManifestShards } from '../../io/read-shards.js';
import { readManifest, MANIFEST_FILE } from '../../io/manifest.js';
import { computeMapping } from '../../pipeline/minhash.js';
import { loadMapping } from '../../scma/mapping-file.js';
import { mulberry32 } from '../../core/hash.js';
import { runPipeline } from '../helpers/cli.js';
import { SAMPLE_10K } from '../helpers/samples.js';

const dir = t.testdir();
const drain = async (it: AsyncIterable<{ rows: number }>) => {
  let n = 0;
  for await (const b of it) n += b.rows;
  return n;
};
const copyDir = (from: string, to: string) => fs.cpSync(from, to, { recursive: true });

/** Flips `n` bytes at random places of buf[from, to) (each XOR a non-zero byte). */
function flip(file: string, n: number, seed: number, from = 0, to?: number): void {
  const b = fs.readFileSync(file);
  const rand = mulberry32(seed);
  const end = to ?? b.length;
  for (let i = 0; i < n; i++) b[from + Math.floor(rand() * (end - from))] ^= 1 + Math.floor(rand() * 255);
  fs.writeFileSync(file, b);
}

const outs: Record<string, string> = {};
t.before(async () => {
  for (const format of ['arrow', 'parquet'] as const) {
    outs[format] = path.join(dir, format);
    await preprocess({ inputs: [SAMPLE_10K], out: outs[format], format, shardRows: 3000, concurrency: 1 });
  }
});

t.test('every shard has its CRC-32 in the manifest', async (t) => {
  const m = await readManifest(outs.arrow);
  t.ok(m.shards.every((s) => /^[0-9a-f]{8}$/.test(s.crc32!)));
  t.equal(await drain(readFeatureBatches(outs.arrow)), 10000);
});

t.test('the manifest is checked against itself: total, contiguity, duplicates', async (t) => {
  const edits: [string, (m: any) => void, RegExp][] = [
    ['total rows edited', (m) => (m.rows = 20000), /rows is 20000 but the shards hold 10000/],
    ['a shard listed twice', (m) => m.shards.splice(1, 0, m.shards[1]), /listed twice/],
    ['a gap in firstRow', (m) => (m.shards[2].firstRow += 1), /firstRow is 6001, the shards before it end at row 6000/],
    ['rows of a shard edited', (m) => ((m.shards[0].rows += 5), (m.rows += 5)), /firstRow is 3000, the shards before it end at row 3005/],
    ['a checksum that is no checksum', (m) => (m.shards[0].crc32 = 'xyz'), /crc32 is "xyz"/],
  ];
  for (const [name, edit, re] of edits) {
    const d = path.join(dir, `m-${name.replace(/ /g, '-')}`);
    copyDir(outs.arrow, d);
    const m = JSON.parse(fs.readFileSync(path.join(d, MANIFEST_FILE), 'utf8'));
    edit(m);
    fs.writeFileSync(path.join(d, MANIFEST_FILE), JSON.stringify(m));
    await t.rejects(drain(readFeatureBatches(d)), { code: 'ERR_MANIFEST', message: re }, name);
  }
});

t.test('a shard with 64 bytes flipped is named; --no-verify reads past the check', async (t) => {
  for (const format of ['arrow', 'parquet'] as const) {
    const d = path.join(dir, `flip-${format}`);
    copyDir(outs[format], d);
    const shard = (await readManifest(d)).shards[1].file;
    flip(path.join(d, shard), 64, 1);
    await t.rejects(drain(readFeatureBatches(d)), { code: 'ERR_CHECKSUM', context: { shard }, message: new RegExp(`${shard}.*damaged shard: crc32 [0-9a-f]{8}, the manifest says`) }, format);
    const m = await readManifest(d);
    await t.rejects(drain(readManifestShards(d, m, m.shards.slice(1, 2))), { code: 'ERR_CHECKSUM' }, `${format}: a part too`);
    await drain(readManifestShards(d, m, m.shards.slice(0, 1)));
    // Unchecked, the damage either breaks decoding or passes: either way it is the user's call.
    await drain(readFeatureBatches(d, { verify: false })).catch(() => {});
    fs.appendFileSync(path.join(d, shard), 'x');
    await t.rejects(drain(readFeatureBatches(d)), { code: 'ERR_CHECKSUM', message: /bytes, the manifest says/ });
  }
});

t.test('a mapping with 400 bytes flipped in its contents is named; verify: false loads it', async (t) => {
  const file = path.join(dir, 'map.arrow');
  await computeMapping({ input: outs.arrow, out: file, dim: 4, sample: 2000 });
  const good = await loadMapping(file);
  t.match(good.contentChecksum, /^[0-9a-f]{8}$/);
  const bytes = fs.readFileSync(file);
  // Flip inside the codes column's body (past the schema, before the footer), where a
  // flip changes values but not the file's structure.
  const bad = path.join(dir, 'map-bad.arrow');
  fs.writeFileSync(bad, bytes);
  flip(bad, 400, 2, Math.floor(bytes.length * 0.4), Math.floor(bytes.length * 0.8));
  await t.rejects(loadMapping(bad), { code: 'ERR_CHECKSUM', context: { file: bad }, message: /damaged mapping file: crc32 of its contents is [0-9a-f]{8}, its metadata says/ });
  const unchecked = await loadMapping(bad, { verify: false });
  t.not(unchecked.contentChecksum, good.contentChecksum);
});

t.test('CLI: stats names the damaged shard in one line; --no-verify skips the check', async (t) => {
  const d = path.join(dir, 'cli');
  copyDir(outs.arrow, d);
  const shard = (await readManifest(d)).shards[2].file;
  // Flip bytes in the middle of the column bodies (they are most of the file), so that decoding still works.
  const size = fs.statSync(path.join(d, shard)).size;
  flip(path.join(d, shard), 8, 3, Math.floor(size * 0.4), Math.floor(size * 0.8));
  const r = await runPipeline(['stats', '--input', d]);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`^pipeline stats: .*${shard}, shard ${shard}: damaged shard: crc32 .*\\n$`));
  t.equal(r.stderr.split('\n').length, 2, 'one line');
  const ok = await runPipeline(['stats', '--input', d, '--no-verify']);
  t.equal(ok.code, 0, ok.stderr);
});
