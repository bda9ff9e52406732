import t from 'tap';
import { hashNetCodes } from '../../scma/codes.js';
import { crossCollisions, tolerance } from './helpers.js';

t.test('validates dim and seed', async (t) => {
  t.throws(() => hashNetCodes(0, 1), /Invalid option dim: must be an integer in 1\.\.65536, got 0/);
  t.throws(() => hashNetCodes(4, -2), /Invalid option seed/);
});

t.test('deterministic per (feature, value, j, seed), different across seeds and features', async (t) => {
  const a = new Uint32Array(8);
  const b = new Uint32Array(8);
  hashNetCodes(8, 1).codesInto(3, 42, a, 0);
  hashNetCodes(8, 1).codesInto(3, 42, b, 0);
  t.same(a, b);
  hashNetCodes(8, 2).codesInto(3, 42, b, 0);
  t.notSame(a, b);
  hashNetCodes(8, 1).codesInto(4, 42, b, 0);
  t.notSame(a, b);
});

t.test('locations mod M are uniform and pairs collide at 1/M', async (t) => {
  const dim = 8;
  const M = 101;
  const n = 20_000;
  const hn = hashNetCodes(dim, 9);
  const buf = new Uint32Array(dim);
  const cols = Array.from({ length: dim }, () => new Uint32Array(n));
  for (let v = 0; v < n; v++) {
    hn.codesInto(v % 26, v, buf, 0);
    for (let j = 0; j < dim; j++) cols[j][v] = buf[j];
  }
  for (let j = 0; j < dim; j++) {
    const counts = new Array(M).fill(0);
    for (const c of cols[j]) counts[c % M]++;
    const e = n / M;
    const chi2 = counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
    t.ok(chi2 < 170, `dim ${j}: chi-square ${chi2.toFixed(1)} (df 100)`);
  }
  // Dimensions of one value are independent: code_0 vs code_1 equal mod M at 1/M.
  let same = 0;
  for (let v = 0; v < n; v++) if (cols[0][v] % M === cols[1][v] % M) same++;
  t.ok(Math.abs(same / n - 1 / M) <= tolerance(1 / M, n), `within-value ${same / n}`);
  const pairs = (n * (n - 1)) / 2;
  const hits = (crossCollisions(cols[2], cols[2], M) - n) / 2;
  t.ok(Math.abs(hits / pairs - 1 / M) <= tolerance(1 / M, pairs), `between values ${hits / pairs}`);
});
