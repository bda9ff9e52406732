/**
 * The webgpu embedding layer against the composite one on the GPU (see
 * model/embedding/webgpu-check.ts): one JSON line per kind x optimizer with the
 * largest differences, then a summary; exits 1 when a difference is above the
 * tolerance or WebGPU reported a validation error.
 *
 *   node dist/bench/webgpu-check.js [--tolerance 1e-4] [--require-gpu]
 *
 * Without a WebGPU adapter it says so and exits 0 (2 with --require-gpu).
 * On the GPU machine: pack.sh bench/webgpu-check.ts, then
 * `source .device/prelude.sh && node .device/webgpu-check.mjs --require-gpu`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { selectBackend } from '../model/backend.js';
import { runWebGpuCheck } from './webgpu-check-harness.js';

const { values: o } = parseArgs({
  options: {
    tolerance: { type: 'string', default: '1e-4' },
    'require-gpu': { type: 'boolean', default: false },
  },
});

async function main(): Promise<number> {
  const log = (l: string) => process.stderr.write(l + '\n');
  const backend = await selectBackend('webgpu', log);
  if (backend !== 'webgpu') {
    process.stdout.write(JSON.stringify({ skipped: `no WebGPU here (backend ${backend})` }) + '\n');
    return o['require-gpu'] ? 2 : 0;
  }
  const device = (tf.backend() as unknown as { device: { pushErrorScope(f: string): void; popErrorScope(): Promise<{ message: string } | null> } }).device;
  device.pushErrorScope('validation');
  const rows = await runWebGpuCheck({ tolerance: Number(o.tolerance), log });
  const gpuError = await device.popErrorScope();
  for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
  const worst = (k: 'lossDiff' | 'memoryDiff' | 'accumDiff' | 'predictDiff' | 'importDiff') => Math.max(...rows.map((r) => r[k]));
  const ok = rows.every((r) => r.ok) && !gpuError;
  process.stdout.write(
    JSON.stringify({
      check: ok ? 'pass' : 'FAIL',
      tolerance: Number(o.tolerance),
      max_loss_diff: worst('lossDiff'),
      max_memory_diff: worst('memoryDiff'),
      max_accum_diff: worst('accumDiff'),
      max_predict_diff: worst('predictDiff'),
      max_import_diff: worst('importDiff'),
      gpu_validation_error: gpuError?.message,
    }) + '\n',
  );
  return ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`webgpu-check: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  },
);
