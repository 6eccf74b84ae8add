/**
 * Evaluates parsed thresholds against a run's summary: pure, one result per threshold with the
 * actual value, the resolved limit and the margin (how much headroom is left, or by how much the
 * limit was missed), so a CI log says "latency.ok.p99 < 1us failed: 312 us, over by 311 us".
 */
import { outsideFaults, type SummaryV1, type ThresholdResult, type ThresholdUnit as Unit } from '../summary/summary.js';
import { shardFigure, type Operator, type Threshold } from './parse.js';

export function compare(actual: number, operator: Operator, limit: number): boolean {
  switch (operator) {
    case '<': return actual < limit;
    case '<=': return actual <= limit;
    case '>': return actual > limit;
    case '>=': return actual >= limit;
    case '==': return actual === limit;
    case '!=': return actual !== limit;
  }
}

/** Positive means room to spare; negative means the limit was missed by that much. */
function marginOf(actual: number, operator: Operator, limit: number): number {
  switch (operator) {
    case '<':
    case '<=': return limit - actual;
    case '>':
    case '>=': return actual - limit;
    case '==': return -Math.abs(actual - limit);
    case '!=': return Math.abs(actual - limit);
  }
}

export function formatValue(value: number, unit: Unit): string {
  switch (unit) {
    case 'us': {
      const us = Math.abs(value);
      const sign = value < 0 ? '-' : '';
      if (us < 1000) return `${sign}${+us.toFixed(1)} us`;
      if (us < 1_000_000) return `${sign}${+(us / 1000).toFixed(3)} ms`;
      return `${sign}${+(us / 1_000_000).toFixed(3)} s`;
    }
    case 'per_s': return `${+value.toFixed(1)}/s`;
    case 'count': return `${+value.toFixed(3)}`;
    case 'share': return `${+(value * 100).toPrecision(3)}%`;
  }
}

/**
 * `scope`: what the actual value counts when that is narrower than the metric's name says (the
 * default `outcomes.error` in a run with faults); it follows the value in the result's text.
 */
interface Measured { actual: number | null; reason?: string; skip?: boolean; scope?: string }

function measure(t: Threshold, s: SummaryV1): Measured {
  const m = t.metric;
  switch (m.kind) {
    case 'latency': {
      const p = s.latency[m.outcome];
      // No reply of that outcome means no latency to judge: not a failure (zero errors have no p99).
      return p ? { actual: p[m.stat] } : { actual: null, skip: true, reason: `no ${m.outcome} replies in this run` };
    }
    case 'throughput': return { actual: s.throughput };
    case 'requests': return { actual: s.requests };
    case 'achievedRate':
      return s.achievedRate !== undefined
        ? { actual: s.achievedRate }
        : { actual: null, reason: `not measured: the ${s.load.model} load model has no target rate (use an open model or remove this threshold)` };
    case 'dropped': {
      // A closed model never drops a send (it waits for a free slot), so its dropped count is 0.
      const dropped = s.dropped ?? (s.load.model === 'closed' ? 0 : undefined);
      if (dropped === undefined) return { actual: null, reason: 'not measured by this run' };
      return { actual: t.unit === 'share' ? (s.requests > 0 ? dropped / s.requests : 0) : dropped };
    }
    case 'outcome': {
      if (t.isDefault && m.outcome === 'error' && (s.faults?.length ?? 0) > 0) return defaultErrorsWithFaults(t, s);
      const count = s.outcomes[m.outcome];
      return { actual: t.unit === 'share' ? (s.requests > 0 ? count / s.requests : 0) : count };
    }
    case 'outsideFaults': {
      const count = outsideFaults(s, m.outcome);
      if (count === null) return { actual: null, reason: 'not measured: this summary has faults but no outcomesOutsideFaults' };
      return { actual: t.unit === 'share' ? (s.requests > 0 ? count / s.requests : 0) : count };
    }
    case 'coverage':
      // No coverage means nothing was verified (Redis not read back) or a summary older than
      // coverage: a gate that asks for coverage must not pass on it.
      return s.coverage !== undefined
        ? { actual: s.coverage[m.count] }
        : { actual: null, reason: 'not measured: this run has no coverage (Redis could not be read back after the load)' };
    case 'shard': {
      const shards = s.shards;
      if (shards === undefined) return { actual: null, reason: 'not measured: this summary has no per-shard figures (written before sellout measured shards)' };
      if (typeof m.which === 'number' && m.which >= shards.length) {
        return { actual: null, reason: `not measured: the run had ${shards.length} shard(s), numbered 0 to ${shards.length - 1}` };
      }
      const actual = shardFigure(shards, m.which, m.field);
      if (actual !== null) return { actual };
      // No ok reply has no latency to judge (as latency.ok.*); a server figure INFO refused fails.
      if (m.field.startsWith('latency.')) return { actual: null, skip: true, reason: `no ok replies ${typeof m.which === 'number' ? `on shard ${m.which}` : 'on any shard'} in this run` };
      return { actual: null, reason: `not measured: the server${shards.length > 1 ? 's' : ''} did not report ${m.field} (INFO cpu / INFO commandstats refused, or no EVALSHA counted)` };
    }
    case 'hottestShardShare':
      if (s.hottestShardShare === undefined) return { actual: null, reason: 'not measured: this summary has no per-shard figures (written before sellout measured shards)' };
      // One shard takes every request: a balance gate written for a cluster says nothing here.
      if (s.shards !== undefined && s.shards.length === 1) return { actual: s.hottestShardShare, skip: true, reason: 'one shard takes every request: a balance gate applies to a cluster' };
      return { actual: s.hottestShardShare };
  }
}

/**
 * The default `outcomes.error == 0` in a run with timed faults: errors inside a fault's window are
 * the fault's doing and expected, so it counts those outside every window, and says so.
 */
function defaultErrorsWithFaults(t: Threshold, s: SummaryV1): Measured {
  const outside = outsideFaults(s, 'error');
  if (outside === null) return { actual: null, reason: 'not measured: this summary has faults but no outcomesOutsideFaults, so errors outside the fault windows cannot be told apart' };
  const inside = s.outcomes.error - outside;
  const windows = s.faults!.length === 1 ? 'the fault window' : `the ${s.faults!.length} fault windows`;
  const actual = t.unit === 'share' ? (s.requests > 0 ? outside / s.requests : 0) : outside;
  return { actual, scope: `outside fault windows (${inside.toLocaleString('en-US')} inside ${windows}, expected)` };
}

export function evaluateThreshold(t: Threshold, summary: SummaryV1): ThresholdResult {
  const result = evaluateOne(t, summary);
  if (!t.isDefault) return result;
  const withFaults = t.name === 'outcomes.error' && (summary.faults?.length ?? 0) > 0;
  const allow = withFaults
    ? `; a default threshold counting errors outside fault windows: set thresholds.outcomesOutsideFaults.error (or outcomes.error, every error) in the scenario to allow some`
    : `; a default threshold: set thresholds.${t.name} in the scenario to allow some`;
  const hint = result.status === 'fail' ? allow : ' (default)';
  return { ...result, default: true, text: `${result.text}${hint}` };
}

function evaluateOne(t: Threshold, summary: SummaryV1): ThresholdResult {
  const base = { name: t.name, condition: t.condition, unit: t.unit };
  let limit: number | null = t.limit;
  if (t.targetFactor !== undefined) {
    limit = summary.targetRate !== undefined ? t.targetFactor * summary.targetRate : null;
  }
  const { actual, reason, skip, scope } = measure(t, summary);
  // Skipped: nothing to judge (no reply of that outcome), or a value that says nothing (one shard's share).
  if (actual === null || limit === null || skip) {
    const why = reason ?? `not measured: the ${summary.load.model} load model has no target rate`;
    return {
      ...base,
      // A threshold the run could not measure fails (a gate must not pass silently), except a
      // latency of an outcome that never happened.
      status: skip ? 'skipped' : 'fail',
      actual,
      limit,
      margin: null,
      text: `${t.name} ${t.condition}: ${why}`,
      reason: why,
    };
  }
  const pass = compare(actual, t.operator, limit);
  const margin = marginOf(actual, t.operator, limit);
  const shownLimit = t.targetFactor !== undefined ? `${formatValue(limit, t.unit)} (${t.targetFactor}*target)` : formatValue(limit, t.unit);
  const ratio = limit !== 0 ? Math.abs(margin) / Math.abs(limit) : 0;
  // Past 10x a percentage is hard to read ("981000%"); say how many times the limit it is.
  const pct = limit === 0 ? '' : ratio > 10 ? ` (${+(Math.abs(actual) / Math.abs(limit)).toPrecision(3)}x the limit)` : ` (${+(ratio * 100).toPrecision(3)}% of the limit)`;
  const how = pass
    ? t.operator === '==' ? 'exactly on it' : `headroom ${formatValue(Math.abs(margin), t.unit)}${pct}`
    : t.operator === '==' ? `off by ${formatValue(Math.abs(margin), t.unit)}${pct}`
      : t.operator === '!=' ? 'equal to it'
        : `${t.operator.startsWith('<') ? 'over' : 'under'} by ${formatValue(Math.abs(margin), t.unit)}${pct}`;
  return {
    ...base,
    status: pass ? 'pass' : 'fail',
    actual,
    limit,
    margin,
    text: `${t.name} ${t.condition}: actual ${formatValue(actual, t.unit)}${scope ? ` ${scope}` : ''}, limit ${shownLimit}, ${how}`,
    // The reports show `reason` next to the actual value: what it counts.
    ...(scope ? { reason: `counted ${scope}` } : {}),
  };
}

export function evaluateThresholds(thresholds: readonly Threshold[], summary: SummaryV1): ThresholdResult[] {
  return thresholds.map((t) => evaluateThreshold(t, summary));
}
