/**
 * Constant arrival rate: `load.rate` requests per second across all workers, from one fixed start,
 * until `duration` passes or `requests` are sent. See open-loop.ts for how sends are made.
 */
import { ArrivalSchedule } from '../schedule.js';
import { OpenLoopExecutor } from './open-loop.js';
import type { Executor, ExecutorContext, LoadConfig, LoadIssue } from './types.js';

export function validateConstantRate(load: LoadConfig): LoadIssue[] {
  const issues: LoadIssue[] = [];
  if (load.rate === undefined) issues.push({ path: ['load', 'rate'], message: 'a rate in requests per second (required by model constant-rate)', input: undefined });
  if (load.startRate !== undefined) issues.push({ path: ['load', 'startRate'], message: 'no startRate with model constant-rate (it is for ramping-rate)', input: load.startRate });
  if (load.stages !== undefined) issues.push({ path: ['load', 'stages'], message: 'no stages with model constant-rate (it is for ramping-rate)', input: load.stages });
  return issues;
}

export function constantRateSchedule(load: LoadConfig, durationMs: number | undefined): ArrivalSchedule {
  return ArrivalSchedule.constant(load.rate!, durationMs ?? Infinity);
}

export function createConstantRate(ctx: ExecutorContext, load: LoadConfig, durationMs: number | undefined): Executor {
  return new OpenLoopExecutor(ctx, constantRateSchedule(load, durationMs));
}
