/**
 * Synthetic data generation speed, single-threaded:
 *   node dist/bench/synth.js [rows=2000000] [seed=1]
 * Prints rows/s by wall clock and by this process's CPU time (the machine is often shared),
 * for the batch API alone and for writeSynth to /dev/null (with and without probabilities).
 */
import { synthBatches, writeSynth } from '../input/synth.js';

const rows = Number(process.argv[2] ?? 2_000_000);
const seed = Number(process.argv[3] ?? 1);

async function measure(name: string, work: () => Promise<number>): Promise<void> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const bytes = await work();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  const cpu = (c.user + c.system) / 1e6;
  const mb = bytes ? `, ${(bytes / 1e6 / wall).toFixed(1)} MB/s` : '';
  console.log(
    `${name.padEnd(28)} ${rows} rows: ${Math.round(rows / wall).toLocaleString('en')} rows/s wall${mb}, ${Math.round(rows / cpu).toLocaleString('en')} rows/s per CPU second`,
  );
}

await measure('synthBatches', async () => {
  let bytes = 0;
  for (const b of synthBatches({ rows, seed })) bytes += b.text.length;
  return bytes;
});
await measure('writeSynth -> /dev/null', async () => {
  await writeSynth({ rows, seed, out: '/dev/null' });
  return 0;
});
await measure('writeSynth + probs', async () => {
  await writeSynth({ rows, seed, out: '/dev/null', probsOut: '/dev/null' });
  return 0;
});
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
