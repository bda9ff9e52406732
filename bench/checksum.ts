/**
 * bench/checksum: what verifying shard checksums costs a reader. Preprocesses
 * synthetic rows into Arrow and Parquet shards once, then reads them all with
 * readFeatureBatches with and without verification (alternating, several rounds, the
 * files in the page cache), and times the CRC-32 alone over the same bytes.
 *
 *     node dist/bench/checksum.js [--rows 1000000] [--rounds 5]
 *
 * Prints one JSON line per format: CPU ms of a whole read (verify on / off,
 * medians), CPU ms of the CRC alone, and the CRC's share of the unverified read.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeSynth } from '../input/synth.js';
import { preprocess } from '../pipeline/preprocess.js';
import { readFeatureBatches, readManifest } from '../io/read-shards.js';
import { crc32 } from '../core/checksum.js';

const { values: args } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '5' } } });
const rows = Number(args.rows);
const rounds = Number(args.rounds);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-checksum-'));
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

try {
  const tsv = path.join(dir, 'in.tsv');
  await writeSynth({ rows, seed: 1, out: tsv });
  for (const format of ['arrow', 'parquet'] as const) {
    const out = path.join(dir, format);
    await preprocess({ inputs: [tsv], out, format, warn: () => {} });
    // CPU time (all threads), not wall time: on a shared, oversubscribed machine wall
    // time mostly measures the neighbours.
    const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
    const read = async (verify: boolean) => {
      const c0 = process.cpuUsage();
      let n = 0;
      for await (const b of readFeatureBatches(out, { verify })) n += b.rows;
      if (n !== rows) throw new Error(`read ${n} rows`);
      return cpuMs(process.cpuUsage(c0));
    };
    await read(true); // warm the page cache and the JIT
    const on: number[] = [];
    const off: number[] = [];
    for (let r = 0; r < rounds; r++) {
      on.push(await read(true));
      off.push(await read(false));
    }
    const m = await readManifest(out);
    const files = m.shards.map((s) => fs.readFileSync(path.join(out, s.file)));
    const crcMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const c0 = process.cpuUsage();
      for (const f of files) crc32(f);
      crcMs.push(cpuMs(process.cpuUsage(c0)));
    }
    const bytes = files.reduce((s, f) => s + f.length, 0);
    const crc = median(crcMs);
    console.log(
      JSON.stringify({
        format,
        rows,
        shards: m.shards.length,
        mb: +(bytes / 1e6).toFixed(1),
        readVerifyCpuMs: Math.round(median(on)),
        readNoVerifyCpuMs: Math.round(median(off)),
        crcCpuMs: +crc.toFixed(1),
        crcMBps: Math.round(bytes / 1e6 / (crc / 1000)),
        crcShareOfRead: +(crc / median(off)).toFixed(4),
      }),
    );
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
