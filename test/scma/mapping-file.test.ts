import t from 'tap';
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { loadMapping, loadPartial, writeMapping, writePartial } from '../../scma/mapping-file.js';
import { buildMapping, MinHashReducer } from '../../scma/reduce.js';
import { randomBatches, rebatch } from './helpers.js';

const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'mapping-file-'));
t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
const file = (name: string) => path.join(dir, name);
const input = randomBatches(6000, 1000, 11);

t.test('round-trips codes, keys and metadata, across record batches', async (t) => {
  const m = await buildMapping(input, { dim: 8, numHash: 3, sample: 2500, seed: 4 });
  const bytes = await writeMapping(file('rt.arrow'), m, { batchRows: 1000 });
  t.equal(bytes, (await fsp.stat(file('rt.arrow'))).size);
  const l = await loadMapping(file('rt.arrow'), { dim: 8 });
  t.same(l.meta, m.meta);
  t.same(l.meta, { dim: 8, numHash: 3, sample: 2500, seed: 4, hashFamily: l.meta.hashFamily, version: 1, values: m.values.length, sampledRows: 2500, inputRows: 6000 });
  t.ok(m.meta.values > 3000, `${m.meta.values} values, several batches`);
  t.same(l.codes, m.codes);
  t.same(l.values, m.values);
  t.same(l.features, m.features);
  const a = new Uint32Array(8);
  const b = new Uint32Array(8);
  for (const [f, v] of [[0, input[0].cats[0][0]], [25, input[3].cats[25][7]], [4, 123_456_789]]) {
    m.codesInto(f, v, a, 0);
    l.codesInto(f, v, b, 0);
    t.same(b, a, `codes of (${f}, ${v})`);
  }
});

t.test('same input and seed give byte-identical files; another seed does not', async (t) => {
  const opts = { dim: 16, sample: 3000, seed: 9 };
  await writeMapping(file('a.arrow'), await buildMapping(input, opts));
  await writeMapping(file('b.arrow'), await buildMapping(rebatch(input, 700), opts));
  await writeMapping(file('c.arrow'), await buildMapping(input, { ...opts, seed: 10 }));
  t.ok(readFileSync(file('a.arrow')).equals(readFileSync(file('b.arrow'))), 'identical bytes');
  t.notOk(readFileSync(file('a.arrow')).equals(readFileSync(file('c.arrow'))));
});

t.test('split-then-merge through partial files equals one pass, byte for byte', async (t) => {
  const opts = { sample: 2000, seed: 3 };
  const whole = new MinHashReducer(opts);
  input.forEach((b) => whole.add(b));
  await writeMapping(file('whole.arrow'), whole.toMapping({ dim: 8 }));
  // Two parts over disjoint rows, each a separate "process" writing a partial.
  for (const part of [0, 1]) {
    const r = new MinHashReducer(opts);
    input.forEach((b, i) => i % 2 === part && r.add(b, i * 1000));
    await writePartial(file(`part${part}.arrow`), r, { batchRows: 300 });
  }
  const merged = await loadPartial(file('part1.arrow'));
  merged.merge(await loadPartial(file('part0.arrow')));
  t.equal(merged.inputRows, 6000);
  await writeMapping(file('merged.arrow'), merged.toMapping({ dim: 8 }));
  t.ok(readFileSync(file('merged.arrow')).equals(readFileSync(file('whole.arrow'))), 'identical bytes');
  // A partial and the merged partial round-trip too.
  await writePartial(file('merged-partial.arrow'), merged);
  t.same((await loadPartial(file('merged-partial.arrow'))).rowsSorted(), whole.rowsSorted());
});

t.test('an empty mapping round-trips', async (t) => {
  const m = new MinHashReducer({ sample: 10 }).toMapping({ dim: 4 });
  await writeMapping(file('empty.arrow'), m);
  const l = await loadMapping(file('empty.arrow'));
  t.equal(l.meta.values, 0);
  const out = new Uint32Array(4);
  l.codesInto(1, 2, out, 0);
  t.notSame(Array.from(out), [0, 0, 0, 0], 'everything falls back to HashNet');
});

t.test('bad mapping files: clear errors naming the file', async (t) => {
  const m = await buildMapping(input, { dim: 8, sample: 1000, seed: 1 });
  await writeMapping(file('d8.arrow'), m);
  await t.rejects(loadMapping(file('d8.arrow'), { dim: 16 }), { code: 'ERR_MAPPING_DIM', message: /d8\.arrow: mapping has d=8 codes per value but d=16 was asked for/ });

  const bytes = readFileSync(file('d8.arrow'));
  for (const cut of [bytes.length - 1, Math.floor(bytes.length / 2), 100, 3]) {
    await fsp.writeFile(file('cut.arrow'), bytes.subarray(0, cut));
    await t.rejects(loadMapping(file('cut.arrow')), { code: 'ERR_MAPPING', message: /cut\.arrow: (truncated|not a mapping)/ }, `cut at ${cut} bytes`);
  }
  // Footer intact but a body byte range zeroed: still refused, not silently wrong.
  const corrupt = Buffer.from(bytes);
  corrupt.fill(0, 8, 400);
  await fsp.writeFile(file('corrupt.arrow'), corrupt);
  await t.rejects(loadMapping(file('corrupt.arrow')), { code: 'ERR_MAPPING', message: /corrupt\.arrow/ });

  await fsp.writeFile(file('other.arrow'), tableToIPC(tableFromArrays({ x: new Uint32Array([1, 2]) }), 'file'));
  await t.rejects(loadMapping(file('other.arrow')), { message: /other\.arrow: not a scma-mapping file/ });
  await fsp.writeFile(file('text.arrow'), 'hello');
  await t.rejects(loadMapping(file('text.arrow')), { message: /text\.arrow: not a mapping file/ });
  await t.rejects(loadMapping(file('missing.arrow')), { message: /missing\.arrow: cannot read mapping file/ });

  const r = new MinHashReducer({ sample: 100 });
  r.add(input[0]);
  await writePartial(file('partial.arrow'), r);
  await t.rejects(loadMapping(file('partial.arrow')), { message: /partial\.arrow: is a partial sample/ });
  await t.rejects(loadPartial(file('d8.arrow')), { message: /d8\.arrow: not a scma-sample file/ });
});
