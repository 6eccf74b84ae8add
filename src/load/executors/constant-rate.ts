/**
 * Constant arrival rate: `load.rate` requests per second across all workers, from one fixed start,
 * until `duration` passes or `requests` are sent. See open-loop.ts for how sends are made.
 */
import { ArrivalSchedule } from '../schedule.js';
import { OpenLoopExecutor } from './open-loop.js';
import type { LoadConfig } from '../../scenario/load-models/index.js';
import type { Executor, ExecutorContext } from './types.js';

export function constantRateSchedule(load: LoadConfig, durationMs: number | undefined): ArrivalSchedule {
  return ArrivalSchedule.constant(load.rate!, durationMs ?? Infinity);
}

export function createConstantRate(ctx: ExecutorContext, load: LoadConfig, durationMs: number | undefined): Executor {
  return new OpenLoopExecutor(ctx, constantRateSchedule(load, durationMs));
}
