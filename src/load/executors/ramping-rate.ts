/**
 * Ramping arrival rate: from `load.startRate` (default 0) the rate moves linearly to each stage's
 * `target` over that stage's `duration` (k6's ramping-arrival-rate). The run lasts the sum of the
 * stages unless `duration` or `requests` end it first. See open-loop.ts for how sends are made.
 */
import { ArrivalSchedule } from '../schedule.js';
import { OpenLoopExecutor } from './open-loop.js';
import type { Executor, ExecutorContext, LoadConfig, LoadIssue } from './types.js';

export function validateRampingRate(load: LoadConfig): LoadIssue[] {
  const issues: LoadIssue[] = [];
  if (load.stages === undefined) {
    issues.push({ path: ['load', 'stages'], message: 'a list of stages like [{duration: "10s", target: 1000}] (required by model ramping-rate)', input: undefined });
  }
  if (load.rate !== undefined) issues.push({ path: ['load', 'rate'], message: 'no rate with model ramping-rate (use startRate and stages)', input: load.rate });
  if (load.stages !== undefined && load.stages.every((s) => s.target === 0) && (load.startRate ?? 0) === 0) {
    issues.push({ path: ['load', 'stages'], message: 'at least one stage with a target > 0 (or a startRate > 0)', input: load.stages });
  }
  return issues;
}

export function rampingRateSchedule(load: LoadConfig): ArrivalSchedule {
  return new ArrivalSchedule(load.startRate ?? 0, (load.stages ?? []).map((s) => ({ durationMs: s.duration, target: s.target })));
}

export function createRampingRate(ctx: ExecutorContext, load: LoadConfig): Executor {
  return new OpenLoopExecutor(ctx, rampingRateSchedule(load));
}
