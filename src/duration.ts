/**
 * The one duration grammar of sellout: a number and a unit, like `500ms`, `1.5 s` or `250µs`.
 * Scenarios (`duration`, ramp stages) and latency figures (threshold conditions such as
 * `< 5ms`, compare's `--tolerance latency.ok.p99=200us`) read durations through here, so a
 * duration a scenario accepts is written the same way as one a threshold accepts.
 *
 * Two differences, on purpose:
 * - a scenario duration also takes minutes and hours (`m`, `h`) and several parts (`1m30s`): a
 *   sale lasts minutes. A latency takes one part in `us`, `µs`, `ms` or `s` only: `< 1m` would
 *   read too easily as one millisecond to be allowed as a minute.
 * - a scenario duration is milliseconds (the scenario's unit), a latency microseconds
 *   (summary.json's unit).
 */

/** Microseconds per unit; the latency units are the first four. */
const US_PER_UNIT = { us: 1, 'µs': 1, ms: 1_000, s: 1_000_000, m: 60_000_000, h: 3_600_000_000 } as const;
type DurationUnit = keyof typeof US_PER_UNIT;

/** A number (`5`, `1.5`, `.5`) then, after optional spaces, a unit (longest first: `ms` before `m`). */
const PART = String.raw`(\d+(?:\.\d+)?|\.\d+)\s*(us|µs|ms|s|m|h)`;
const SPAN_RE = new RegExp(`^(?:${PART})+$`);
const LATENCY_RE = new RegExp(`^${PART}$`);
const LATENCY_UNITS: ReadonlySet<string> = new Set<DurationUnit>(['us', 'µs', 'ms', 's']);

/** A scenario duration (`30s`, `500ms`, `2m`, `1h`, `1m30s`) in milliseconds, or undefined when it is not one. */
export function parseDurationMs(text: string): number | undefined {
  const compact = text.trim();
  if (!SPAN_RE.test(compact)) return undefined;
  let us = 0;
  for (const [, value, unit] of compact.matchAll(new RegExp(PART, 'g'))) us += Number(value) * US_PER_UNIT[unit as DurationUnit];
  return us / 1000;
}

/** A latency (`250us`, `250µs`, `5 ms`, `.5s`) in microseconds, or undefined when it is not one. */
export function parseLatencyUs(text: string): number | undefined {
  const m = LATENCY_RE.exec(text.trim());
  if (!m || !LATENCY_UNITS.has(m[2]!)) return undefined;
  return Number(m[1]) * US_PER_UNIT[m[2] as DurationUnit];
}
