/**
 * The one interval of the per-second series: a recorder closes one histogram per outcome each
 * interval (by reply time), the series builder merges them across workers, and latency.hlog and
 * summary.json's `series` report them. Defined once so the threads and the reports cannot disagree.
 */
export const INTERVAL_MS = 1000;
/** The same interval in microseconds (the unit of the engine's clocks). */
export const INTERVAL_US = INTERVAL_MS * 1000;

/** One finished interval of one thread: counts per outcome and encoded histograms (null if empty). */
export interface IntervalReport {
  /** Interval number: it covers [n, n+1) intervals after t0, by reply time. */
  readonly n: number;
  readonly counts: number[];
  readonly encoded: (string | null)[];
}
