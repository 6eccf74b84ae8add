/**
 * summary.json, version 1 (documented in docs/summary.md). Built from values only; the CLI
 * writes it. Latencies are in microseconds.
 */
import { OUTCOMES, type Outcome, type OutcomeCounts } from '../outcomes.js';
import type { LatencyPercentiles } from '../metrics/histogram.js';
import type { InvariantResult } from '../verify/invariants.js';
import type { TargetInfo } from '../target/index.js';

export const SUMMARY_VERSION = 1;

export type RunStatus = 'pass' | 'fail' | 'interrupted';

export interface SkuSummary {
  sku: number;
  initial: number;
  /** Final stock as stored: a number when it is an integer string, else the raw text (or null when missing). */
  final: number | string | null;
  journal: number;
}

export interface SummaryV1 {
  version: typeof SUMMARY_VERSION;
  sellout: { version: string; node: string };
  run: { id: string; startedAt: string; finishedAt: string; keysKept: boolean };
  scenario: { name: string; description?: string; file: string; script: string; scriptSha: string; asRun: string };
  status: RunStatus;
  /** Requests that got a reply or an unknown outcome (twins included). */
  requests: number;
  /** Requests the scenario asked for (null for duration scenarios). */
  planned: number | null;
  durationMs: number;
  /** Replies per second over durationMs. */
  throughput: number;
  outcomes: OutcomeCounts;
  /** Per outcome, microseconds; null when the outcome never occurred. */
  latency: Record<Outcome, LatencyPercentiles | null>;
  load: { model: string; connections: number; inFlight: number; workers: number };
  invariants: InvariantResult[];
  skus: SkuSummary[];
  target: TargetInfo;
}

export function statusOf(invariants: readonly InvariantResult[], interrupted: boolean): RunStatus {
  if (interrupted) return 'interrupted';
  return invariants.some((i) => i.status === 'fail') ? 'fail' : 'pass';
}

export function latencyByOutcome(percentilesByCode: readonly LatencyPercentiles[]): Record<Outcome, LatencyPercentiles | null> {
  return Object.fromEntries(
    OUTCOMES.map((name, code) => {
      const p = percentilesByCode[code];
      return [name, p && p.count > 0 ? p : null];
    }),
  ) as Record<Outcome, LatencyPercentiles | null>;
}
