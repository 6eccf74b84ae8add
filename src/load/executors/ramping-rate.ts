/**
 * Ramping arrival rate: from `load.startRate` (default 0) the rate moves linearly to each stage's
 * `target` over that stage's `duration` (k6's ramping-arrival-rate). The run lasts the sum of the
 * stages unless `duration` or `requests` end it first. See open-loop.ts for how sends are made.
 */
import { ArrivalSchedule } from '../schedule.js';
import { OpenLoopExecutor } from './open-loop.js';
import type { LoadConfig } from '../../scenario/load-models/index.js';
import type { Executor, ExecutorContext } from './types.js';

export function rampingRateSchedule(load: LoadConfig): ArrivalSchedule {
  return new ArrivalSchedule(load.startRate ?? 0, (load.stages ?? []).map((s) => ({ durationMs: s.duration, target: s.target })));
}

export function createRampingRate(ctx: ExecutorContext, load: LoadConfig): Executor {
  return new OpenLoopExecutor(ctx, rampingRateSchedule(load));
}
