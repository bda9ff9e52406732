import t from 'tap';
import { Readable, Writable } from 'node:stream';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import {
  KAGGLE_CARDINALITIES,
  TERABYTE_CARDINALITIES,
  TERABYTE_LABEL_RATE,
  SynthGenerator,
  formatProbs,
  scaledCardinality,
  synthBatches,
  synthRows,
  synthStream,
  writeSynth,
  type SynthBatch,
} from '../../input/synth.js';
import { PipelineError } from '../../core/errors.js';
import { CONTEXT_FEATURES, HIGH_CARD_FEATURES, LATENT_DEFAULTS, LatentClickModel } from '../../input/synth-latent.js';
import { NUM_CAT, NUM_DENSE } from '../../core/schema.js';
import { REPO_ROOT } from '../helpers/paths.js';

function allBytes(opts: Parameters<typeof synthBatches>[0]): Buffer {
  return Buffer.concat([...synthBatches(opts)].map((b) => b.text));
}

/** A Writable that keeps what it is given, optionally slowly, recording its largest backlog. */
function sink(opts: { delayMs?: number; highWaterMark?: number } = {}): Writable & { data: () => Buffer; maxBacklog: number } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    highWaterMark: opts.highWaterMark ?? 16384,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      s.maxBacklog = Math.max(s.maxBacklog, w.writableLength);
      if (opts.delayMs) setTimeout(cb, opts.delayMs);
      else cb();
    },
  });
  const s = Object.assign(w, { data: () => Buffer.concat(chunks), maxBacklog: 0 });
  return s;
}

/** Exact AUC (Mann-Whitney, ties counted half); a local copy so this test needs only the generator. */
function exactAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const idx = Array.from({ length: labels.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let rankSumPos = 0;
  let pos = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j < idx.length && scores[idx[j]] === scores[idx[i]]) j++;
    const midRank = (i + j + 1) / 2;
    for (let k = i; k < j; k++) if (labels[idx[k]] === 1) (rankSumPos += midRank), pos++;
    i = j;
  }
  const neg = labels.length - pos;
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

function spearman(a: number[], b: number[]): number {
  const rank = (x: number[]) => {
    const r = new Array<number>(x.length);
    x.map((v, i) => [v, i] as const)
      .sort((p, q) => p[0] - q[0])
      .forEach(([, i], k) => (r[i] = k));
    return r;
  };
  const ra = rank(a);
  const rb = rank(b);
  const n = a.length;
  const d2 = ra.reduce((s, r, i) => s + (r - rb[i]) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}

t.test('validates options when constructed', async (t) => {
  const bad: [object, RegExp][] = [
    [{ rows: -1, seed: 1 }, /Invalid option rows: must be a non-negative integer, got -1/],
    [{ rows: 1.5, seed: 1 }, /Invalid option rows: must be a non-negative integer, got 1.5/],
    [{ rows: '10', seed: 1 }, /Invalid option rows: must be a non-negative integer, got "10"/],
    [{ rows: NaN, seed: 1 }, /Invalid option rows/],
    [{ rows: 10, seed: 0.5 }, /Invalid option seed: must be an integer, got 0.5/],
    [{ rows: 10 }, /Missing option seed: must be an integer/],
    [{ rows: 10, seed: 1, groups: 0 }, /Invalid option groups/],
    [{ rows: 10, seed: 1, batchRows: 0 }, /Invalid option batchRows/],
  ];
  for (const [opts, re] of bad) {
    const o = opts as { rows: number; seed: number };
    t.throws(() => new SynthGenerator(o), re);
    t.throws(() => synthStream(o), re, 'synthStream validates before any read');
    t.throws(() => synthBatches(o).next(), re);
    await t.rejects(writeSynth({ ...o, out: sink() }), re);
  }
  try {
    new SynthGenerator({ rows: -1, seed: 1 });
  } catch (err) {
    t.ok(err instanceof PipelineError);
    t.equal((err as PipelineError).code, 'ERR_INVALID_OPTION');
  }
  t.equal(allBytes({ rows: 0, seed: 1 }).length, 0, 'zero rows is an empty output');
});

t.test('deterministic by seed, whatever the chunking or the API', async (t) => {
  const rows = 5000;
  const ref = allBytes({ rows, seed: 42 });
  t.equal(ref.toString('latin1').split('\n').length - 1, rows);
  t.ok(allBytes({ rows, seed: 42, batchRows: 777 }).equals(ref), 'batchRows 777');
  t.ok(allBytes({ rows, seed: 42, batchRows: 1 }).equals(ref), 'batchRows 1');
  t.ok(Buffer.from([...synthRows({ rows, seed: 42 })].map((r) => r.line + '\n').join(''), 'latin1').equals(ref), 'synthRows');
  const streamed: Buffer[] = [];
  for await (const chunk of synthStream({ rows, seed: 42, batchRows: 333 })) streamed.push(chunk as Buffer);
  t.ok(Buffer.concat(streamed).equals(ref), 'synthStream');
  const out = sink();
  await writeSynth({ rows, seed: 42, out });
  t.ok(out.data().equals(ref), 'writeSynth');

  t.notOk(allBytes({ rows, seed: 43 }).equals(ref), 'another seed gives other rows');
  t.notOk(allBytes({ rows, seed: 42 + 2 ** 32 }).equals(ref), 'seeds differing above 32 bits differ');
  t.notOk(allBytes({ rows, seed: -42 }).equals(ref), 'negative seeds are seeds');

  const probs = [...synthRows({ rows, seed: 42 })].map((r) => r.prob);
  const again = [...synthBatches({ rows, seed: 42, batchRows: 999 })].flatMap((b) => [...b.probs]);
  t.same(again, probs, 'probabilities are deterministic too');
});

t.test('format: 40 fields, labels 0/1, integers or empty, 8 lowercase hex digits or empty', async (t) => {
  const gen = new SynthGenerator({ rows: 20000, seed: 5 });
  const byValue = new Map<string, string>();
  const byHex = new Map<string, string>();
  let bad = 0;
  let lineCount = 0;
  while (gen.remaining > 0) {
    const b = gen.next(4096);
    const lines = b.text.toString('latin1').split('\n');
    t.equal(lines.pop(), '', 'every line ends with a newline');
    for (let i = 0; i < lines.length; i++, lineCount++) {
      const f = lines[i].split('\t');
      if (f.length !== 1 + NUM_DENSE + NUM_CAT) bad++;
      if (f[0] !== '0' && f[0] !== '1') bad++;
      for (let j = 1; j <= NUM_DENSE; j++) if (!/^(-?\d{1,10})?$/.test(f[j])) bad++;
      for (let c = 0; c < NUM_CAT; c++) {
        const hex = f[1 + NUM_DENSE + c];
        const v = b.latent.values[i * NUM_CAT + c];
        if (!/^([0-9a-f]{8})?$/.test(hex) || (hex === '') !== (v < 0)) bad++;
        if (v < 0) continue;
        // One string per (feature, value) and one value per string: the hex is a bijection of the value index.
        const key = `${c}:${v}`;
        if ((byValue.get(key) ?? hex) !== hex || (byHex.get(`${c}:${hex}`) ?? key) !== key) bad++;
        byValue.set(key, hex);
        byHex.set(`${c}:${hex}`, key);
        if (byValue.size < 50 && gen.hexOf(c, v) !== hex) bad++;
      }
    }
  }
  t.equal(lineCount, 20000);
  t.equal(bad, 0, 'no malformed field');
});

const parsePath = path.join(REPO_ROOT, 'dist/stages/parse.js');
t.test('the ingest parser accepts every row with the same values', { skip: existsSync(parsePath) ? false : 'stages/parse.ts not built' }, async (t) => {
  const { parseTsv } = (await import(pathToFileURL(parsePath).href)) as {
    parseTsv: (o?: object) => NodeJS.ReadWriteStream;
  };
  const rows = 20000;
  const text = allBytes({ rows, seed: 9 });
  const lines = text.toString('latin1').split('\n');
  let n = 0;
  let mismatches = 0;
  type Raw = { rows: number; label: Uint8Array; ints: Float64Array[]; cats: Uint32Array[]; catPresent: Uint8Array[] };
  for await (const raw of Readable.from([text.subarray(0, 100_001), text.subarray(100_001)]).pipe(parseTsv()) as AsyncIterable<Raw>) {
    for (let i = 0; i < raw.rows; i++, n++) {
      const f = lines[n].split('\t');
      if (raw.label[i] !== Number(f[0])) mismatches++;
      for (let j = 0; j < NUM_DENSE; j++) {
        const want = f[1 + j] === '' ? NaN : Number(f[1 + j]);
        if (!Object.is(raw.ints[j][i], want)) mismatches++;
      }
      for (let c = 0; c < NUM_CAT; c++) {
        const hex = f[1 + NUM_DENSE + c];
        if (raw.catPresent[c][i] !== (hex === '' ? 0 : 1) || (hex !== '' && raw.cats[c][i] !== parseInt(hex, 16))) mismatches++;
      }
    }
  }
  t.equal(n, rows, 'every row parsed, none rejected');
  t.equal(mismatches, 0);
});

t.test('statistics match the Kaggle-like profile', async (t) => {
  const rows = 50000;
  for (const seed of [1, 2]) {
    const labels = new Uint8Array(rows);
    const probs = new Float64Array(rows);
    const distinct = Array.from({ length: NUM_CAT }, () => new Set<string>());
    const i5: number[] = [];
    let emptyInts = 0;
    let emptyCats = 0;
    let negatives = 0;
    let r = 0;
    for (const b of synthBatches({ rows, seed })) {
      probs.set(b.probs, r);
      for (const line of b.text.toString('latin1').split('\n')) {
        if (line === '') continue;
        const f = line.split('\t');
        labels[r++] = Number(f[0]);
        for (let j = 1; j <= NUM_DENSE; j++) {
          if (f[j] === '') emptyInts++;
          else if (f[j].startsWith('-')) negatives++;
        }
        if (f[5] !== '') i5.push(Number(f[5]));
        for (let c = 0; c < NUM_CAT; c++) {
          const hex = f[1 + NUM_DENSE + c];
          if (hex === '') emptyCats++;
          else distinct[c].add(hex);
        }
      }
    }
    t.equal(r, rows);
    const labelRate = labels.reduce((s, x) => s + x, 0) / rows;
    const meanProb = probs.reduce((s, x) => s + x, 0) / rows;
    t.ok(Math.abs(labelRate - 0.25) < 0.03, `seed ${seed}: label rate ${labelRate} near 0.25`);
    t.ok(Math.abs(meanProb - labelRate) < 0.01, `seed ${seed}: labels are drawn from the recorded probabilities (${meanProb} vs ${labelRate})`);
    t.ok(Math.abs(emptyInts / (rows * NUM_DENSE) - 0.2) < 0.03, `seed ${seed}: empty integers ${emptyInts / (rows * NUM_DENSE)}`);
    t.ok(Math.abs(emptyCats / (rows * NUM_CAT) - 0.1) < 0.03, `seed ${seed}: empty categoricals ${emptyCats / (rows * NUM_CAT)}`);
    t.ok(negatives > 0, 'some negative counts, as Kaggle i2 has');
    i5.sort((a, b) => a - b);
    const median = i5[i5.length >> 1];
    t.ok(i5[i5.length - 1] > 100 * median, `i5 is heavy-tailed (max ${i5[i5.length - 1]}, median ${median})`);

    const counts = distinct.map((s) => s.size);
    const rho = spearman(counts, [...KAGGLE_CARDINALITIES]);
    t.ok(rho > 0.9, `seed ${seed}: distinct counts ranked like Kaggle's cardinalities (Spearman ${rho.toFixed(3)}): ${counts.join(' ')}`);
    const order = KAGGLE_CARDINALITIES.map((k, i) => [k, i] as const).sort((a, b) => a[0] - b[0]);
    const smallMax = Math.max(...order.slice(0, 10).map(([, i]) => counts[i]));
    const largeMin = Math.min(...order.slice(-5).map(([, i]) => counts[i]));
    t.ok(largeMin > 10 * smallMax, `the 5 largest features have many more values (${largeMin}) than the 10 smallest (${smallMax})`);
    for (let c = 0; c < NUM_CAT; c++) if (counts[c] > scaledCardinality(KAGGLE_CARDINALITIES[c], rows)) t.fail(`c${c + 1} exceeds its cardinality`);

    const auc = exactAuc(labels, probs);
    t.ok(auc > 0.7 && auc < 0.9, `seed ${seed}: oracle AUC ${auc.toFixed(4)} shows a learnable, not trivial, signal`);
  }
});

t.test('Zipf-like value frequencies: a heavy head and a long tail', async (t) => {
  const rows = 50000;
  const counts = new Map<number, number>();
  for (const b of synthBatches({ rows, seed: 3 })) {
    for (let i = 0; i < b.rows; i++) {
      const v = b.latent.values[i * NUM_CAT + 2]; // c3, the largest feature
      if (v >= 0) counts.set(v, (counts.get(v) ?? 0) + 1);
    }
  }
  const freq = [...counts.values()].sort((a, b) => b - a);
  const singletons = freq.filter((c) => c === 1).length;
  t.ok(freq[0] > 50 * (rows / freq.length), `top value ${freq[0]} rows, mean ${(rows / freq.length).toFixed(1)}`);
  t.ok(singletons > 0.3 * freq.length, `many values seen once (${singletons} of ${freq.length})`);
});

t.test('planted structure: values of a hidden group co-occur and move the click probability alike', async (t) => {
  const rows = 50000;
  const G = 256;
  const rowsOf = new Map<number, number[]>();
  const probs = new Float64Array(rows);
  let r = 0;
  for (const b of synthBatches({ rows, seed: 11, groups: G })) {
    probs.set(b.probs, r);
    for (let i = 0; i < b.rows; i++, r++) {
      for (let c = 0; c < NUM_CAT; c++) {
        const v = b.latent.values[i * NUM_CAT + c];
        if (v < 0) continue;
        const key = c * 2 ** 26 + v;
        const list = rowsOf.get(key);
        if (list) list.push(r);
        else rowsOf.set(key, [r]);
      }
    }
  }
  // Values seen often enough to measure, from features with more values than groups (value v belongs to group v mod G).
  const values = [...rowsOf.entries()]
    .filter(([key, list]) => list.length >= 30 && scaledCardinality(KAGGLE_CARDINALITIES[Math.floor(key / 2 ** 26)], rows) >= G)
    .map(([key, list]) => ({ feature: Math.floor(key / 2 ** 26), group: (key % 2 ** 26) % G, rows: new Set(list), ctr: list.reduce((s, i) => s + probs[i], 0) / list.length }));
  const jaccard = (a: Set<number>, b: Set<number>) => {
    let both = 0;
    for (const x of a) if (b.has(x)) both++;
    return both / (a.size + b.size - both);
  };
  // Cross-feature pairs only: two values of one feature never share a row.
  let seed = 12345;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const byGroup = new Map<number, typeof values>();
  for (const v of values) byGroup.set(v.group, [...(byGroup.get(v.group) ?? []), v]);
  const same: number[] = [];
  const diff: number[] = [];
  for (let k = 0; same.length < 3000 && k < 200000; k++) {
    const members = [...byGroup.values()][Math.floor(rand() * byGroup.size)];
    const a = members[Math.floor(rand() * members.length)];
    const b = members[Math.floor(rand() * members.length)];
    if (a.feature !== b.feature) same.push(jaccard(a.rows, b.rows));
  }
  while (diff.length < 3000) {
    const a = values[Math.floor(rand() * values.length)];
    const b = values[Math.floor(rand() * values.length)];
    if (a.feature !== b.feature && a.group !== b.group) diff.push(jaccard(a.rows, b.rows));
  }
  const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
  t.ok(same.length >= 1000, `enough same-group pairs (${same.length})`);
  t.ok(mean(same) > 0.02, `same-group Jaccard ${mean(same).toFixed(4)}`);
  t.ok(mean(same) > 20 * mean(diff), `same-group Jaccard ${mean(same).toFixed(4)} >> different-group ${mean(diff).toFixed(5)}`);

  // Most of the spread of the values' mean click probability is between groups, not within them.
  const all = values.map((v) => v.ctr);
  const grand = mean(all);
  let within = 0;
  for (const members of byGroup.values()) {
    const m = mean(members.map((v) => v.ctr));
    for (const v of members) within += (v.ctr - m) ** 2;
  }
  const total = all.reduce((s, x) => s + (x - grand) ** 2, 0);
  t.ok(1 - within / total > 0.5, `groups explain ${((1 - within / total) * 100).toFixed(1)}% of the per-value click-rate variance`);
});

t.test('synthStream respects backpressure; writeSynth waits for a slow destination', async (t) => {
  let generated = 0;
  const stream = synthStream({ rows: 1_000_000, seed: 1, batchRows: 1000, onProbs: (p) => (generated += p.length) });
  stream.on('data', () => {}).pause();
  await new Promise((r) => setTimeout(r, 100));
  t.ok(generated <= 2000, `without a reader only ${generated} rows were generated`);
  stream.destroy();

  const out = sink({ delayMs: 2, highWaterMark: 16384 });
  const probsOut = sink({ delayMs: 1, highWaterMark: 16384 });
  await writeSynth({ rows: 20000, seed: 4, batchRows: 500, out, probsOut });
  t.ok(out.maxBacklog < 16384 + 500 * 400, `TSV backlog stayed bounded (${out.maxBacklog} bytes)`);
  t.ok(probsOut.maxBacklog < 16384 + 500 * 30, `probability backlog stayed bounded (${probsOut.maxBacklog} bytes)`);
  t.ok(out.data().equals(allBytes({ rows: 20000, seed: 4 })));
  const want = [...synthBatches({ rows: 20000, seed: 4 })].map((b: SynthBatch) => formatProbs(b.probs)).join('');
  t.equal(probsOut.data().toString(), want);
  const lines = want.split('\n');
  t.equal(lines.length, 20001);
  t.ok(lines.slice(0, -1).every((l) => Number(l) > 0 && Number(l) < 1), 'probabilities in (0, 1)');
});

t.test('memory does not grow with the number of rows', async (t) => {
  const heapAfter = async (rows: number) => {
    const stream = synthStream({ rows, seed: 8 });
    let peak = 0;
    let n = 0;
    for await (const chunk of stream) {
      n += (chunk as Buffer).length;
      const m = process.memoryUsage();
      peak = Math.max(peak, m.heapUsed + m.arrayBuffers);
    }
    return { peak, n };
  };
  const small = await heapAfter(20000);
  const big = await heapAfter(400000);
  t.ok(big.n > 15 * small.n);
  t.ok(big.peak - small.peak < 64 * 2 ** 20, `peak heap + buffers ${(small.peak / 2 ** 20).toFixed(0)} MB for 20k rows, ${(big.peak / 2 ** 20).toFixed(0)} MB for 400k`);
});

// ---- synth --model latent (input/synth-latent.ts) ----

/** Rows of the latent mode with their hidden state: group, value index per feature, label, probability. */
function latentRows(rows: number, seed: number, extra: Partial<Parameters<typeof synthBatches>[0]> = {}) {
  const group = new Uint16Array(rows);
  const values = new Int32Array(rows * NUM_CAT);
  const labels = new Uint8Array(rows);
  const probs = new Float64Array(rows);
  let r = 0;
  for (const b of synthBatches({ rows, seed, model: 'latent', ...extra })) {
    group.set(b.latent.group, r);
    values.set(b.latent.values, r * NUM_CAT);
    probs.set(b.probs, r);
    let i = r;
    for (const line of b.text.toString('latin1').split('\n')) if (line !== '') labels[i++] = line.charCodeAt(0) - 48;
    r += b.rows;
  }
  return { group, values, labels, probs };
}

t.test('latent: options are validated', async (t) => {
  t.throws(() => new SynthGenerator({ rows: 10, seed: 1, model: 'fancy' as 'latent' }), /Invalid option model: must be one of default, latent, got "fancy"/);
  t.throws(() => new SynthGenerator({ rows: 10, seed: 1, latent: { pair: 1 } }), /Invalid option latent: applies to model 'latent' only/);
  t.throws(() => new SynthGenerator({ rows: 10, seed: 1, model: 'latent', latent: { inGroup: 1.5 } }), /Invalid option inGroup: must be a number in \[0, 1\], got 1.5/);
  t.throws(() => new SynthGenerator({ rows: 10, seed: 1, model: 'latent', latent: { deviation: -0.1 } }), /Invalid option deviation/);
  t.throws(() => new SynthGenerator({ rows: 10, seed: 1, model: 'latent', latent: { latentDim: 0 } }), /Invalid option latentDim: must be an integer in 1..64/);
  t.throws(() => new SynthGenerator({ rows: 10, seed: 1, model: 'latent', latent: { pair: NaN } }), /Invalid option pair/);
});

t.test('latent: deterministic by seed and chunking; the default mode is unchanged by it', async (t) => {
  const rows = 3000;
  const ref = allBytes({ rows, seed: 9, model: 'latent' });
  t.ok(allBytes({ rows, seed: 9, model: 'latent', batchRows: 101 }).equals(ref), 'batchRows 101');
  t.notOk(allBytes({ rows, seed: 10, model: 'latent' }).equals(ref), 'another seed');
  t.notOk(allBytes({ rows, seed: 9, model: 'latent', latent: { pair: 0.3 } }).equals(ref), 'another knob');
  t.notOk(allBytes({ rows, seed: 9 }).equals(ref), 'not the default mode');
  t.ok(allBytes({ rows, seed: 9, model: 'default' }).equals(allBytes({ rows, seed: 9 })), "model 'default' is the default");
  const out = sink();
  await writeSynth({ rows, seed: 9, model: 'latent', out });
  t.ok(out.data().equals(ref), 'writeSynth writes the same rows');
});

t.test('latent: Kaggle-like label rate, empties and value-frequency profile, with a learnable signal', async (t) => {
  const rows = 40000;
  for (const seed of [1, 2]) {
    const { values, labels, probs } = latentRows(rows, seed);
    const labelRate = labels.reduce((a, b) => a + b, 0) / rows;
    const meanProb = probs.reduce((a, b) => a + b, 0) / rows;
    t.ok(Math.abs(labelRate - 0.25) < 0.03, `seed ${seed}: label rate ${labelRate.toFixed(4)} near 0.25`);
    t.ok(Math.abs(meanProb - labelRate) < 0.01, `seed ${seed}: labels follow the recorded probabilities (${meanProb.toFixed(4)})`);
    // The value-frequency profile is the default mode's: same cardinalities and the same empties.
    const def = [...synthBatches({ rows, seed })].flatMap((b) => [b.latent.values]);
    const defValues = new Int32Array(rows * NUM_CAT);
    let o = 0;
    for (const v of def) (defValues.set(v, o), (o += v.length));
    for (let f = 0; f < NUM_CAT; f++) {
      const distinct = (vals: Int32Array) => new Set(Array.from({ length: rows }, (_, r) => vals[r * NUM_CAT + f]).filter((v) => v >= 0)).size;
      const [a, b] = [distinct(values), distinct(defValues)];
      if (!(a <= 1.5 * b + 5 && b <= 1.5 * a + 5)) t.fail(`c${f + 1}: ${a} distinct values in latent mode, ${b} in default mode`);
      let emptyA = 0;
      let emptyB = 0;
      for (let r = 0; r < rows; r++) (emptyA += values[r * NUM_CAT + f] < 0 ? 1 : 0), (emptyB += defValues[r * NUM_CAT + f] < 0 ? 1 : 0);
      if (Math.abs(emptyA - emptyB) > 4 * Math.sqrt(rows * 0.25) + 5) t.fail(`c${f + 1}: ${emptyA} vs ${emptyB} empty`);
    }
    t.pass('cardinalities and empty rates match the default (Kaggle-like) mode per feature');
    // A heavy head: the top 1% of c3's values cover far more than 1% of its rows.
    const c3 = new Map<number, number>();
    for (let r = 0; r < rows; r++) if (values[r * NUM_CAT + 2] >= 0) c3.set(values[r * NUM_CAT + 2], (c3.get(values[r * NUM_CAT + 2]) ?? 0) + 1);
    const sorted = [...c3.values()].sort((a, b) => b - a);
    const head = sorted.slice(0, Math.ceil(sorted.length / 100)).reduce((a, b) => a + b, 0) / sorted.reduce((a, b) => a + b, 0);
    t.ok(head > 0.1, `seed ${seed}: top 1% of c3's values hold ${(head * 100).toFixed(1)}% of its rows`);
    const auc = exactAuc(labels, probs);
    t.ok(auc > 0.75 && auc < 0.9, `seed ${seed}: oracle AUC ${auc.toFixed(4)}`);
  }
});

t.test("latent: the high-cardinality features' values come from the row's group and co-occur; the others do not", async (t) => {
  const rows = 30000;
  const G = 512;
  const { group, values } = latentRows(rows, 3, { groups: G });
  for (let f = 0; f < NUM_CAT; f++) {
    let present = 0;
    let inGroup = 0;
    for (let r = 0; r < rows; r++) {
      const v = values[r * NUM_CAT + f];
      if (v < 0) continue;
      present++;
      if (v % G === group[r]) inGroup++;
    }
    const share = inGroup / present;
    if (HIGH_CARD_FEATURES.includes(f)) {
      // inGroup picks, plus background picks that land in the group by chance (about 1/G).
      if (Math.abs(share - LATENT_DEFAULTS.inGroup) > 0.03) t.fail(`c${f + 1}: ${share.toFixed(3)} of values in the row's group, expected ~${LATENT_DEFAULTS.inGroup}`);
    } else if (share > 0.1) t.fail(`c${f + 1} (not high-cardinality) follows the group: ${share.toFixed(3)}`);
  }
  t.pass('the five high-cardinality features pick from the row group, the others independently');
  // Co-occurrence: a frequent c3 value and a frequent c4 value of one group appear together far
  // more often than independence predicts, and values of different groups do not.
  const count = (f: number) => {
    const m = new Map<number, number>();
    for (let r = 0; r < rows; r++) {
      const v = values[r * NUM_CAT + f];
      if (v >= 0) m.set(v, (m.get(v) ?? 0) + 1);
    }
    return m;
  };
  const [c3, c4] = [count(2), count(3)];
  const top = (m: Map<number, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, 200).map(([v]) => v);
  const [t3, t4] = [top(c3), top(c4)];
  const pairs = new Map<string, number>();
  for (let r = 0; r < rows; r++) {
    const k = `${values[r * NUM_CAT + 2]}/${values[r * NUM_CAT + 3]}`;
    pairs.set(k, (pairs.get(k) ?? 0) + 1);
  }
  let same = 0;
  let sameExp = 0;
  let other = 0;
  let otherExp = 0;
  for (const a of t3) {
    for (const b of t4) {
      const n = pairs.get(`${a}/${b}`) ?? 0;
      const e = (c3.get(a)! * c4.get(b)!) / rows;
      if (a % G === b % G) (same += n), (sameExp += e);
      else (other += n), (otherExp += e);
    }
  }
  t.ok(same / sameExp > 20, `same-group pairs co-occur ${(same / sameExp).toFixed(1)}x more than independence predicts`);
  t.ok(other / otherExp < 0.5, `different-group pairs ${(other / otherExp).toFixed(2)}x`);
});

t.test("latent: a value's vector is its group's vector plus its own deviation", async (t) => {
  const G = 64;
  const r = 4;
  const card = Array.from({ length: NUM_CAT }, () => 100000);
  for (const dev of [0.3, 0.8]) {
    const m = new LatentClickModel(5, G, card, { deviation: dev, latentDim: r });
    const a = new Float64Array(r);
    const b = new Float64Array(r);
    let sameDot = 0;
    let otherDot = 0;
    let norm = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) {
      // Two values of one group (v and v + G), in two different features; and one of another group.
      const v = i * G + (i % G);
      m.valueVector(2, v, a);
      m.valueVector(3, v + G, b);
      for (let k = 0; k < r; k++) (sameDot += a[k] * b[k]), (norm += a[k] * a[k]);
      m.valueVector(3, v + 1, b);
      for (let k = 0; k < r; k++) otherDot += a[k] * b[k];
    }
    // E<u, u'> / r: 1 - dev^2 within a group; 0 across groups (up to the sampling of G group vectors).
    const within = sameDot / (n * r);
    const across = otherDot / (n * r);
    t.ok(Math.abs(norm / (n * r) - 1) < 0.1, `dev ${dev}: unit variance per component (${(norm / (n * r)).toFixed(3)})`);
    t.ok(Math.abs(within - (1 - dev * dev)) < 0.15, `dev ${dev}: within-group covariance ${within.toFixed(3)} ~ ${(1 - dev * dev).toFixed(2)}`);
    t.ok(Math.abs(across) < 0.15, `dev ${dev}: across-group covariance ${across.toFixed(3)} ~ 0`);
  }
});

t.test('latent: the click logit has pairwise interactions between latent vectors, and only with pair > 0', async (t) => {
  const card = Array.from({ length: NUM_CAT }, () => 5000);
  const row = (c3: number, c6: number) => {
    const cats = new Int32Array(NUM_CAT).fill(-1);
    cats[2] = c3;
    cats[CONTEXT_FEATURES[0]] = c6;
    return cats;
  };
  // Second difference of the logit over two values of c3 and two of c6: zero iff additive.
  const mixed = (m: LatentClickModel, a: number, a2: number, b: number, b2: number) => m.logit(row(a, b)) - m.logit(row(a2, b)) - m.logit(row(a, b2)) + m.logit(row(a2, b2));
  const withPairs = new LatentClickModel(1, 64, card);
  const noPairs = new LatentClickModel(1, 64, card, { pair: 0 });
  let big = 0;
  for (let i = 0; i < 50; i++) {
    if (Math.abs(mixed(withPairs, i, i + 100, i % 20, (i + 7) % 20)) > 0.01) big++;
    t.ok(Math.abs(mixed(noPairs, i, i + 100, i % 20, (i + 7) % 20)) < 1e-12);
  }
  t.ok(big > 40, `${big}/50 value pairs interact`);
  // The logit depends on the value, not only on its group: two values of one group differ.
  t.not(noPairs.logit(row(5, 1)), noPairs.logit(row(5 + 64, 1)));
});

t.test("profile 'terabyte': Terabyte's cardinalities and click rate", async (t) => {
  const rows = 60_000;
  const distinct = Array.from({ length: NUM_CAT }, () => new Set<number>());
  let clicks = 0;
  let probSum = 0;
  for (const b of synthBatches({ rows, seed: 5, profile: 'terabyte' })) {
    for (let i = 0; i < b.rows; i++) {
      for (let f = 0; f < NUM_CAT; f++) {
        const v = b.latent.values[i * NUM_CAT + f];
        if (v >= 0) distinct[f].add(v);
      }
      probSum += b.probs[i];
    }
    const text = b.text.toString('latin1');
    for (let p = 0; p < text.length; p = text.indexOf('\n', p) + 1) if (text[p] === '1') clicks++;
  }
  // Binomial: sd of the rate at 60k rows and p = 0.021 is 0.0006; 5 sd either way.
  t.ok(Math.abs(clicks / rows - TERABYTE_LABEL_RATE) < 0.003, `click rate ${clicks / rows} near ${TERABYTE_LABEL_RATE}`);
  t.ok(Math.abs(probSum / rows - TERABYTE_LABEL_RATE) < 0.002, `mean true probability ${probSum / rows} near ${TERABYTE_LABEL_RATE} (the calibration)`);
  const counts = distinct.map((s) => s.size);
  const rho = spearman(counts, [...TERABYTE_CARDINALITIES]);
  t.ok(rho > 0.9, `distinct counts ranked like Terabyte's cardinalities (Spearman ${rho.toFixed(3)}): ${counts.join(' ')}`);
  t.ok(rho > spearman(counts, [...KAGGLE_CARDINALITIES]), "closer to Terabyte's ranking than to Kaggle's");
  for (let f = 0; f < NUM_CAT; f++) if (counts[f] > scaledCardinality(TERABYTE_CARDINALITIES[f], rows)) t.fail(`c${f + 1} exceeds its cardinality`);
  t.equal(counts[5], 3, 'c6 has all its 3 values');
  t.throws(() => synthBatches({ rows: 1, seed: 1, profile: 'petabyte' as 'kaggle' }).next(), /Invalid option profile/);
  const kaggle = synthBatches({ rows: 50, seed: 5 }).next().value!.text;
  t.same(kaggle, synthBatches({ rows: 50, seed: 5, profile: 'kaggle' }).next().value!.text, "'kaggle' is the default");
});

t.test("values 'uniform': each categorical value uniform over the profile's whole cardinality", async (t) => {
  const rows = 40_000;
  const distinct = Array.from({ length: NUM_CAT }, () => new Set<number>());
  const picks = new Array<number>(NUM_CAT).fill(0);
  const maxValue = new Array<number>(NUM_CAT).fill(-1);
  const c13 = new Array<number>(TERABYTE_CARDINALITIES[12]).fill(0);
  let clicks = 0;
  for (const b of synthBatches({ rows, seed: 3, profile: 'terabyte', values: 'uniform' })) {
    for (let i = 0; i < b.rows; i++) {
      for (let f = 0; f < NUM_CAT; f++) {
        const v = b.latent.values[i * NUM_CAT + f];
        if (v < 0) continue;
        distinct[f].add(v);
        picks[f]++;
        if (v > maxValue[f]) maxValue[f] = v;
        if (f === 12) c13[v]++;
      }
    }
    const text = b.text.toString('latin1');
    for (let p = 0; p < text.length; p = text.indexOf('\n', p) + 1) if (text[p] === '1') clicks++;
  }
  // Occupancy: m uniform draws over c values hold E = c(1 - (1 - 1/c)^m) distinct ones,
  // with variance c(c-1)(1-2/c)^m + c(1-1/c)^m - c^2(1-1/c)^(2m). Within 5 sd, per feature.
  for (let f = 0; f < NUM_CAT; f++) {
    const c = TERABYTE_CARDINALITIES[f];
    const m = picks[f];
    const q1 = Math.pow(1 - 1 / c, m);
    const expected = c * (1 - q1);
    const variance = Math.max(c * (c - 1) * Math.pow(1 - 2 / c, m) + c * q1 - c * c * q1 * q1, 0);
    const sd = Math.sqrt(variance);
    const got = distinct[f].size;
    if (Math.abs(got - expected) > 5 * sd + 1e-9 * c) t.fail(`c${f + 1}: ${got} distinct in ${m} picks over ${c} values, expected ${expected.toFixed(1)} ± ${sd.toFixed(1)}`);
    if (maxValue[f] >= c) t.fail(`c${f + 1}: value ${maxValue[f]} past the cardinality ${c}`);
  }
  t.pass('distinct counts per feature match uniform occupancy within 5 sd');
  // The whole range, not the scaled one: c1's largest value is near its 39.9M (the default
  // Zipf mode at 40k rows caps c1 at scaledCardinality, about 40k values).
  t.ok(maxValue[0] > 0.999 * TERABYTE_CARDINALITIES[0], `c1's largest value ${maxValue[0]}`);
  t.ok(distinct[0].size > 39_900, `c1: ${distinct[0].size} distinct values in 40k rows`);
  // Chi-square on c13's 10 values (9 degrees of freedom: p = 0.001 at 27.9).
  const n13 = c13.reduce((a, b) => a + b, 0);
  const chi2 = c13.reduce((s, k) => s + (k - n13 / c13.length) ** 2 / (n13 / c13.length), 0);
  t.ok(chi2 < 27.9, `c13's 10 values equally likely (chi-square ${chi2.toFixed(1)}, 9 df)`);
  t.ok(Math.abs(clicks / rows - TERABYTE_LABEL_RATE) < 0.004, `click rate ${clicks / rows} still calibrated`);
  // The same rows whatever the batch size, and 'zipf' is the default.
  t.same(allBytes({ rows: 3000, seed: 3, profile: 'terabyte', values: 'uniform', batchRows: 7 }), allBytes({ rows: 3000, seed: 3, profile: 'terabyte', values: 'uniform' }));
  t.same(allBytes({ rows: 500, seed: 5, values: 'zipf' }), allBytes({ rows: 500, seed: 5 }), "'zipf' is the default");
  t.notSame(allBytes({ rows: 500, seed: 5, values: 'uniform' }), allBytes({ rows: 500, seed: 5 }));
  t.throws(() => synthBatches({ rows: 1, seed: 1, values: 'normal' as 'zipf' }).next(), /Invalid option values/);
  t.throws(() => synthBatches({ rows: 1, seed: 1, values: 'uniform', model: 'latent' }).next(), /Invalid option values.*latent/);
});
