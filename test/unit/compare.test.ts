import { describe, expect, it } from 'vitest';
import { compareSummaries, formatComparison, parseTolerances } from '../../src/compare/compare.js';
import type { SummaryV1 } from '../../src/summary/summary.js';

function summary(p99: number, throughput: number, error = 0): SummaryV1 {
  const lat = { count: 100, p50: 200, p90: 400, p99, p999: p99 * 2, max: p99 * 3, mean: 250 };
  return {
    version: 1,
    sellout: { version: '0.1.0', node: 'v20' },
    run: { id: 'r', startedAt: '2025-01-01T00:00:00.000Z', finishedAt: '2025-01-01T00:00:01.000Z', keysKept: false },
    scenario: { name: 's', file: 's.yaml', script: 'lua/deduct.lua', scriptSha: 'x', asRun: 'name: s\n' },
    status: 'pass', requests: 1000, planned: 1000, durationMs: 1000, throughput,
    outcomes: { ok: 1000 - error, duplicate: 0, sold_out: 0, not_found: 0, invalid: 0, error, unknown: 0 },
    latency: { ok: lat, duplicate: null, sold_out: null, not_found: null, invalid: null, error: null, unknown: null },
    load: { model: 'closed', connections: 1, inFlight: 1, workers: 1 },
    invariants: [], skus: [],
    target: { redisVersion: '7.0.15', mode: 'standalone', url: 'redis://x', kind: 'url' },
  };
}

const row = (c: ReturnType<typeof compareSummaries>, name: string) => c.rows.find((r) => r.name === name)!;

describe('compare', () => {
  const base = summary(1000, 10_000);

  it('warns when a tolerance asked for cannot be checked, and about interrupted runs', () => {
    const c = compareSummaries(base, { ...summary(1000, 10_000), status: 'interrupted' }, parseTolerances('latency.error.p99=10%').tolerances);
    expect(c.warnings).toContain('latency.error.p99: asked for with --tolerance but not measured in either run, so not compared');
    expect(c.warnings).toContain('the current run was interrupted: its figures cover only part of the sale');
    expect(compareSummaries(base, base).warnings).toEqual([]);
  });

  it('flags a regression beyond the default tolerance and names it', () => {
    const c = compareSummaries(base, summary(1200, 9000));
    expect(row(c, 'latency.ok.p99')).toMatchObject({ baseline: 1000, current: 1200, delta: 200, verdict: 'regression' });
    expect(row(c, 'latency.ok.p99').relative).toBeCloseTo(0.2);
    expect(row(c, 'throughput').verdict).toBe('regression');
    expect(c.verdict).toBe('regression');
    const text = formatComparison(c, 'a', 'b');
    expect(text).toContain('verdict: REGRESSION in throughput (−10.0% beyond −5%), latency.ok.p99 (+20.0% beyond +15%)');
    expect(text).toMatch(/latency\.ok\.p99\s+1 ms\s+1\.2 ms\s+\+200 us \(\+20\.0%\)\s+\+15%\s+REGRESSION/);
  });

  it('calls a big change in the good direction an improvement, not a regression', () => {
    const c = compareSummaries(base, summary(500, 20_000));
    expect(row(c, 'latency.ok.p99').verdict).toBe('improvement');
    expect(row(c, 'throughput').verdict).toBe('improvement');
    expect(c.verdict).toBe('ok');
  });

  it('passes a change exactly at the tolerance and fails one just beyond it', () => {
    // p99 +15% is the default tolerance; throughput -5% likewise.
    const at = compareSummaries(base, summary(1150, 9500));
    expect([row(at, 'latency.ok.p99').verdict, row(at, 'throughput').verdict]).toEqual(['ok', 'ok']);
    const beyond = compareSummaries(base, summary(1151, 9499));
    expect([row(beyond, 'latency.ok.p99').verdict, row(beyond, 'throughput').verdict]).toEqual(['regression', 'regression']);
  });

  it('applies --tolerance overrides, relative, absolute and off', () => {
    const { tolerances, problems } = parseTolerances('latency.ok.p99=25%,throughput=off,outcomes.error=2,latency.ok.p50=50us');
    expect(problems).toEqual([]);
    const c = compareSummaries(base, { ...summary(1200, 5000, 2), latency: { ...summary(1200, 5000).latency, ok: { ...summary(1200, 5000).latency.ok!, p50: 251 } } }, tolerances);
    expect(row(c, 'latency.ok.p99').verdict).toBe('ok');
    expect(row(c, 'throughput').verdict).toBe('info');
    expect(row(c, 'outcomes.error').verdict).toBe('ok');
    expect(row(c, 'latency.ok.p50').verdict).toBe('regression');
    expect(c.regressions.map((r) => r.name)).toEqual(['latency.ok.p50']);
  });

  it('does not let error counts grow by default', () => {
    expect(row(compareSummaries(base, summary(1000, 10_000, 1)), 'outcomes.error').verdict).toBe('regression');
  });

  it('rejects unknown metrics and malformed tolerances in one line each', () => {
    const { problems } = parseTolerances('latency.ok.p95=10%,throughput=fast,latency.ok.p99=5');
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^--tolerance: expected a metric .* got "latency\.ok\.p95"$/);
    expect(problems[1]).toBe('--tolerance throughput: expected a percentage like 10%, a number, or off, got "fast"');
    expect(problems[2]).toBe('--tolerance latency.ok.p99: expected a percentage like 10%, a duration like 200us or 1ms, or off, got "5"');
  });

  it('compares a coverage count only when asked: fewer boundaries reached is worse, a summary without coverage is not compared', () => {
    const covered = (partialBoundary: number): SummaryV1 => ({
      ...summary(1000, 10_000),
      coverage: { concurrentTwin: 5, twinAfterOk: 5, twinAfterSoldOut: 1, soldOutToZero: 2, partialBoundary, afterSellOut: 50, unknownRecovered: 0, unknownAbsent: 0, warnings: [] },
    });
    expect(compareSummaries(covered(10), covered(0)).rows.some((r) => r.name.startsWith('coverage.'))).toBe(false);
    const { tolerances, problems } = parseTolerances('coverage.partialBoundary=50%');
    expect(problems).toEqual([]);
    expect(row(compareSummaries(covered(10), covered(4), tolerances), 'coverage.partialBoundary')).toMatchObject({ better: 'higher', delta: -6, verdict: 'regression' });
    expect(row(compareSummaries(covered(10), covered(6), tolerances), 'coverage.partialBoundary').verdict).toBe('ok');
    expect(compareSummaries(base, covered(4), tolerances).warnings).toContain('coverage.partialBoundary: asked for with --tolerance but not measured in the baseline, so not compared');
  });

  it('lists what changed in the scenario: name, script SHA-1, every key as run (lists by index)', () => {
    const asRun = (connections: number, count: number, extra = '') =>
      `name: s\nscript: ../lua/deduct.lua\nskus:\n  count: ${count}\n  stock: 10\nload:\n  model: closed\n  connections: ${connections}\n${extra}`;
    const a = { ...base, scenario: { ...base.scenario, scriptSha: 'a'.repeat(40), asRun: asRun(8, 5, 'faults:\n  - action: kill\n    at: 1s\n') } };
    const b = { ...base, scenario: { ...base.scenario, name: 'other', scriptSha: 'b'.repeat(40), asRun: asRun(16, 1000, 'faults: []\nduplicates:\n  ratio: 0.1\n') } };
    const c = compareSummaries(a, b);
    expect(c.scenarioChanges).toEqual([
      'name: s -> other',
      `script sha: ${'a'.repeat(12)} -> ${'b'.repeat(12)} (lua/deduct.lua)`,
      'skus.count: 5 -> 1000',
      'load.connections: 8 -> 16',
      'faults.0.action: kill -> (absent)',
      'faults.0.at: 1s -> (absent)',
      'faults: (absent) -> []',
      'duplicates.ratio: (absent) -> 0.1',
    ]);
    expect(c.warnings).toEqual([]);
    // The header comes first, then each change, then the usual comparison.
    const text = formatComparison(c, 'A', 'B').split('\n');
    expect(text[0]).toMatch(/^\*\*\* DIFFERENT SCENARIOS: /);
    expect(text.slice(1, 4)).toEqual(['  scenario changes (baseline -> current):', '    name: s -> other', `    script sha: ${'a'.repeat(12)} -> ${'b'.repeat(12)} (lua/deduct.lua)`]);
    expect(formatComparison(compareSummaries(a, a), 'A', 'A')).not.toContain('DIFFERENT SCENARIOS');
  });

  it('the same scenario is one whose description, thresholds or script path alone changed', () => {
    const a = { ...base, scenario: { ...base.scenario, asRun: 'name: s\ndescription: one\nscript: ../lua/deduct.lua\nrequests: 10\n' } };
    const b = {
      ...base,
      scenario: { ...base.scenario, file: '/elsewhere/s.yaml', script: '/elsewhere/lua/deduct.lua', asRun: 'name: s\ndescription: two\nscript: /elsewhere/lua/deduct.lua\nrequests: 10\nthresholds:\n  latency.ok.p99: < 5ms\n' },
    };
    expect(compareSummaries(a, b).scenarioChanges).toEqual([]);
    const more = { ...b, scenario: { ...b.scenario, asRun: b.scenario.asRun.replace('requests: 10', 'requests: 20') } };
    expect(compareSummaries(a, more).scenarioChanges).toEqual(['requests: 10 -> 20']);
    const garbled = { ...b, scenario: { ...b.scenario, asRun: '- not a mapping\n' } };
    expect(compareSummaries(a, garbled).scenarioChanges).toEqual(['scenario as run: the YAML differs (one side does not parse as a mapping)']);
  });
});
