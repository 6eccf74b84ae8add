/**
 * Baseline comparison, pure: the main figures of two summaries side by side with deltas, each
 * judged against a tolerance (how much worse it may get before it counts as a regression; for a
 * neutral figure, how much it may move either way). A change exactly at the tolerance is not a
 * regression; only beyond it. Default tolerances
 * (docs/ci-gate.md) are loose enough for run-to-run noise on a shared CI machine and tight enough
 * to catch a real slowdown; counts of errors, unknown outcomes, drops and failed invariants may
 * not grow at all.
 */
import YAML from 'yaml';
import { parseLatencyUs } from '../duration.js';
import { outsideFaults, type SummaryV1, type ThresholdUnit as Unit } from '../summary/summary.js';
import { formatValue } from '../thresholds/evaluate.js';
import type { Outcome } from '../outcomes.js';
import { parseMetric, SHARD_FIELDS, shardFigure } from '../thresholds/parse.js';

/**
 * Which way is better. `neutral`: the figure is set by the workload, not by the quality of what
 * was tested (see outcomeDirection); a change beyond its tolerance either way is flagged.
 */
export type Direction = 'lower' | 'higher' | 'neutral';
/** How much worse a metric may get: a fraction of the baseline, or an absolute amount in its unit. */
export type Tolerance = { relative: number } | { absolute: number } | 'off';

export interface CompareMetric {
  name: string;
  unit: Unit;
  /** Which way is better. */
  better: Direction;
  value(s: SummaryV1): number | null;
}

export const DEFAULT_TOLERANCES: Record<string, Tolerance> = {
  throughput: { relative: 0.05 },
  achievedRate: { relative: 0.05 },
  'latency.ok.p50': { relative: 0.1 },
  'latency.ok.p90': { relative: 0.1 },
  'latency.ok.p99': { relative: 0.15 },
  'latency.ok.p999': { relative: 0.25 },
  // The maximum is one sample: shown, never gating.
  'latency.ok.max': 'off',
  // What the sale did, for context: shown, never gating by default (see outcomeDirection). A
  // --tolerance gates them: ok may not drop by more than it, duplicate and sold_out may not move
  // by more than it in either direction.
  'outcomes.ok': 'off',
  'outcomes.duplicate': 'off',
  'outcomes.sold_out': 'off',
  'outcomes.error': { absolute: 0 },
  'outcomes.unknown': { absolute: 0 },
  dropped: { absolute: 0 },
  'invariants.failed': { absolute: 0 },
};

/**
 * Which way an outcome count should move. ok is what the sale is for: more is better. error,
 * unknown, not_found and invalid are replies a healthy sale of a correct script does not give:
 * fewer is better. duplicate and sold_out are set by the workload (the duplicate ratio; stock
 * against requests, and for a `duration` run how many requests fit in it), not by quality: more
 * sold-out replies are neither better nor worse, but a change a user asked to watch (with
 * --tolerance) is flagged either way, since for the same scenario and seed it means the script or
 * the run behaved differently. They are shown but not gated by default: a duration run's sold_out
 * count moves with its throughput, which throughput already gates.
 */
export function outcomeDirection(outcome: Outcome): Direction {
  switch (outcome) {
    case 'ok': return 'higher';
    case 'duplicate':
    case 'sold_out': return 'neutral';
    case 'not_found':
    case 'invalid':
    case 'error':
    case 'unknown': return 'lower';
  }
}

/** The metric behind a name, or undefined when sellout cannot compare it. */
export function compareMetric(name: string): CompareMetric | undefined {
  if (name === 'invariants.failed') {
    return { name, unit: 'count', better: 'lower', value: (s) => s.invariants.filter((i) => i.status === 'fail').length };
  }
  const m = parseMetric(name);
  if (!m) return undefined;
  switch (m.kind) {
    case 'latency': return { name, unit: 'us', better: 'lower', value: (s) => s.latency[m.outcome]?.[m.stat] ?? null };
    case 'throughput': return { name, unit: 'per_s', better: 'higher', value: (s) => s.throughput };
    case 'achievedRate': return { name, unit: 'per_s', better: 'higher', value: (s) => s.achievedRate ?? null };
    case 'requests': return { name, unit: 'count', better: 'higher', value: (s) => s.requests };
    case 'dropped': return { name, unit: 'count', better: 'lower', value: (s) => s.dropped ?? (s.load.model === 'closed' ? 0 : null) };
    case 'outcome': return { name, unit: 'count', better: outcomeDirection(m.outcome), value: (s) => s.outcomes[m.outcome] ?? null };
    // Not gated by default: asked for with --tolerance (`outcomesOutsideFaults.error=0`).
    case 'outsideFaults': return { name, unit: 'count', better: 'lower', value: (s) => outsideFaults(s, m.outcome) };
    // More of an edge condition reached is better; not in the defaults (it varies from run to run).
    case 'coverage': return { name, unit: 'count', better: 'higher', value: (s) => s.coverage?.[m.count] ?? null };
    // Not gated by default: asked for with --tolerance (`shards.max.latency.ok.p99=15%`).
    case 'shard': return {
      name, unit: SHARD_FIELDS[m.field], better: m.field === 'requests' || m.field === 'throughput' ? 'higher' : 'lower',
      value: (s) => (s.shards ? shardFigure(s.shards, m.which, m.field) : null),
    };
    case 'hottestShardShare': return { name, unit: 'share', better: 'lower', value: (s) => s.hottestShardShare ?? null };
  }
}

/** `changed`: a neutral metric moved beyond its tolerance (either way); it fails the comparison like a regression. */
export type RowVerdict = 'regression' | 'improvement' | 'changed' | 'ok' | 'info' | 'n/a';

export interface CompareRow {
  name: string;
  unit: Unit;
  better: Direction;
  baseline: number | null;
  current: number | null;
  delta: number | null;
  /** delta / baseline, null when the baseline is 0 or missing. */
  relative: number | null;
  tolerance: Tolerance;
  verdict: RowVerdict;
}

export interface Comparison {
  rows: CompareRow[];
  /** Rows that fail the comparison: regressions, and neutral metrics changed beyond tolerance. */
  regressions: CompareRow[];
  verdict: 'regression' | 'ok';
  /** Differences that make the comparison doubtful (another Redis, an interrupted run). */
  warnings: string[];
  /**
   * How the scenario differs between the runs, one line per changed key (`load.connections: 8 ->
   * 16`, `script sha: c44eda84eeda -> 0b1f3c9e2a77`); empty for the same scenario. Non-empty means
   * the deltas may be the scenario's doing: the CLI refuses such a comparison unless asked.
   */
  scenarioChanges: string[];
}

/**
 * Keys of the scenario as run that do not change what runs nor what compare measures: a new
 * description or tighter thresholds keep a baseline valid. `script` is the path as written;
 * the script's SHA-1 stands for it (the same file from another checkout is the same script).
 */
const SCENARIO_KEYS_IGNORED = new Set(['description', 'thresholds', 'script']);

/**
 * What changed in the scenario between two runs: its name, the script's content (SHA-1) and
 * every key of the scenario as run (overrides and defaults applied), as `path: before -> after`.
 */
export function scenarioChanges(base: SummaryV1, cur: SummaryV1): string[] {
  const changes: string[] = [];
  if (base.scenario.name !== cur.scenario.name) changes.push(`name: ${base.scenario.name} -> ${cur.scenario.name}`);
  if (base.scenario.scriptSha !== cur.scenario.scriptSha) {
    const path = base.scenario.script !== cur.scenario.script ? ` (${base.scenario.script} -> ${cur.scenario.script})` : ` (${cur.scenario.script})`;
    changes.push(`script sha: ${base.scenario.scriptSha.slice(0, 12)} -> ${cur.scenario.scriptSha.slice(0, 12)}${path}`);
  }
  if (base.scenario.asRun === cur.scenario.asRun) return changes;
  const before = leaves(base.scenario.asRun);
  const after = leaves(cur.scenario.asRun);
  if (before === undefined || after === undefined) {
    changes.push('scenario as run: the YAML differs (one side does not parse as a mapping)');
    return changes;
  }
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    if (key === 'name' || SCENARIO_KEYS_IGNORED.has(key.split('.')[0]!)) continue;
    const b = before.get(key);
    const a = after.get(key);
    if (b !== a) changes.push(`${key}: ${b ?? '(absent)'} -> ${a ?? '(absent)'}`);
  }
  return changes;
}

/** A scenario's YAML as dotted paths to scalar values (`load.connections` -> `8`), in document order. */
function leaves(yaml: string): Map<string, string> | undefined {
  let doc: unknown;
  try {
    doc = YAML.parse(yaml);
  } catch {
    return undefined;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return undefined;
  const out = new Map<string, string>();
  const walk = (value: unknown, path: string) => {
    if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length === 0) out.set(path, Array.isArray(value) ? '[]' : '{}');
      for (const [k, v] of entries) walk(v, path ? `${path}.${k}` : k);
      return;
    }
    out.set(path, typeof value === 'string' ? value : JSON.stringify(value));
  };
  walk(doc, '');
  return out;
}

function allowance(tolerance: Exclude<Tolerance, 'off'>, baseline: number): number {
  return 'relative' in tolerance ? tolerance.relative * Math.abs(baseline) : tolerance.absolute;
}

export function compareRow(metric: CompareMetric, tolerance: Tolerance, base: SummaryV1, cur: SummaryV1): CompareRow {
  const baseline = metric.value(base);
  const current = metric.value(cur);
  const row = { name: metric.name, unit: metric.unit, better: metric.better, baseline, current, tolerance };
  if (baseline === null || current === null) return { ...row, delta: null, relative: null, verdict: 'n/a' };
  const delta = current - baseline;
  const relative = baseline !== 0 ? delta / baseline : null;
  if (tolerance === 'off') return { ...row, delta, relative, verdict: 'info' };
  const allowed = allowance(tolerance, baseline);
  // Summaries round to 0.1; a hair of slack keeps "exactly at the tolerance" on the passing side.
  const eps = 1e-9 * Math.max(1, Math.abs(baseline));
  if (metric.better === 'neutral') return { ...row, delta, relative, verdict: Math.abs(delta) > allowed + eps ? 'changed' : 'ok' };
  const worse = metric.better === 'lower' ? delta : -delta;
  const verdict: RowVerdict = worse > allowed + eps ? 'regression' : -worse > allowed + eps ? 'improvement' : 'ok';
  return { ...row, delta, relative, verdict };
}

export function compareSummaries(base: SummaryV1, cur: SummaryV1, overrides: Record<string, Tolerance> = {}): Comparison {
  const tolerances = { ...DEFAULT_TOLERANCES, ...overrides };
  const rows: CompareRow[] = [];
  const missing: string[] = [];
  for (const [name, tolerance] of Object.entries(tolerances)) {
    const metric = compareMetric(name);
    if (!metric) continue;
    const row = compareRow(metric, tolerance, base, cur);
    const asked = name in overrides && tolerance !== 'off';
    if (asked && (row.baseline === null || row.current === null)) {
      // A tolerance the user asked for that cannot be checked must not pass in silence.
      missing.push(`${name}: asked for with --tolerance but not measured in ${row.baseline === null && row.current === null ? 'either run' : row.baseline === null ? 'the baseline' : 'the current run'}, so not compared`);
    }
    // Open-model figures are noise for closed runs: leave out rows neither side measured.
    if (row.baseline === null && row.current === null) continue;
    rows.push(row);
  }
  const warnings: string[] = [...missing];
  for (const [side, s] of [['baseline', base], ['current', cur]] as const) {
    if (s.status === 'interrupted') warnings.push(`the ${side} run was interrupted: its figures cover only part of the sale`);
    if (s.targetLost !== undefined) warnings.push(`the ${side} run lost Redis: ${s.targetLost}`);
  }
  if (base.target.redisVersion !== cur.target.redisVersion || base.target.mode !== cur.target.mode) {
    warnings.push(`different Redis: ${base.target.redisVersion} ${base.target.mode} vs ${cur.target.redisVersion} ${cur.target.mode}`);
  }
  const regressions = rows.filter((r) => r.verdict === 'regression' || r.verdict === 'changed');
  return { rows, regressions, verdict: regressions.length ? 'regression' : 'ok', warnings, scenarioChanges: scenarioChanges(base, cur) };
}

/** Parses `--tolerance latency.ok.p99=10%,throughput=5%,outcomes.error=3,latency.ok.p50=200us,latency.ok.max=off`. */
export function parseTolerances(text: string): { tolerances: Record<string, Tolerance>; problems: string[] } {
  const tolerances: Record<string, Tolerance> = {};
  const problems: string[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const name = eq > 0 ? part.slice(0, eq).trim() : part;
    const value = eq > 0 ? part.slice(eq + 1).trim() : '';
    const metric = compareMetric(name);
    if (!metric) {
      problems.push(`--tolerance: expected a metric (${Object.keys(DEFAULT_TOLERANCES).join(', ')}, or latency.<outcome>.<stat>, outcomes.<outcome>, coverage.<count>, shards.<max|min|N>.<field>, hottestShardShare), got ${JSON.stringify(name)}`);
      continue;
    }
    const tolerance = parseTolerance(value, metric.unit);
    if (tolerance === undefined) {
      const unitHint = metric.unit === 'us' ? 'a duration like 200us or 1ms' : 'a number';
      problems.push(`--tolerance ${name}: expected a percentage like 10%, ${unitHint}, or off, got ${JSON.stringify(value)}`);
      continue;
    }
    tolerances[name] = tolerance;
  }
  return { tolerances, problems };
}

function parseTolerance(value: string, unit: Unit): Tolerance | undefined {
  if (value === 'off') return 'off';
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(value);
  if (pct) return { relative: Number(pct[1]) / 100 };
  if (unit === 'us') {
    // A latency, written as in a threshold (src/duration.ts).
    const us = parseLatencyUs(value);
    return us !== undefined ? { absolute: us } : undefined;
  }
  const n = /^(\d+(?:\.\d+)?)$/.exec(value);
  return n ? { absolute: Number(n[1]) } : undefined;
}

function formatTolerance(t: Tolerance, row: CompareRow): string {
  if (t === 'off') return 'not gated';
  const sign = row.better === 'lower' ? '+' : row.better === 'higher' ? '−' : '±';
  return 'relative' in t ? `${sign}${+(t.relative * 100).toPrecision(3)}%` : `${sign}${formatValue(t.absolute, row.unit)}`;
}

const VERDICT_TEXT: Record<RowVerdict, string> = { regression: 'REGRESSION', improvement: 'improved', changed: 'CHANGED', ok: 'ok', info: '-', 'n/a': 'n/a' };

/** The comparison as a fixed-width table for a terminal or CI log. */
export function formatComparison(c: Comparison, baseLabel: string, curLabel: string): string {
  const cells = c.rows.map((r) => [
    r.name,
    r.baseline === null ? '—' : formatValue(r.baseline, r.unit),
    r.current === null ? '—' : formatValue(r.current, r.unit),
    r.delta === null ? '—' : `${r.delta >= 0 ? '+' : '−'}${formatValue(Math.abs(r.delta), r.unit)}${r.relative !== null ? ` (${r.relative >= 0 ? '+' : '−'}${Math.abs(r.relative * 100).toFixed(1)}%)` : ''}`,
    formatTolerance(r.tolerance, r),
    VERDICT_TEXT[r.verdict],
  ]);
  const head = ['metric', 'baseline', 'current', 'delta', 'tolerance', 'verdict'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 || i === row.length - 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd();
  const out = [
    ...(c.scenarioChanges.length > 0 ? [...formatScenarioChanges(c.scenarioChanges, DIFFERENT_SCENARIOS_HEADER), ''] : []),
    `sellout compare: baseline ${baseLabel}`,
    `                 current  ${curLabel}`,
  ];
  for (const w of c.warnings) out.push(`  warning: ${w}`);
  out.push('', line(head), ...cells.map(line), '');
  const describe = (r: CompareRow) =>
    `${r.name} (${r.relative !== null ? `${r.relative >= 0 ? '+' : '−'}${Math.abs(r.relative * 100).toFixed(1)}%` : `${r.delta! >= 0 ? '+' : '−'}${formatValue(Math.abs(r.delta!), r.unit)}`} beyond ${formatTolerance(r.tolerance, r)})`;
  const worse = c.regressions.filter((r) => r.verdict === 'regression').map(describe);
  const changed = c.regressions.filter((r) => r.verdict === 'changed').map(describe);
  const parts = [...(worse.length ? [`REGRESSION in ${worse.join(', ')}`] : []), ...(changed.length ? [`CHANGED beyond tolerance: ${changed.join(', ')}`] : [])];
  out.push(c.verdict === 'ok' ? 'verdict: OK (no regression beyond tolerance)' : `verdict: ${parts.join('; ')}`);
  return out.join('\n');
}

/** The header of a comparison of two different scenarios (only with --allow-different-scenarios). */
export const DIFFERENT_SCENARIOS_HEADER =
  '*** DIFFERENT SCENARIOS: these runs ran different scenarios (--allow-different-scenarios): a delta below may be the scenario\'s doing, not a regression ***';

/** A heading line, then each changed key of the scenario, indented: `  load.connections: 8 -> 16`. */
export function formatScenarioChanges(changes: readonly string[], heading: string): string[] {
  return [heading, '  scenario changes (baseline -> current):', ...changes.map((c) => `    ${c}`)];
}
