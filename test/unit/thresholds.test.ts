import { describe, expect, it } from 'vitest';
import { ExitCode, ScenarioError } from '../../src/errors.js';
import type { SummaryV1 } from '../../src/summary/summary.js';
import { verdictOf } from '../../src/summary/verdict.js';
import { parseScenario } from '../../src/scenario/load.js';
import { evaluateThreshold, evaluateThresholds } from '../../src/thresholds/evaluate.js';
import { parseThresholds, type Threshold } from '../../src/thresholds/parse.js';
import { ROOT } from '../helpers/cli.js';

function one(metric: string, condition: string): Threshold {
  const { thresholds, problems } = parseThresholds({ [metric]: condition });
  expect(problems).toEqual([]);
  expect(thresholds).toHaveLength(1);
  return thresholds[0]!;
}

function summary(overrides: Partial<SummaryV1> = {}): SummaryV1 {
  const lat = (p99: number) => ({ count: 100, p50: 200, p90: 400, p99, p999: p99 * 2, max: p99 * 3, mean: 250 });
  return {
    version: 1,
    sellout: { version: '0.1.0', node: 'v20' },
    run: { id: 'r', startedAt: '2025-01-01T00:00:00.000Z', finishedAt: '2025-01-01T00:00:01.000Z', keysKept: false },
    scenario: { name: 's', file: 's.yaml', script: 'lua/deduct.lua', scriptSha: 'x', asRun: 'name: s\n' },
    status: 'pass',
    requests: 1000,
    planned: 1000,
    durationMs: 1000,
    throughput: 1000,
    outcomes: { ok: 900, duplicate: 0, sold_out: 95, not_found: 0, invalid: 0, error: 5, unknown: 0 },
    latency: { ok: lat(1000), duplicate: null, sold_out: lat(500), not_found: null, invalid: null, error: lat(100), unknown: null },
    load: { model: 'closed', connections: 1, inFlight: 1, workers: 1 },
    invariants: [],
    skus: [],
    target: { redisVersion: '7.0.15', mode: 'standalone', url: 'redis://x', kind: 'url' },
    ...overrides,
  };
}

describe('threshold parsing', () => {
  it('reads every operator', () => {
    for (const op of ['<', '<=', '>', '>=', '==', '!='] as const) expect(one('throughput', `${op} 10`).operator).toBe(op);
  });

  it('converts latency units to microseconds', () => {
    expect(one('latency.ok.p99', '< 250us').limit).toBe(250);
    expect(one('latency.ok.p99', '< 250µs').limit).toBe(250);
    expect(one('latency.ok.p99', '<5ms').limit).toBe(5000);
    expect(one('latency.ok.p99', '< 1.5ms').limit).toBe(1500);
    expect(one('latency.ok.max', '<= 2s').limit).toBe(2_000_000);
    expect(one('latency.sold_out.p999', '< 0.5 ms').unit).toBe('us');
  });

  it('reads counts, shares of requests and multiples of the target rate', () => {
    expect(one('outcomes.error', '== 0')).toMatchObject({ unit: 'count', limit: 0 });
    expect(one('outcomes.error', '< 0.1%')).toMatchObject({ unit: 'share', limit: 0.001 });
    expect(one('dropped', '== 0')).toMatchObject({ unit: 'count', limit: 0 });
    expect(one('achievedRate', '>= 0.95*target')).toMatchObject({ unit: 'per_s', targetFactor: 0.95 });
    expect(one('throughput', '>= target')).toMatchObject({ targetFactor: 1 });
    expect(one('throughput', '>= 20000')).toMatchObject({ unit: 'per_s', limit: 20000 });
  });

  it('accepts a list of conditions on one metric', () => {
    const { thresholds, problems } = parseThresholds({ 'latency.ok.p99': ['< 5ms', '> 10us'] });
    expect(problems).toEqual([]);
    expect(thresholds.map((t) => t.condition)).toEqual(['< 5ms', '> 10us']);
  });

  it('names the metric, what was expected and what it got', () => {
    const { problems } = parseThresholds({
      'latency.ok.p95': '< 5ms',
      'latency.ok.p99': '< 5',
      'latency.ok.p50': '< 5 parsecs',
      throughput: '>= fast',
      'outcomes.error': '=< 0',
      requests: '>= 10%',
      'outcomes.ok': 5,
      'outcomes.sold_out': '< 101%',
    });
    const byPath = Object.fromEntries(problems.map((p) => [p.path.join('.'), p]));
    expect(Object.keys(byPath).sort()).toEqual([
      'thresholds.latency.ok.p50', 'thresholds.latency.ok.p95', 'thresholds.latency.ok.p99', 'thresholds.outcomes.error',
      'thresholds.outcomes.ok', 'thresholds.outcomes.sold_out', 'thresholds.requests', 'thresholds.throughput',
    ]);
    expect(byPath['thresholds.latency.ok.p95']!.expected).toMatch(/^a metric name \(latency\.<outcome>/);
    expect(byPath['thresholds.latency.ok.p99']!.expected).toMatch(/duration with a unit/);
    expect(byPath['thresholds.latency.ok.p99']!.got).toBe('< 5');
    expect(byPath['thresholds.throughput']!.expected).toMatch(/rate per second/);
    expect(byPath['thresholds.outcomes.ok']!.got).toBe(5);
  });

  it('stops a scenario with a bad threshold at load time, one line per problem, exit 2', () => {
    const yaml = 'name: t\nscript: builtin:deduct\nskus: {stock: 10}\nrequests: 10\nthresholds:\n  "latency.ok.p99": "< 5 parsecs"\n  "latency.ok.p95": "< 5ms"\n';
    let error: unknown;
    try { parseScenario(yaml, '/tmp/t.yaml', { cwd: '/tmp' }); } catch (err) { error = err; }
    expect(error).toBeInstanceOf(ScenarioError);
    const e = error as ScenarioError;
    expect(e.exitCode).toBe(ExitCode.usage);
    expect(e.problems).toEqual([
      't.yaml: thresholds.latency.ok.p99: expected a condition on a duration with a unit, like "< 5ms" (operators <, <=, >, >=, ==, !=; units us, ms, s), got "< 5 parsecs"',
      't.yaml: thresholds.latency.ok.p95: expected a metric name (latency.<outcome>.<p50|p90|p99|p999|max|mean>, throughput, achievedRate, requests, dropped, outcomes.<outcome>, outcomesOutsideFaults.<error|unknown>, ' +
        'shards.<max|min|N>.<latency.ok.p50|latency.ok.p99|latency.ok.p999|requests|throughput|usecPerCall|serverCpu>, hottestShardShare, ' +
        'coverage.<concurrentTwin|twinAfterOk|twinAfterSoldOut|soldOutToZero|partialBoundary|afterSellOut|unknownRecovered|unknownAbsent>), got "latency.ok.p95"',
    ]);
  });

  it('reads a coverage count as a count, one metric per coverage field', () => {
    expect(one('coverage.partialBoundary', '> 0')).toMatchObject({ metric: { kind: 'coverage', count: 'partialBoundary' }, unit: 'count', operator: '>', limit: 0 });
    expect(one('coverage.concurrentTwin', '>= 10')).toMatchObject({ metric: { kind: 'coverage', count: 'concurrentTwin' }, limit: 10 });
    expect(one('coverage.unknownAbsent', '== 0').metric).toEqual({ kind: 'coverage', count: 'unknownAbsent' });
  });

  it('rejects a coverage name that is not a count, and a share of one, in one line each at load time', () => {
    const yaml = 'name: t\nscript: builtin:deduct\nskus: {stock: 10}\nrequests: 10\nthresholds:\n  coverage.partialBoundry: "> 0"\n  coverage.warnings: "== 0"\n  coverage: "> 0"\n  coverage.soldOutToZero: "> 10%"\n';
    let error: unknown;
    try { parseScenario(yaml, '/tmp/t.yaml', { cwd: '/tmp' }); } catch (err) { error = err; }
    expect(error).toBeInstanceOf(ScenarioError);
    const problems = (error as ScenarioError).problems;
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/^t\.yaml: thresholds\.coverage\.partialBoundry: expected a metric name \(.*coverage\.<concurrentTwin\|.*\|unknownAbsent>\), got "coverage\.partialBoundry"$/);
    expect(problems[1]).toMatch(/^t\.yaml: thresholds\.coverage\.warnings: expected a metric name .*, got "coverage\.warnings"$/);
    expect(problems[2]).toMatch(/^t\.yaml: thresholds\.coverage: expected a metric name .*, got "coverage"$/);
    expect(problems[3]).toBe('t.yaml: thresholds.coverage.soldOutToZero: expected a condition on a count, like "> 0" (operators <, <=, >, >=, ==, !=), got "> 10%"');
  });

  it('keeps valid thresholds verbatim in the scenario as run', () => {
    // cwd = the project, so the default script lua/deduct.lua resolves.
    const s = parseScenario('name: t\nscript: builtin:deduct\nskus: {stock: 10}\nrequests: 10\nthresholds: {"latency.ok.p99": "< 5ms"}\n', `${ROOT}/t.yaml`, { cwd: ROOT });
    expect(s.thresholds).toEqual({ 'latency.ok.p99': '< 5ms' });
    expect(s.asRun).toContain('latency.ok.p99: < 5ms');
  });
});

describe('threshold evaluation', () => {
  const s = summary();

  it('passes and fails each operator on the boundary', () => {
    const at = (condition: string) => evaluateThreshold(one('latency.ok.p99', condition), s).status;
    expect([at('< 1ms'), at('<= 1ms'), at('> 1ms'), at('>= 1ms'), at('== 1ms'), at('!= 1ms')]).toEqual(['fail', 'pass', 'fail', 'pass', 'pass', 'fail']);
    expect([at('< 1001us'), at('> 999us'), at('!= 999us'), at('== 999us')]).toEqual(['pass', 'pass', 'pass', 'fail']);
  });

  it('reports the actual value, the limit and the margin', () => {
    const fail = evaluateThreshold(one('latency.ok.p99', '< 400us'), s);
    expect(fail).toMatchObject({ status: 'fail', actual: 1000, limit: 400, margin: -600, unit: 'us' });
    expect(fail.text).toBe('latency.ok.p99 < 400us: actual 1 ms, limit 400 us, over by 600 us (150% of the limit)');
    const pass = evaluateThreshold(one('throughput', '>= 800'), s);
    expect(pass).toMatchObject({ status: 'pass', actual: 1000, margin: 200 });
    expect(pass.text).toContain('headroom 200/s (25% of the limit)');
    const under = evaluateThreshold(one('throughput', '> 2000'), s);
    expect(under.text).toContain('under by 1000/s');
    const huge = evaluateThreshold(one('latency.ok.p99', '< 1us'), s);
    expect(huge.text).toBe('latency.ok.p99 < 1us: actual 1 ms, limit 1 us, over by 999 us (1000x the limit)');
  });

  it('measures counts and shares of outcomes', () => {
    expect(evaluateThreshold(one('outcomes.error', '== 0'), s)).toMatchObject({ status: 'fail', actual: 5, margin: -5 });
    expect(evaluateThreshold(one('outcomes.error', '< 1%'), s)).toMatchObject({ status: 'pass', actual: 0.005 });
    expect(evaluateThreshold(one('outcomes.error', '< 0.1%'), s).text).toContain('actual 0.5%');
    expect(evaluateThreshold(one('requests', '>= 1000'), s).status).toBe('pass');
  });

  it('skips a latency of an outcome that never happened, but fails what the run could not measure', () => {
    expect(evaluateThreshold(one('latency.unknown.p99', '< 5ms'), s)).toMatchObject({ status: 'skipped', reason: 'no unknown replies in this run' });
    const rate = evaluateThreshold(one('achievedRate', '>= 0.95*target'), s);
    expect(rate.status).toBe('fail');
    expect(rate.reason).toMatch(/closed load model has no target rate/);
    // A closed model cannot drop a send: dropped is 0, not unknown.
    expect(evaluateThreshold(one('dropped', '== 0'), s)).toMatchObject({ status: 'pass', actual: 0 });
  });

  it('resolves F*target against the run\'s target rate', () => {
    const open = summary({ load: { model: 'constant-rate', connections: 1, inFlight: 1, workers: 1 }, achievedRate: 9400, targetRate: 10000, dropped: 3 });
    expect(evaluateThreshold(one('achievedRate', '>= 0.95*target'), open)).toMatchObject({ status: 'fail', limit: 9500, margin: -100 });
    expect(evaluateThreshold(one('achievedRate', '>= 0.9*target'), open)).toMatchObject({ status: 'pass', limit: 9000 });
    expect(evaluateThreshold(one('dropped', '== 0'), open)).toMatchObject({ status: 'fail', actual: 3 });
  });

  it('measures coverage counts, and fails (not skips) a coverage threshold when the run has no coverage', () => {
    const coverage = { concurrentTwin: 3, twinAfterOk: 0, twinAfterSoldOut: 0, soldOutToZero: 2, partialBoundary: 0, afterSellOut: 40, unknownRecovered: 0, unknownAbsent: 0, warnings: [] };
    const covered = summary({ coverage });
    expect(evaluateThreshold(one('coverage.concurrentTwin', '> 0'), covered)).toMatchObject({ status: 'pass', actual: 3, margin: 3 });
    const boundary = evaluateThreshold(one('coverage.partialBoundary', '> 0'), covered);
    expect(boundary).toMatchObject({ status: 'fail', actual: 0, limit: 0 });
    expect(boundary.text).toBe('coverage.partialBoundary > 0: actual 0, limit 0, under by 0');
    expect(evaluateThreshold(one('coverage.afterSellOut', '< 10'), covered).status).toBe('fail');
    const none = evaluateThreshold(one('coverage.partialBoundary', '> 0'), summary());
    expect(none).toMatchObject({ status: 'fail', actual: null, margin: null });
    expect(none.reason).toMatch(/^not measured: this run has no coverage/);
    // A coverage gate fails the run as a threshold (exit 4), never as an invariant.
    expect(verdictOf({ ...covered, thresholds: [boundary] }).exitCode).toBe(ExitCode.thresholdFailed);
  });

  it('gives exit 4 for a failed threshold, 1 when an invariant also failed, 130 when interrupted', () => {
    const thresholds = evaluateThresholds([one('latency.ok.p99', '< 1us')], s);
    const failedInvariant = { name: 'no-oversell', status: 'fail' as const, description: '', expected: 'a', actual: 'b', examples: [] };
    expect(verdictOf({ ...s, thresholds }).exitCode).toBe(ExitCode.thresholdFailed);
    expect(verdictOf({ ...s, thresholds, status: 'fail', invariants: [failedInvariant] }).exitCode).toBe(ExitCode.invariantFailed);
    expect(verdictOf({ ...s, thresholds, status: 'interrupted' }).exitCode).toBe(ExitCode.interrupted);
    expect(verdictOf(s).exitCode).toBe(ExitCode.ok);
    expect(verdictOf({ ...s, thresholds }).reasons).toEqual([`threshold ${thresholds[0]!.text}`]);
  });
});
