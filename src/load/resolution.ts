/**
 * The series' time resolution of a run, decided before the load starts (the workers rotate their
 * interval histograms live, so they must know it from t0): how long the run is expected to last,
 * and the interval that cuts that into enough points (src/metrics/interval.ts chooseIntervalMs:
 * at least 50 points, 100 ms at the finest).
 *
 * Expected length:
 * - a `duration` run: the duration;
 * - an open model (constant-rate, ramping-rate) bounded by `requests`: when its schedule is due to
 *   make the last of them (requests / rate for a constant rate), or the schedule's end if sooner;
 * - the closed model bounded by `requests`: requests / CLOSED_RATE_ESTIMATE. Its rate is what the
 *   server gives, unknown before the run; the estimate is on the fast side (one Redis runs the
 *   deduct script at some 50-150k/s), so a slower server only makes more points, never fewer: a
 *   closed run of up to 250,000 requests (the shipped `hot-sku` is 200,000, under a second on a
 *   laptop) gets 100 ms, and 1.25 M requests or more get 250 ms and up.
 */
import { chooseIntervalMs } from '../metrics/interval.js';
import type { Scenario } from '../scenario/load.js';
import { scheduleOf } from './executors/index.js';

/** Deductions per second assumed for a closed `requests` run (see above: an estimate that errs fast). */
export const CLOSED_RATE_ESTIMATE = 100_000;

type Planned = Pick<Scenario, 'duration' | 'requests' | 'load'>;

/** How long the run is expected to last, milliseconds (Infinity when nothing bounds it). */
export function expectedRunMs(scenario: Planned): number {
  if (scenario.duration !== undefined) return scenario.duration;
  const requests = scenario.requests ?? Infinity;
  const schedule = scheduleOf(scenario.load, undefined);
  if (schedule === undefined) return (requests / CLOSED_RATE_ESTIMATE) * 1000;
  // The last request is due at timeOf(requests - 1) (Infinity if the schedule ends before it).
  return Math.min(schedule.totalMs, requests >= 1 ? schedule.timeOf(requests - 1) : 0);
}

/** The run's series interval, milliseconds. */
export function seriesIntervalMs(scenario: Planned): number {
  return chooseIntervalMs(expectedRunMs(scenario));
}
