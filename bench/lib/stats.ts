/** Medians and spreads of interleaved rounds (never the best round: noise would pick the winner). */

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function spread(values: readonly number[]): { min: number; max: number } {
  return { min: Math.min(...values), max: Math.max(...values) };
}

/** Per-round ratios b/a of two series measured in the same rounds (paired: each pair ran back to back). */
export function pairedRatios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => b[i]! / x);
}

/** Least-squares slope of y over x (units of y per unit of x); NaN with fewer than 2 points. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return String(value);
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `123,456` for one round, `123,456 [120,001–125,000]` (min–max) for several. */
export function withSpread(values: readonly number[], digits = 0): string {
  if (values.length === 0) return '—';
  const m = fmt(median(values), digits);
  if (values.length === 1) return m;
  const { min, max } = spread(values);
  return `${m} [${fmt(min, digits)}–${fmt(max, digits)}]`;
}

export const MB = 1024 * 1024;
