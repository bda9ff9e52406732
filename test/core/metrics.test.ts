import t from 'tap';
import { exactAuc, logLoss, accuracy, evaluate } from '../../core/metrics.js';
import { mulberry32 } from '../../core/hash.js';

function bruteAuc(labels: number[], scores: number[]): number {
  let num = 0;
  let pairs = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < labels.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      num += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return num / pairs;
}

t.test('exactAuc equals brute-force pairwise AUC on random data with many ties', async (t) => {
  const rnd = mulberry32(7);
  for (let trial = 0; trial < 30; trial++) {
    const n = 1 + Math.floor(rnd() * 400);
    const levels = 1 + Math.floor(rnd() * 12); // few distinct scores -> many ties
    const labels: number[] = [];
    const scores: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = Math.floor(rnd() * levels) / levels;
      scores.push(s);
      labels.push(rnd() < 0.3 + 0.4 * s ? 1 : 0);
    }
    const want = bruteAuc(labels, scores);
    const got = exactAuc(labels, Float32Array.from(scores));
    if (Number.isNaN(want)) t.ok(Number.isNaN(got), `trial ${trial}: one class only -> NaN`);
    else t.ok(Math.abs(got - want) < 1e-12, `trial ${trial}: ${got} vs ${want}`);
  }
});

t.test('exactAuc: perfect, reversed, all tied, and single-class inputs', async (t) => {
  t.equal(exactAuc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]), 1);
  t.equal(exactAuc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]), 0);
  t.equal(exactAuc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]), 0.5);
  t.ok(Number.isNaN(exactAuc([1, 1], [0.2, 0.3])));
  t.throws(() => exactAuc([1, 0], [0.2]), /one score per label/);
});

t.test('exactAuc on a million continuous scores matches the analytic AUC', async (t) => {
  const n = 1_000_000;
  const rnd = mulberry32(3);
  const labels = new Uint8Array(n);
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    scores[i] = rnd();
    labels[i] = rnd() < scores[i] ? 1 : 0;
  }
  // P(1|s) = s: positives' scores have density 2s, negatives' 2(1-s), so
  // AUC = integral of 2x (2x - x^2) dx over [0, 1] = 5/6.
  const auc = exactAuc(labels, scores);
  t.ok(Math.abs(auc - 5 / 6) < 0.003, `${auc}`);
});

t.test('logLoss matches the definition and is finite for confident misses', async (t) => {
  const l = [1, 0, 1];
  const p = [0.9, 0.2, 0.6];
  const want = -(Math.log(0.9) + Math.log(0.8) + Math.log(0.6)) / 3;
  t.ok(Math.abs(logLoss(l, p) - want) < 1e-12);
  const miss = logLoss([1, 0], [0, 1]);
  t.ok(Number.isFinite(miss) && miss > 10, `clamped: ${miss}`);
});

t.test('accuracy thresholds at 0.5 (0.5 itself predicts 0)', async (t) => {
  t.equal(accuracy([1, 0, 1, 0], [0.9, 0.1, 0.4, 0.5]), 0.75);
  const m = evaluate([1, 0], [0.7, 0.3]);
  t.same({ rows: m.rows, auc: m.auc, accuracy: m.accuracy }, { rows: 2, auc: 1, accuracy: 1 });
});
