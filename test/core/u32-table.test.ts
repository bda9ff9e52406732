/** core/u32-table.ts: exact against a JS Map on random data, through growth and collisions, and past a Map's 2^24 entries. */
import t from 'tap';
import { U32Table } from '../../core/u32-table.js';
import { fmix32, mulberry32 } from '../../core/hash.js';

t.setTimeout(180_000); // the 2^24 case: tens of seconds on a loaded machine

function reference(keys: Uint32Array): Map<number, number> {
  const m = new Map<number, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

t.test('counts equal a Map reference on random keys (dense and sparse key ranges, 0 and 2^32-1 included)', async (t) => {
  for (const [range, n, seed] of [[50, 10_000, 1], [5000, 200_000, 2], [2 ** 32, 100_000, 3]] as const) {
    const rand = mulberry32(seed);
    const keys = Uint32Array.from({ length: n }, () => Math.floor(rand() * range));
    keys[0] = 0;
    keys[1] = 0xffffffff;
    const tab = new U32Table();
    for (const k of keys) tab.add(k);
    const ref = reference(keys);
    t.equal(tab.size, ref.size, `range ${range}: size`);
    let wrong = 0;
    for (const [k, c] of ref) if (tab.get(k) !== c) wrong++;
    t.equal(wrong, 0, `range ${range}: every count equal`);
    t.same(tab.entries(), [...ref].sort((a, b) => a[0] - b[0]), `range ${range}: the same entries`);
    // Absent keys read 0.
    let absent = 0;
    for (let i = 0; i < 10_000; i++) {
      const k = Math.floor(rand() * 2 ** 32);
      if (!ref.has(k) && tab.get(k) !== 0) absent++;
    }
    t.equal(absent, 0, `range ${range}: absent keys read 0`);
    t.ok(tab.size <= tab.capacity * 0.75, 'at most 3/4 full');
  }
});

t.test('growth keeps every entry: from 16 slots to 2^18, doubling at 3/4', async (t) => {
  const tab = new U32Table();
  t.equal(tab.capacity, 16);
  const caps: number[] = [];
  for (let i = 0; i < 150_000; i++) {
    tab.set(i * 7919, (i % 1000) + 1);
    if (caps.at(-1) !== tab.capacity) caps.push(tab.capacity);
  }
  t.same(caps, Array.from({ length: 15 }, (_, i) => 2 ** (4 + i)), 'powers of two, one step at a time');
  t.equal(tab.capacity, 2 ** 18, '150000 entries: 2^18 slots (2^17 * 3/4 < 150000)');
  let wrong = 0;
  for (let i = 0; i < 150_000; i++) if (tab.get(i * 7919) !== (i % 1000) + 1) wrong++;
  t.equal(wrong, 0);
  t.equal(new U32Table(1000).capacity, 2048, 'sized up front: 1000 entries fit 3/4 of 2048');
});

t.test('keys that all collide in the starting slot are kept apart, through growth', async (t) => {
  // 300 keys whose hash has the same low 12 bits: one probe run in a 4096-slot table.
  const colliding: number[] = [];
  for (let k = 0; colliding.length < 300; k++) if ((fmix32(k) & 4095) === 77) colliding.push(k);
  const tab = new U32Table(3000);
  t.equal(tab.capacity, 4096);
  colliding.forEach((k, i) => tab.set(k, i + 1));
  let wrong = 0;
  colliding.forEach((k, i) => tab.get(k) !== i + 1 && wrong++);
  t.equal(wrong, 0, 'all 300 found in one run');
  for (let k = 2 ** 31; tab.capacity === 4096; k++) tab.add(k); // grow past 3/4 (keys far from the colliding ones)
  colliding.forEach((k, i) => tab.get(k) !== i + 1 && wrong++);
  t.equal(wrong, 0, 'and after growing');
});

t.test('values: 1..2^32-1; counts saturate instead of wrapping', async (t) => {
  const tab = new U32Table();
  t.throws(() => tab.set(5, 0), RangeError);
  t.throws(() => tab.set(5, 1.5), RangeError);
  t.throws(() => tab.set(5, 2 ** 32), RangeError);
  tab.set(5, 2 ** 32 - 2);
  tab.add(5, 10);
  t.equal(tab.get(5), 2 ** 32 - 1);
  tab.add(-1); // keys are taken as uint32: -1 is 2^32-1
  t.equal(tab.get(0xffffffff), 1);
});

t.test('keysAtLeast: the keys with value >= min, sorted', async (t) => {
  const tab = new U32Table();
  for (const k of [9, 3, 3, 7, 3, 9, 100, 0]) tab.add(k);
  t.same([...tab.keysAtLeast()], [0, 3, 7, 9, 100]);
  t.same([...tab.keysAtLeast(2)], [3, 9]);
  t.same([...tab.keysAtLeast(4)], []);
});

t.test('more than 2^24 entries (a JS Map stops at 2^24)', async (t) => {
  const n = 2 ** 24 + 100_000;
  const tab = new U32Table();
  // An odd multiplier is a bijection mod 2^32: n distinct keys.
  for (let i = 0; i < n; i++) tab.add(Math.imul(i, 0x9e3779b1) >>> 0);
  t.equal(tab.size, n);
  t.equal(tab.capacity, 2 ** 25);
  t.equal(tab.bytes, 2 ** 25 * 8, '256 MiB for 16.9M entries');
  const rand = mulberry32(4);
  let wrong = 0;
  for (let j = 0; j < 100_000; j++) {
    const i = Math.floor(rand() * n);
    if (tab.get(Math.imul(i, 0x9e3779b1) >>> 0) !== 1) wrong++;
  }
  t.equal(wrong, 0, 'a random 100k of them found with count 1');
  tab.add(Math.imul(n - 1, 0x9e3779b1) >>> 0);
  t.equal(tab.get(Math.imul(n - 1, 0x9e3779b1) >>> 0), 2);
});
