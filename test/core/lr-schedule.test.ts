import t from 'tap';
import { checkLrSchedule, scheduledLr, NO_SCHEDULE } from '../../core/lr-schedule.js';

/**
 * An independent transcription of DLRM's stateful scheduler: _step_count starts
 * at 1 (PyTorch's scheduler steps once when built), get_lr() is called for each
 * step, last_lr carries over; the rate for training step k is the k-th call's.
 */
function dlrmRates(base: number, W: number, D: number, N: number, steps: number): number[] {
  let lastLr: number | undefined;
  const out: number[] = [];
  for (let stepCount = 1; stepCount <= steps; stepCount++) {
    let lr: number;
    if (stepCount < W) {
      lr = base * (1.0 - (W - stepCount) / W);
      lastLr = lr;
    } else if (D <= stepCount && stepCount < D + N) {
      const decayed = stepCount - D;
      lr = Math.max(0.0000001, base * ((N - decayed) / N) ** 2);
      lastLr = lr;
    } else if (N > 0) lr = lastLr ?? base; // DLRM would raise here (no last_lr yet)
    else lr = base;
    out.push(lr);
  }
  return out;
}

t.test("matches DLRM's scheduler step by step", async (t) => {
  for (const [W, D, N] of [
    [0, 0, 0],
    [10, 10, 0],
    [10, 10, 20],
    [10, 25, 20],
    [0, 5, 10],
    [1, 1, 5],
    [4, 40, 3],
  ]) {
    const ref = dlrmRates(0.1, W, D, N, 60);
    const got = Array.from({ length: 60 }, (_, i) => scheduledLr(0.1, i + 1, { warmupSteps: W, decayStartStep: D, decaySteps: N }));
    t.same(got, ref, `W=${W} D=${D} N=${N}`);
  }
});

t.test('the shape: linear warmup, frozen plateau at (W-1)/W, quadratic decay, frozen end', async (t) => {
  const s = { warmupSteps: 4, decayStartStep: 10, decaySteps: 4 };
  const r = (k: number) => Number(scheduledLr(1, k, s).toFixed(6));
  t.same([1, 2, 3].map(r), [0.25, 0.5, 0.75], 'warmup');
  t.same([4, 5, 9].map(r), [0.75, 0.75, 0.75], "DLRM's plateau is the last warmup rate");
  t.same([10, 11, 12, 13].map(r), [1, 0.5625, 0.25, 0.0625], '((N - k) / N)^2');
  t.same([14, 100].map(r), [0.0625, 0.0625], 'frozen after the decay');
  t.equal(scheduledLr(0.1, 123, NO_SCHEDULE), 0.1, 'no schedule: constant');
});

t.test('the decay cannot start before the warmup ends, as in DLRM', async (t) => {
  t.throws(() => checkLrSchedule({ warmupSteps: 10, decayStartStep: 5, decaySteps: 5 }), /Invalid option lr-decay-start-step: must be at least --lr-num-warmup-steps \(10\)/);
  t.throws(() => checkLrSchedule({ warmupSteps: -1, decayStartStep: 0, decaySteps: 0 }), /lr-num-warmup-steps/);
});
