/**
 * Thresholds, k6-style: `thresholds: {"latency.ok.p99": "< 5ms", "throughput": ">= 20000"}`. A
 * metric name maps to one condition (or a list of them). Parsing is pure and returns every problem
 * at once as {path, expected, got}, so the scenario loader prints them in its one-line format
 * (`file: thresholds.latency.ok.p99: expected …, got …`) and exits 2 before any load is sent.
 */
import { parseLatencyUs } from '../duration.js';
import { OUTCOMES, type Outcome } from '../outcomes.js';
import { COVERAGE_COUNTS, type CoverageCount } from '../summary/coverage.js';
import type { ShardFigures, ThresholdUnit as Unit } from '../summary/summary.js';

export const OPERATORS = ['<=', '>=', '==', '!=', '<', '>'] as const;
export type Operator = (typeof OPERATORS)[number];

/** The outcomes a fault's window excuses: `outcomesOutsideFaults.<outcome>`. */
export const OUTSIDE_FAULTS_OUTCOMES = ['error', 'unknown'] as const;
export type OutsideFaultsOutcome = (typeof OUTSIDE_FAULTS_OUTCOMES)[number];

export const LATENCY_STATS = ['p50', 'p90', 'p99', 'p999', 'max', 'mean'] as const;
export type LatencyStat = (typeof LATENCY_STATS)[number];

/**
 * What a threshold measures. Latencies are microseconds (the unit of summary.json); `share` is a
 * fraction of all requests (written as a percentage); rates are per second.
 */
export type Metric =
  | { kind: 'latency'; outcome: Outcome; stat: LatencyStat }
  | { kind: 'throughput' }
  | { kind: 'achievedRate' }
  | { kind: 'requests' }
  | { kind: 'dropped' }
  | { kind: 'outcome'; outcome: Outcome }
  /** Error or unknown outcomes outside every fault window (summary.json's `outcomesOutsideFaults`). */
  | { kind: 'outsideFaults'; outcome: OutsideFaultsOutcome }
  /** A count of summary.json's `coverage`, e.g. `coverage.partialBoundary: "> 0"` requires the run to reach that boundary. */
  | { kind: 'coverage'; count: CoverageCount }
  /** A figure of summary.json's `shards`: the largest or smallest over the shards, or shard i's (0-based). */
  | { kind: 'shard'; which: 'max' | 'min' | number; field: ShardField }
  /** The busiest shard's share of the requests. */
  | { kind: 'hottestShardShare' };

/** The per-shard figures a threshold (`shards.max.<field>`) or a comparison can name, with their unit. */
export const SHARD_FIELDS = {
  'latency.ok.p50': 'us',
  'latency.ok.p99': 'us',
  'latency.ok.p999': 'us',
  requests: 'count',
  throughput: 'per_s',
  usecPerCall: 'us',
  serverCpu: 'count',
} as const satisfies Record<string, Unit>;
export type ShardField = keyof typeof SHARD_FIELDS;

/** One shard's value of a field (null when the run did not measure it: no ok reply, INFO refused). */
export function shardValue(shard: ShardFigures, field: ShardField): number | null {
  switch (field) {
    case 'latency.ok.p50': return shard.latency.ok?.p50 ?? null;
    case 'latency.ok.p99': return shard.latency.ok?.p99 ?? null;
    case 'latency.ok.p999': return shard.latency.ok?.p999 ?? null;
    case 'requests': return shard.requests;
    case 'throughput': return shard.throughput;
    case 'usecPerCall': return shard.usecPerCall;
    case 'serverCpu': return shard.serverCpu;
  }
}

/** A shard figure over the shards: the largest, the smallest (of those measured) or shard i's; null when none was measured. */
export function shardFigure(shards: readonly ShardFigures[], which: 'max' | 'min' | number, field: ShardField): number | null {
  if (typeof which === 'number') {
    const shard = shards[which];
    return shard ? shardValue(shard, field) : null;
  }
  const values = shards.map((s) => shardValue(s, field)).filter((v): v is number => v !== null);
  if (values.length === 0) return null;
  return which === 'max' ? Math.max(...values) : Math.min(...values);
}

export interface Threshold {
  /** The metric name as written, e.g. `latency.ok.p99`. */
  readonly name: string;
  /** The condition as written, e.g. `< 5ms`. */
  readonly condition: string;
  readonly metric: Metric;
  readonly operator: Operator;
  readonly unit: Unit;
  /** The limit in `unit` (microseconds, per second, a count, or a fraction 0..1). */
  readonly limit: number;
  /** `0.95*target`: the limit is this factor times the run's target rate (open load models). */
  readonly targetFactor?: number;
  /** Added by sellout, not written in the scenario (see DEFAULT_THRESHOLDS). */
  readonly isDefault?: boolean;
}

export interface ThresholdProblem {
  /** Path inside the scenario, e.g. ['thresholds', 'latency.ok.p99']. */
  readonly path: string[];
  readonly expected: string;
  readonly got: unknown;
}

const SHARD_METRIC_NAMES = `shards.<max|min|N>.<${Object.keys(SHARD_FIELDS).join('|')}>`;
const METRIC_NAMES =
  `latency.<outcome>.<p50|p90|p99|p999|max|mean>, throughput, achievedRate, requests, dropped, outcomes.<outcome>, outcomesOutsideFaults.<error|unknown>, ${SHARD_METRIC_NAMES}, hottestShardShare, ` +
  `coverage.<${COVERAGE_COUNTS.join('|')}>`;

export function parseMetric(name: string): Metric | undefined {
  const parts = name.split('.');
  const outcome = (text: string | undefined) => (OUTCOMES as readonly string[]).includes(text ?? '') ? (text as Outcome) : undefined;
  if (parts.length === 1) {
    if (name === 'throughput' || name === 'achievedRate' || name === 'requests' || name === 'dropped' || name === 'hottestShardShare') return { kind: name };
    return undefined;
  }
  if (parts[0] === 'shards' && parts.length >= 3) {
    const which = parts[1] === 'max' || parts[1] === 'min' ? parts[1] : /^(0|[1-9]\d{0,4})$/.test(parts[1]!) ? Number(parts[1]) : undefined;
    const field = parts.slice(2).join('.');
    return which !== undefined && Object.hasOwn(SHARD_FIELDS, field) ? { kind: 'shard', which, field: field as ShardField } : undefined;
  }
  if (parts[0] === 'outcomes' && parts.length === 2) {
    const o = outcome(parts[1]);
    return o ? { kind: 'outcome', outcome: o } : undefined;
  }
  if (parts[0] === 'outcomesOutsideFaults' && parts.length === 2) {
    const o = (OUTSIDE_FAULTS_OUTCOMES as readonly string[]).includes(parts[1]!) ? (parts[1] as OutsideFaultsOutcome) : undefined;
    return o ? { kind: 'outsideFaults', outcome: o } : undefined;
  }
  if (parts[0] === 'coverage' && parts.length === 2) {
    const count = (COVERAGE_COUNTS as readonly string[]).includes(parts[1]!) ? (parts[1] as CoverageCount) : undefined;
    return count ? { kind: 'coverage', count } : undefined;
  }
  if (parts[0] === 'latency' && parts.length === 3) {
    const o = outcome(parts[1]);
    const stat = (LATENCY_STATS as readonly string[]).includes(parts[2]!) ? (parts[2] as LatencyStat) : undefined;
    return o && stat ? { kind: 'latency', outcome: o, stat } : undefined;
  }
  return undefined;
}

function expectedFor(metric: Metric): string {
  switch (metric.kind) {
    case 'latency':
      return 'a condition on a duration with a unit, like "< 5ms" (operators <, <=, >, >=, ==, !=; units us, ms, s)';
    case 'throughput':
    case 'achievedRate':
      return 'a condition on a rate per second, like ">= 20000" or ">= 0.95*target" (operators <, <=, >, >=, ==, !=)';
    case 'requests':
      return 'a condition on a count, like ">= 1000" (operators <, <=, >, >=, ==, !=)';
    case 'coverage':
      return 'a condition on a count, like "> 0" (operators <, <=, >, >=, ==, !=)';
    case 'shard':
      switch (SHARD_FIELDS[metric.field]) {
        case 'us': return 'a condition on a duration with a unit, like "< 5ms" (operators <, <=, >, >=, ==, !=; units us, ms, s)';
        case 'per_s': return 'a condition on a rate per second, like ">= 5000" (operators <, <=, >, >=, ==, !=)';
        default: return metric.field === 'serverCpu'
          ? 'a condition on a number of cores, like "< 0.8" (operators <, <=, >, >=, ==, !=)'
          : 'a condition on a count, like ">= 1000" (operators <, <=, >, >=, ==, !=)';
      }
    case 'hottestShardShare':
      return 'a condition on a share of the requests, like "< 0.5" or "< 50%" (operators <, <=, >, >=, ==, !=)';
    case 'dropped':
    case 'outcome':
    case 'outsideFaults':
      return 'a condition on a count or a share of requests, like "== 0" or "< 0.1%" (operators <, <=, >, >=, ==, !=)';
  }
}

const NUMBER = String.raw`(\d+(?:\.\d+)?|\.\d+)`;
const CONDITION_RE = /^\s*(<=|>=|==|!=|<|>)\s*(.*?)\s*$/;
const PLAIN_RE = new RegExp(`^${NUMBER}$`);
const PERCENT_RE = new RegExp(`^${NUMBER}\\s*%$`);
const TARGET_RE = new RegExp(`^(?:${NUMBER}\\s*\\*\\s*)?target$`);

/** Parses one condition for one metric; returns the threshold or what was expected. */
export function parseCondition(name: string, metric: Metric, condition: string): Threshold | { expected: string } {
  const parsed = parseConditionUnchecked(name, metric, condition);
  // "< 999…9ms" with hundreds of digits parses to Infinity: a limit nothing can meet or miss.
  // (A `F*target` condition has no limit of its own until the run gives the target.)
  if ('limit' in parsed && !Number.isFinite(parsed.targetFactor ?? parsed.limit)) return { expected: expectedFor(metric) };
  return parsed;
}

function parseConditionUnchecked(name: string, metric: Metric, condition: string): Threshold | { expected: string } {
  const expected = { expected: expectedFor(metric) };
  const m = CONDITION_RE.exec(condition);
  if (!m) return expected;
  const operator = m[1] as Operator;
  const value = m[2]!;
  const base = { name, condition: condition.trim(), metric, operator };
  switch (metric.kind) {
    case 'latency': {
      // The duration grammar (src/duration.ts): one number and a unit, us/µs/ms/s.
      const us = parseLatencyUs(value);
      return us !== undefined ? { ...base, unit: 'us', limit: us } : expected;
    }
    case 'throughput':
    case 'achievedRate': {
      const t = TARGET_RE.exec(value);
      if (t) return { ...base, unit: 'per_s', limit: Number.NaN, targetFactor: t[1] === undefined ? 1 : Number(t[1]) };
      const p = PLAIN_RE.exec(value);
      return p ? { ...base, unit: 'per_s', limit: Number(p[1]) } : expected;
    }
    case 'requests':
    case 'coverage': {
      const p = PLAIN_RE.exec(value);
      return p ? { ...base, unit: 'count', limit: Number(p[1]) } : expected;
    }
    case 'shard': {
      const unit = SHARD_FIELDS[metric.field];
      if (unit === 'us') {
        const us = parseLatencyUs(value);
        return us !== undefined ? { ...base, unit, limit: us } : expected;
      }
      const p = PLAIN_RE.exec(value);
      return p ? { ...base, unit, limit: Number(p[1]) } : expected;
    }
    case 'hottestShardShare': {
      // A fraction (0.5) or a percentage (50%): either way a share of 1 at most.
      const pct = PERCENT_RE.exec(value);
      const share = pct ? Number(pct[1]) / 100 : PLAIN_RE.test(value) ? Number(value) : Number.NaN;
      return share <= 1 ? { ...base, unit: 'share', limit: share } : expected;
    }
    case 'dropped':
    case 'outcome':
    case 'outsideFaults': {
      const pct = PERCENT_RE.exec(value);
      if (pct) return Number(pct[1]) <= 100 ? { ...base, unit: 'share', limit: Number(pct[1]) / 100 } : expected;
      const p = PLAIN_RE.exec(value);
      return p ? { ...base, unit: 'count', limit: Number(p[1]) } : expected;
    }
  }
}

/**
 * Parses the scenario's `thresholds` mapping. A metric may carry one condition or a list of them;
 * unknown metric names and malformed conditions are problems, all reported at once.
 */
export function parseThresholds(raw: unknown): { thresholds: Threshold[]; problems: ThresholdProblem[] } {
  const thresholds: Threshold[] = [];
  const problems: ThresholdProblem[] = [];
  if (raw === undefined || raw === null) return { thresholds, problems };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push({ path: ['thresholds'], expected: 'a mapping of metric to condition, like {"latency.ok.p99": "< 5ms"}', got: raw });
    return { thresholds, problems };
  }
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    const metric = parseMetric(name);
    if (!metric) {
      problems.push({ path: ['thresholds', name], expected: `a metric name (${METRIC_NAMES})`, got: name });
      continue;
    }
    const conditions = Array.isArray(value) ? value : [value];
    if (conditions.length === 0) problems.push({ path: ['thresholds', name], expected: expectedFor(metric), got: value });
    conditions.forEach((condition, i) => {
      const path = Array.isArray(value) ? ['thresholds', name, String(i)] : ['thresholds', name];
      if (typeof condition !== 'string') {
        problems.push({ path, expected: expectedFor(metric), got: condition });
        return;
      }
      const parsed = parseCondition(name, metric, condition);
      if ('expected' in parsed) problems.push({ path, expected: parsed.expected, got: condition });
      else thresholds.push(parsed);
    });
  }
  return { thresholds, problems };
}

/**
 * Thresholds every run has unless its scenario sets the same metric: an error reply is a
 * deduction that neither happened nor was refused for a reason the contract names, so a run with
 * one fails by default (exit 4). A scenario that expects errors says so
 * (`outcomes.error: "< 1%"`), and --no-thresholds turns this off with the rest.
 *
 * In a run with timed faults the default counts only the errors outside every fault's window
 * (evaluate.ts): errors a declared fault causes are expected. A scenario that sets
 * `outcomesOutsideFaults.error` has said how many it allows there, so it has no default either.
 */
export function withDefaultThresholds(declared: readonly Threshold[]): Threshold[] {
  const defaults: Threshold[] = [];
  if (!declared.some((t) => t.name === 'outcomes.error' || t.name === 'outcomesOutsideFaults.error')) {
    const parsed = parseCondition('outcomes.error', { kind: 'outcome', outcome: 'error' }, '== 0');
    if ('limit' in parsed) defaults.push({ ...parsed, isDefault: true });
  }
  return [...declared, ...defaults];
}
