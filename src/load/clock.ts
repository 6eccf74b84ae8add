/**
 * One clock for every thread of a run. The real-time checks (real-time-order, no-undersell)
 * compare a reply seen on one worker thread with a send made on another, so "before" must mean
 * the same thing on both.
 *
 * `performance.now()` is cheap but counts from an origin each thread is given (and
 * `performance.timeOrigin` is an epoch estimate per thread): Node 20 happens to share them, but
 * nothing promises it. `process.hrtime` reads the process-wide monotonic clock (CLOCK_MONOTONIC),
 * the same in every thread, and `performance.now()` reads that same clock minus the thread's
 * origin. So each thread measures its constant offset once (the pair of readings with the
 * smallest gap, error below a microsecond) and from then on reads the shared clock at the price of
 * `performance.now()`.
 */
import { performance } from 'node:perf_hooks';

/** The process-wide monotonic clock in milliseconds (slow: a BigInt per call; use `threadClock()`). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export interface ThreadClock {
  /** The shared monotonic clock, milliseconds. */
  nowMs(): number;
  /** Upper bound of this thread's calibration error, milliseconds. */
  readonly errorMs: number;
}

/** Calibrates this thread's `performance.now()` against the shared clock. */
export function threadClock(samples = 64): ThreadClock {
  let bestGap = Infinity;
  let offset = 0;
  for (let i = 0; i < samples; i++) {
    const before = process.hrtime.bigint();
    const p = performance.now();
    const after = process.hrtime.bigint();
    const gap = Number(after - before);
    if (gap < bestGap) {
      bestGap = gap;
      offset = Number(before + after) / 2e6 - p;
    }
  }
  return { nowMs: () => performance.now() + offset, errorMs: bestGap / 2e6 };
}

/** Wall-clock time of a moment given on the shared clock (for `startedAt`). */
export function wallClockOf(monotonic: number, clock: ThreadClock): Date {
  return new Date(Date.now() + (monotonic - clock.nowMs()));
}
