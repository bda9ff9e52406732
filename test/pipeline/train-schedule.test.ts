/**
 * train() drives DLRM's learning-rate schedule step by step (a fake model records
 * the rates), reports progress by time, warns when nothing is held out, and names
 * the settings a resume disagrees with.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { train } from '../../pipeline/train.js';
import { settingDifferences } from '../../pipeline/train/resume.js';
import { preprocess } from '../../pipeline/preprocess.js';
import { scheduledLr } from '../../core/lr-schedule.js';
import { synthRows } from '../../input/synth.js';
import type { Dlrm, DlrmConfig } from '../../model/types.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'train-schedule-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const tsv = path.join(dir, 'rows.tsv');
fs.writeFileSync(tsv, [...synthRows({ rows: 1000, seed: 4 })].map((r) => r.line).join('\n') + '\n');
const shards = path.join(dir, 'shards');
await preprocess({ inputs: [tsv], out: shards, format: 'arrow', concurrency: 0 });

/** Records the rate of every step; no tensors. */
function fakeModel(config: DlrmConfig, rates: number[], stepMs = 0): Dlrm {
  let lr = config.learningRate;
  return {
    config,
    backend: 'fake',
    async trainStep() {
      rates.push(lr);
      if (stepMs) await new Promise((r) => setTimeout(r, stepMs));
      return 0.5;
    },
    async predict(b) {
      return new Float32Array(b.rows).fill(0.5);
    },
    setLearningRate(x: number) {
      lr = x;
    },
    async exportState() {
      return { dense: [], embedding: [], optimizer: [], step: rates.length };
    },
    importState() {},
    dispose() {},
  };
}

const base = { input: shards, embedding: 'hashnet' as const, memoryFloats: 512, batchSize: 50, shuffleBuffer: 0 };

t.test('every step gets the rate of DLRM\'s schedule at that step', async (t) => {
  const rates: number[] = [];
  const lrSchedule = { warmupSteps: 5, decayStartStep: 10, decaySteps: 6 };
  const s = await train({ ...base, learningRate: 0.2, lrSchedule, epochs: 2, log: () => {}, createModel: async (c) => fakeModel(c, rates) });
  t.equal(s.steps, 40);
  t.same(rates, Array.from({ length: 40 }, (_, k) => scheduledLr(0.2, k + 1, lrSchedule)));
  t.ok(Math.abs(rates[0] - 0.2 / 5) < 1e-15, 'warmup starts at lr/W');
  t.ok(Math.abs(rates[39] - 0.2 / 36) < 1e-15, 'frozen at lr/N^2 after the decay');
  await t.rejects(train({ ...base, lrSchedule: { warmupSteps: 5, decayStartStep: 2, decaySteps: 1 }, log: () => {} }), /Invalid option lr-decay-start-step/);
});

t.test('progress by time: lines between --print-freq lines, with step/total, epoch, loss, samples/s and ETA; a warning without a split', async (t) => {
  const lines: string[] = [];
  await train({ ...base, printFreq: 1000, progress: { intervalMs: 0 }, log: (l) => lines.push(l), createModel: async (c) => fakeModel(c, [], 1) });
  const progress = lines.filter((l) => l.startsWith('step '));
  t.equal(progress.length, 20, 'a line per step at interval 0, though --print-freq 1000 never prints');
  t.match(progress[4], /^step 5\/20 epoch 1\/1 loss 0\.50000 \d+ samples\/s ETA \S+$/);
  t.ok(lines.some((l) => /warning: no --split, --test-fraction or --val-fraction: every row is trained on/.test(l)), 'warned: nothing held out');
  const quiet: string[] = [];
  await train({ ...base, printFreq: 1000, log: (l) => quiet.push(l), createModel: async (c) => fakeModel(c, []) });
  t.equal(quiet.filter((l) => l.startsWith('step ')).length, 0, 'no progress option: only --print-freq lines');
});

t.test('a resume that disagrees names each differing setting', async (t) => {
  const a = JSON.stringify({ input: '/d', batchSize: 128, learningRate: 0.1, split: { kind: 'none' } });
  const b = JSON.stringify({ input: '/d', batchSize: 256, learningRate: 0.1, split: { kind: 'fraction', test: 0.1, val: 0 } });
  t.same(settingDifferences(a, b), ['batchSize: 128 -> 256', 'split: {"kind":"none"} -> {"kind":"fraction","test":0.1,"val":0}']);
  const out = path.join(dir, 'run');
  await train({ ...base, outDir: out, log: () => {}, createModel: async (c) => fakeModel(c, []) });
  await t.rejects(train({ ...base, batchSize: 40, outDir: out, resume: true, log: () => {}, createModel: async (c) => fakeModel(c, []) }), { code: 'ERR_RESUME_MISMATCH', message: /differs in batchSize: 50 -> 40: resume with the same settings/ });
});
