/**
 * The closed model's options: `connections` x `inFlight` requests outstanding. The runtime is
 * src/load/executors/closed.ts; this file imports nothing from it, so validating a scenario does
 * not load the engine.
 */
import type { LoadConfig, LoadIssue } from './issue.js';

/** Keys that only open models take. */
const OPEN_ONLY = ['rate', 'startRate', 'stages', 'maxInFlight'] as const;

export function validateClosed(load: LoadConfig): LoadIssue[] {
  const issues: LoadIssue[] = [];
  for (const key of OPEN_ONLY) {
    if (load[key] !== undefined) {
      issues.push({ path: ['load', key], message: `no ${key} with model closed (it is for constant-rate / ramping-rate)`, input: load[key] });
    }
  }
  return issues;
}
