import t from 'tap';
import { RobeCodes, robeCodes } from '../../scma/robe-codes.js';
import { HashNetCodes } from '../../scma/codes.js';

const F = 26;

function codesOf(c: RobeCodes, f: number, v: number): Uint32Array {
  const out = new Uint32Array(c.dim);
  c.codesInto(f, v, out, 0);
  return out;
}

t.test('validates d, seed and the block size Z', async (t) => {
  t.throws(() => new RobeCodes(0, 1), /Invalid option dim/);
  t.throws(() => new RobeCodes(8, -1), /Invalid option seed/);
  t.throws(() => new RobeCodes(8, 1, 0), /Invalid option robe-block: must be an integer in 1..8 \(the embedding size\), got 0/);
  t.throws(() => new RobeCodes(8, 1, 9), /Invalid option robe-block/);
  t.throws(() => new RobeCodes(8, 1, 2.5), /Invalid option robe-block/);
  t.equal(new RobeCodes(8, 1).block, 8, 'Z defaults to d: one block per embedding');
});

t.test('each block is Z contiguous locations modulo M, wrapping around the end, for every M', async (t) => {
  const d = 12;
  for (const z of [12, 4, 5]) {
    const c = new RobeCodes(d, 3, z);
    let wrapped = 0;
    let checked = 0;
    for (const m of [97, 1000, 4099, 2 ** 31 - 1]) {
      for (let f = 0; f < F; f++) {
        for (let v = 0; v < 40; v++) {
          const codes = codesOf(c, f, v);
          for (let j = 0; j < d; j++) {
            const block = Math.floor(j / z);
            const start = block * z;
            const loc = codes[j] % m;
            const first = codes[start] % m;
            // Element j of a block is (start of the block + offset within it) mod M.
            if (loc !== (first + (j - start)) % m) t.fail(`Z=${z} M=${m} f=${f} v=${v} j=${j}: ${loc} is not ${first} + ${j - start} mod ${m}`);
            if (loc < first) wrapped++;
            checked++;
          }
        }
      }
    }
    t.ok(checked > 0);
    t.ok(wrapped > 0, `Z=${z}: some blocks wrap around the end of the array (${wrapped} elements)`);
  }
});

t.test('blocks of one embedding start at independent offsets; offsets are spread over M', async (t) => {
  const d = 16;
  const z = 4;
  const c = new RobeCodes(d, 5, z);
  const m = 1009;
  const counts = new Float64Array(m);
  let sameStart = 0;
  const n = 20000;
  for (let v = 0; v < n; v++) {
    const codes = codesOf(c, v % F, v);
    counts[codes[0] % m]++;
    if (codes[0] % m === codes[z] % m) sameStart++;
  }
  // Chi-square of block-0 offsets against uniform over M bins: mean m-1, sd sqrt(2(m-1)).
  const expect = n / m;
  const chi2 = counts.reduce((s, x) => s + (x - expect) ** 2 / expect, 0);
  t.ok(Math.abs(chi2 - (m - 1)) < 5 * Math.sqrt(2 * (m - 1)), `chi-square ${chi2.toFixed(0)} for ${m - 1} degrees of freedom`);
  t.ok(sameStart < n * (3 / m) + 10, `blocks 0 and 1 rarely start together (${sameStart} of ${n})`);
});

t.test('deterministic by seed, different across seeds, features and values', async (t) => {
  const a = new RobeCodes(8, 7, 4);
  t.same(codesOf(a, 3, 12345), codesOf(new RobeCodes(8, 7, 4), 3, 12345));
  t.notSame(codesOf(a, 3, 12345), codesOf(new RobeCodes(8, 8, 4), 3, 12345));
  t.notSame(codesOf(a, 3, 12345), codesOf(a, 4, 12345));
  t.notSame(codesOf(a, 3, 12345), codesOf(a, 3, 12346));
  const out = new Uint32Array(20).fill(7);
  a.codesInto(1, 2, out, 6);
  t.same(Array.from(out.subarray(0, 6)), [7, 7, 7, 7, 7, 7], 'writes only out[offset .. offset + d)');
  t.same(Array.from(out.subarray(14)), [7, 7, 7, 7, 7, 7]);
  t.same(out.subarray(6, 14), codesOf(a, 1, 2));
  t.equal(robeCodes(8, 7, 4).dim, 8);
});

t.test('ROBE shares whole blocks where HashNet shares single floats', async (t) => {
  // Two values whose first elements meet: under ROBE the rest of the block meets too.
  const d = 8;
  const m = 211;
  const robe = new RobeCodes(d, 1);
  const hash = new HashNetCodes(d, 1);
  const blockShare = (c: { codesInto: RobeCodes['codesInto'] }) => {
    let meet = 0;
    let all = 0;
    const a = new Uint32Array(d);
    const b = new Uint32Array(d);
    for (let u = 0; u < 400; u++) {
      c.codesInto(0, u, a, 0);
      for (let v = u + 1; v < 400; v++) {
        c.codesInto(1, v, b, 0);
        if (a[0] % m !== b[0] % m) continue;
        meet++;
        if (a.every((x, j) => x % m === b[j] % m)) all++;
      }
    }
    return { meet, all };
  };
  const r = blockShare(robe);
  const h = blockShare(hash);
  t.ok(r.meet > 100 && h.meet > 100, `enough meetings (${r.meet}, ${h.meet})`);
  t.equal(r.all, r.meet, 'ROBE: meeting at the block start means sharing the whole block');
  t.equal(h.all, 0, 'HashNet: the other elements land independently');
});
