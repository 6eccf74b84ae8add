/** The console lines for threshold results and the overall verdict (the CLI prints them after the summary). */
import type { SummaryV1, ThresholdResult } from '../summary/summary.js';
import { verdictHeadline, verdictOf } from '../summary/verdict.js';

const MARK = { pass: 'PASS', fail: 'FAIL', skipped: 'SKIP' } as const;

export function formatThresholds(results: readonly ThresholdResult[]): string {
  if (results.length === 0) return '';
  return ['  thresholds', ...results.map((r) => `    ${MARK[r.status]}  ${r.text}`)].join('\n');
}

/** The last line of a run's output: the verdict and the exit code it gives. */
export function formatVerdictLine(summary: SummaryV1): string {
  return `  verdict     ${verdictHeadline(summary)} (exit ${verdictOf(summary).exitCode})`;
}
