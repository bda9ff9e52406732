/**
 * DLRM's learning-rate policy (facebookresearch/dlrm, LRPolicyScheduler), as a
 * function of the 1-based step, so that a resumed run gets the same rates:
 *
 * - warmup, steps s < W: lr x s / W (linear from 0);
 * - decay, D <= s < D + N: max(1e-7, lr x ((N - (s - D)) / N)^2) (polynomial, power 2);
 * - otherwise, when N > 0: the rate of the last warmup or decay step, frozen. So
 *   between warmup and decay it stays at lr x (W - 1) / W, not lr, and after the
 *   decay at lr / N^2, exactly as DLRM's scheduler does;
 * - otherwise (N = 0): lr.
 *
 * DLRM refuses D < W ("warmup must finish before the decay starts"), and so do we.
 * Where DLRM's scheduler would have no earlier rate to freeze at (no warmup step
 * before a later decay start), we use lr.
 */
import { invalidOption } from './errors.js';

export interface LrSchedule {
  /** --lr-num-warmup-steps W */
  warmupSteps: number;
  /** --lr-decay-start-step D */
  decayStartStep: number;
  /** --lr-num-decay-steps N */
  decaySteps: number;
}

export const NO_SCHEDULE: LrSchedule = Object.freeze({ warmupSteps: 0, decayStartStep: 0, decaySteps: 0 });

const MIN_LR = 1e-7;

export function checkLrSchedule(s: LrSchedule): LrSchedule {
  for (const [name, v] of [['lr-num-warmup-steps', s.warmupSteps], ['lr-decay-start-step', s.decayStartStep], ['lr-num-decay-steps', s.decaySteps]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw invalidOption(name, 'must be a non-negative integer', v);
  }
  if (s.decayStartStep < s.warmupSteps) {
    throw invalidOption('lr-decay-start-step', `must be at least --lr-num-warmup-steps (${s.warmupSteps}): the warmup must finish before the decay starts`, s.decayStartStep);
  }
  return s;
}

/** The rate for training step `step` (1-based), from the base rate `lr`. */
export function scheduledLr(lr: number, step: number, { warmupSteps: W, decayStartStep: D, decaySteps: N }: LrSchedule): number {
  const warm = (s: number) => lr * (1 - (W - s) / W);
  const decay = (s: number) => Math.max(MIN_LR, lr * ((N - (s - D)) / N) ** 2);
  if (step < W) return warm(step);
  if (D <= step && step < D + N) return decay(step);
  if (N === 0) return lr;
  // Frozen at the last rate the warmup or decay branch set, as DLRM's last_lr.
  if (step >= D + N) return decay(D + N - 1);
  return W > 1 ? warm(W - 1) : lr;
}
