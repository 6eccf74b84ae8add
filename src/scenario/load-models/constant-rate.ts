/** The constant-rate model's options: `rate` requests per second (runtime: src/load/executors/constant-rate.ts). */
import type { LoadConfig, LoadIssue } from './issue.js';

export function validateConstantRate(load: LoadConfig): LoadIssue[] {
  const issues: LoadIssue[] = [];
  if (load.rate === undefined) issues.push({ path: ['load', 'rate'], message: 'a rate in requests per second (required by model constant-rate)', input: undefined });
  if (load.startRate !== undefined) issues.push({ path: ['load', 'startRate'], message: 'no startRate with model constant-rate (it is for ramping-rate)', input: load.startRate });
  if (load.stages !== undefined) issues.push({ path: ['load', 'stages'], message: 'no stages with model constant-rate (it is for ramping-rate)', input: load.stages });
  return issues;
}
