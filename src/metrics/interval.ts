/**
 * The interval of the series: a recorder closes one histogram per outcome each interval (by reply
 * time), the series builder merges them across workers, and latency.hlog and summary.json's
 * `series` report them. One run has one interval, chosen before the load starts from how long the
 * run is expected to last (src/load/resolution.ts) and handed to every thread in its task, so the
 * threads and the reports cannot disagree.
 */

/**
 * The intervals a run may use, shortest first. A small set, so series of runs of similar length
 * line up when compared, and every one divides a minute.
 */
export const ALLOWED_INTERVALS_MS = [100, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000] as const;
/** The interval of code that does not know its run (hand-built series, tests): one second, as before. */
export const DEFAULT_INTERVAL_MS = 1000;
/** A run is cut into at least this many intervals, when the shortest interval allows it. */
export const MIN_POINTS = 50;

/**
 * The longest allowed interval that still cuts a run of `expectedMs` into MIN_POINTS intervals or
 * more; the shortest (100 ms) for a run too short for that (under 5 s). As the allowed intervals
 * grow by at most 3x, a run of the expected length gets 50 to 150 points (a 3 h run or longer:
 * more, at one a minute). Unknown length (NaN, Infinity, <= 0): one second.
 */
export function chooseIntervalMs(expectedMs: number): number {
  if (!Number.isFinite(expectedMs) || expectedMs <= 0) return DEFAULT_INTERVAL_MS;
  let chosen: number = ALLOWED_INTERVALS_MS[0];
  for (const ms of ALLOWED_INTERVALS_MS) if (expectedMs / ms >= MIN_POINTS) chosen = ms;
  return chosen;
}

/**
 * Intervals per progress tick (about a second; 1 for intervals of a second or longer). The
 * coordinator's progress line and the load workers' posting of closed intervals both go at this
 * pace, so the latest interval a progress line reads has arrived.
 */
export function intervalsPerTick(intervalMs: number): number {
  return Math.max(1, Math.round(1000 / intervalMs));
}

/**
 * One finished interval of one thread: counts per outcome and encoded histograms (null if empty):
 * V2 bytes from a load thread (cheap to make on the hot path), compressed base64 from a bundle.
 */
export interface IntervalReport {
  /** Interval number: it covers [n, n+1) intervals after t0, by reply time. */
  readonly n: number;
  readonly counts: number[];
  readonly encoded: (string | Uint8Array | null)[];
}
