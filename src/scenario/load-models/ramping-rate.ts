/** The ramping-rate model's options: `startRate` and `stages` (runtime: src/load/executors/ramping-rate.ts). */
import type { LoadConfig, LoadIssue } from './issue.js';

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
