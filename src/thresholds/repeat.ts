/**
 * `sellout run --repeat N`: one gate over N runs of a scenario on fresh keys. On a shared machine
 * one run's p99 can double from noise alone; the median of N runs holds, and the spread (min,
 * median, max) shows noise apart from a regression. Every run's invariants must hold: a
 * correctness failure in any run is a failure, whatever the medians say. Pure.
 */
import type { SummaryV1, ThresholdResult } from '../summary/summary.js';
import { compare, formatValue } from './evaluate.js';
import type { Threshold } from './parse.js';

export interface RepeatedThreshold {
  readonly name: string;
  readonly condition: string;
  /** Each run's value (null where the run could not measure it). */
  readonly values: (number | null)[];
  readonly min: number | null;
  readonly median: number | null;
  readonly max: number | null;
  readonly limit: number | null;
  readonly status: ThresholdResult['status'];
  /** One line for the console: `latency.ok.p99 < 5ms: median 1.2 ms [0.9 ms .. 3.1 ms] over 5 runs`. */
  readonly text: string;
}

export interface RepeatVerdict {
  readonly runs: number;
  readonly thresholds: RepeatedThreshold[];
  /** The worst run's exit code for everything but thresholds (an invariant, the target, an interrupt), else 4 when a median fails, else 0. */
  readonly exitCode: number;
}

/** Exit codes from most to least serious (DESIGN.md §8): 70 over 130 over 3 over 1 over 4. */
const PRECEDENCE = [70, 130, 3, 1, 4];

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** `thresholds`: the scenario's, as evaluated in each summary (same order). */
export function repeatVerdict(summaries: readonly SummaryV1[], thresholds: readonly Threshold[]): RepeatVerdict {
  const results = thresholds.map((t, k): RepeatedThreshold => {
    const perRun = summaries.map((s) => s.thresholds?.[k]);
    const values = perRun.map((r) => (r && r.name === t.name ? r.actual : null));
    const measured = values.filter((v): v is number => v !== null);
    const limits = perRun.map((r) => r?.limit).filter((v): v is number => v !== null && v !== undefined);
    const limit = median(limits);
    const mid = median(measured);
    const spread = measured.length > 0 ? ` [${formatValue(Math.min(...measured), t.unit)} .. ${formatValue(Math.max(...measured), t.unit)}]` : '';
    let status: ThresholdResult['status'];
    let text: string;
    if (mid === null || limit === null) {
      // Nothing to take a median of: as each run judged it (skipped when every run skipped it).
      status = perRun.every((r) => r?.status === 'skipped') ? 'skipped' : 'fail';
      text = `${t.name} ${t.condition}: not measured in any of the ${summaries.length} runs`;
    } else {
      status = compare(mid, t.operator, limit) ? 'pass' : 'fail';
      text = `${t.name} ${t.condition}: median ${formatValue(mid, t.unit)}${spread} over ${measured.length} run(s), limit ${formatValue(limit, t.unit)}`;
    }
    return {
      name: t.name,
      condition: t.condition,
      values,
      min: measured.length > 0 ? Math.min(...measured) : null,
      median: mid,
      max: measured.length > 0 ? Math.max(...measured) : null,
      limit,
      status,
      text,
    };
  });
  // A run's own threshold failures (exit 4) are replaced by the medians' verdict; anything else stands.
  const codes = summaries.map((s) => s.verdict?.exitCode ?? 0).filter((code) => code !== 0 && code !== 4);
  const worst = PRECEDENCE.find((code) => codes.includes(code)) ?? codes[0];
  const exitCode = worst ?? (results.some((r) => r.status === 'fail') ? 4 : 0);
  return { runs: summaries.length, thresholds: results, exitCode };
}
