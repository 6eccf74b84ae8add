/**
 * The load models by name: each builds its executor. Their options are validated by each model's
 * config file in src/scenario/load-models/ (the scenario is checked without loading the engine).
 */
import { ClosedExecutor } from './closed.js';
import { constantRateSchedule, createConstantRate } from './constant-rate.js';
import { createRampingRate, rampingRateSchedule } from './ramping-rate.js';
import type { ArrivalSchedule } from '../schedule.js';
import type { LoadConfig } from '../../scenario/load-models/index.js';
import type { Executor, ExecutorContext } from './types.js';

export type { Executor, ExecutorContext } from './types.js';

/** The open models' schedule (undefined for closed), e.g. for the target rate in reports. */
export function scheduleOf(load: LoadConfig, durationMs: number | undefined): ArrivalSchedule | undefined {
  switch (load.model) {
    case 'closed': return undefined;
    case 'constant-rate': return constantRateSchedule(load, durationMs);
    case 'ramping-rate': return rampingRateSchedule(load);
  }
}

export function createExecutor(ctx: ExecutorContext, load: LoadConfig, durationMs: number | undefined): Executor {
  switch (load.model) {
    case 'closed': return new ClosedExecutor(ctx, load.inFlight);
    case 'constant-rate': return createConstantRate(ctx, load, durationMs);
    case 'ramping-rate': return createRampingRate(ctx, load);
  }
}
