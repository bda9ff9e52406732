import t from 'tap';
import { roundSignificant } from '../../core/round.js';

t.test('4 significant digits for non-integers, integers and non-numbers untouched, nested', async (t) => {
  t.same(
    roundSignificant({ auc: 0.7391234567890123, logloss: 0.49012345, rows: 123456789, seconds: 78.61234, tiny: 1.23456e-7, name: 'scma', ok: true, nul: null, list: [0.123456, 3], nested: { x: 2.0000001 } }),
    { auc: 0.7391, logloss: 0.4901, rows: 123456789, seconds: 78.61, tiny: 1.235e-7, name: 'scma', ok: true, nul: null, list: [0.1235, 3], nested: { x: 2 } },
  );
  t.equal(roundSignificant(12345.678), 12350);
  t.ok(Number.isNaN(roundSignificant(NaN)));
});
