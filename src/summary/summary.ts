/**
 * summary.json, version 1 (documented in docs/summary.md). Built from values only; the CLI
 * writes it. Latencies are in microseconds.
 */
import { OUTCOMES, type Outcome, type OutcomeCounts } from '../outcomes.js';
import type { LatencyPercentiles } from '../metrics/histogram.js';
import type { InvariantResult } from '../verify/invariants.js';
import type { CoverageV1 } from './coverage.js';
import type { TargetInfo } from '../redis/index.js';
import type { ThresholdResult } from '../thresholds/evaluate.js';
import type { ErrorReplyCount } from '../load/error-replies.js';

export const SUMMARY_VERSION = 1;

export type RunStatus = 'pass' | 'fail' | 'interrupted' | 'crashed';

export interface SkuSummary {
  sku: number;
  initial: number;
  /** Final stock as stored: a number when it is an integer string, else the raw text (or null when missing). */
  final: number | string | null;
  journal: number;
}

/**
 * Per-interval series (the engine fills it): replies and latency per outcome, and stock sampled
 * from Redis at each interval's end. Arrays are aligned with `t`.
 */
export interface SeriesV1 {
  intervalMs: number;
  /** Start of each interval, milliseconds since the run's t0. */
  t: number[];
  replies: Partial<Record<Outcome, number[]>>;
  /** Latency percentiles per interval, microseconds; null for an interval without that outcome. */
  p50: Partial<Record<Outcome, (number | null)[]>>;
  p99: Partial<Record<Outcome, (number | null)[]>>;
  max: Partial<Record<Outcome, (number | null)[]>>;
  /** Stock per SKU at each interval's end (at most the 10 busiest SKUs). */
  stock: { sku: number; values: (number | null)[] }[];
}

export interface SummaryV1 {
  version: typeof SUMMARY_VERSION;
  sellout: { version: string; node: string };
  run: {
    id: string;
    startedAt: string;
    finishedAt: string;
    /** The run's keys are still in Redis: --keep, or a cleanup that failed (then `keysLeft` says how many). */
    keysKept: boolean;
    keysLeft?: { pattern: string; count: number; reason: string };
  };
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
  /** Open models: sends that could not start because max in-flight was reached. */
  dropped?: number;
  /** Open models: achieved send rate (per second) and its target. */
  achievedRate?: number;
  targetRate?: number;
  /** Open models: latency from the actual send (latency.* is from the intended send). */
  latencyRaw?: Record<Outcome, LatencyPercentiles | null>;
  series?: SeriesV1;
  invariants: InvariantResult[];
  /** Edge conditions the run exercised, and a warning for each it did not (summary/coverage.ts); absent when Redis could not be read back. */
  coverage?: CoverageV1;
  /**
   * Set when Redis could not be read back after the load (server gone, connection lost): the
   * invariants were not checked (all skipped), the run fails and exits 3, and what was measured
   * is still reported.
   */
  targetLost?: string;
  /** Set when a duration run stopped at maxRecords before its planned end (the verdict still stands for what ran). */
  capped?: string;
  /** Set when a load worker crashed (a bug in sellout): what the others measured, nothing verified, exit 70. */
  crashed?: string;
  /** Why load connections closed during the run (their requests in flight are `unknown` outcomes). */
  connectionErrors?: string[];
  /** Load connections reopened after a timeout or a close by the server. */
  reconnects?: number;
  /** The distinct error replies deductions got (`error` outcomes), with counts, most frequent first. */
  errorReplies?: ErrorReplyCount[];
  skus: SkuSummary[];
  target: TargetInfo;
  /** The scenario's thresholds, evaluated after the run (absent with --no-thresholds or none declared). */
  thresholds?: ThresholdResult[];
  /** Where the run ran, for reports (filled by the CLI). */
  environment?: EnvironmentV1;
  /** The overall verdict (invariants, thresholds, interruption) and the exit code it gives. */
  verdict?: VerdictV1;
}

export interface EnvironmentV1 {
  /** Git commit of the sellout checkout that ran, or null outside a git checkout. */
  commit: string | null;
  os: string;
  arch: string;
  cpuModel: string;
  cores: number;
  memoryMb: number;
}

export interface VerdictV1 {
  status: RunStatus;
  exitCode: number;
  /** One line per failed invariant or threshold (or why the run was interrupted). */
  reasons: string[];
}

export function statusOf(invariants: readonly InvariantResult[], interrupted: boolean, targetLost = false, crashed = false): RunStatus {
  if (crashed) return 'crashed';
  if (interrupted) return 'interrupted';
  return targetLost || invariants.some((i) => i.status === 'fail') ? 'fail' : 'pass';
}

export function latencyByOutcome(percentilesByCode: readonly LatencyPercentiles[]): Record<Outcome, LatencyPercentiles | null> {
  return Object.fromEntries(
    OUTCOMES.map((name, code) => {
      const p = percentilesByCode[code];
      return [name, p && p.count > 0 ? p : null];
    }),
  ) as Record<Outcome, LatencyPercentiles | null>;
}
