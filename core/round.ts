/**
 * Numbers for people: summaries printed at the end of a command carry 4
 * significant digits (0.7391, 12340, 1.235e-7), not 16. Integers stay exact
 * (counts must add up); the metrics file keeps full precision.
 */
export function roundSignificant<T>(value: T, digits = 4): T {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || Number.isInteger(value)) return value;
    return Number(value.toPrecision(digits)) as T;
  }
  if (Array.isArray(value)) return value.map((v) => roundSignificant(v, digits)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, roundSignificant(v, digits)])) as T;
  }
  return value;
}
