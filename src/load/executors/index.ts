/** The load models by name: each validates its own options (all problems at once) and builds its executor. */
import { ClosedExecutor, validateClosed } from './closed.js';
import { constantRateSchedule, createConstantRate, validateConstantRate } from './constant-rate.js';
import { createRampingRate, rampingRateSchedule, validateRampingRate } from './ramping-rate.js';
import type { ArrivalSchedule } from '../schedule.js';
import type { Executor, ExecutorContext, LoadConfig, LoadIssue } from './types.js';

export type { Executor, ExecutorContext, LoadIssue } from './types.js';

export function validateLoadModel(load: LoadConfig): LoadIssue[] {
  switch (load.model) {
    case 'closed': return validateClosed(load);
    case 'constant-rate': return validateConstantRate(load);
    case 'ramping-rate': return validateRampingRate(load);
  }
}

export function isOpenModel(model: LoadConfig['model']): boolean {
  return model !== 'closed';
}

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
