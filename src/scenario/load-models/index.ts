/**
 * The load models' options by name: each model validates its own (all problems at once) in its
 * config file here; its executor in src/load/executors/ runs it. The scenario schema checks a
 * scenario with these alone, without importing the engine.
 */
import { validateClosed } from './closed.js';
import { validateConstantRate } from './constant-rate.js';
import type { LoadConfig, LoadIssue } from './issue.js';
import { validateRampingRate } from './ramping-rate.js';

export type { LoadConfig, LoadIssue } from './issue.js';

export function validateLoadModel(load: LoadConfig): LoadIssue[] {
  switch (load.model) {
    case 'closed': return validateClosed(load);
    case 'constant-rate': return validateConstantRate(load);
    case 'ramping-rate': return validateRampingRate(load);
  }
}

/** Open models schedule sends against a fixed start clock and drop what cannot start (DESIGN §6). */
export function isOpenModel(model: LoadConfig['model']): boolean {
  return model !== 'closed';
}
