/**
 * Every compared metric has a direction (review defect 7): ok and throughput are better higher;
 * error, unknown, not_found, invalid and dropped better lower; duplicate and sold_out are set by
 * the workload, so they are neutral: shown but not gated by default, and when a --tolerance gates
 * them a change beyond it in either direction fails the comparison.
 */
import { describe, expect, it } from 'vitest';
import { compareMetric, compareSummaries, formatComparison, parseTolerances } from '../../src/compare/compare.js';
import type { Outcome, OutcomeCounts } from '../../src/outcomes.js';
import type { SummaryV1 } from '../../src/summary/summary.js';

function summary(outcomes: Partial<OutcomeCounts> = {}, extra: Partial<SummaryV1> = {}): SummaryV1 {
  const lat = { count: 100, p50: 200, p90: 400, p99: 1000, p999: 2000, max: 3000, mean: 250 };
  return {
    version: 1,
    sellout: { version: '0.1.0', node: 'v20' },
    run: { id: 'r', startedAt: '2025-01-01T00:00:00.000Z', finishedAt: '2025-01-01T00:00:01.000Z', keysKept: false },
    scenario: { name: 's', file: 's.yaml', script: 'lua/deduct.lua', scriptSha: 'x', asRun: 'name: s\n' },
    status: 'pass', requests: 1000, planned: 1000, durationMs: 1000, throughput: 1000,
    outcomes: { ok: 1000, duplicate: 100, sold_out: 100, not_found: 10, invalid: 10, error: 10, unknown: 10, ...outcomes },
    latency: { ok: lat, duplicate: null, sold_out: null, not_found: null, invalid: null, error: null, unknown: null },
    load: { model: 'constant-rate', connections: 1, inFlight: 1, workers: 1 },
    dropped: 10,
    invariants: [], skus: [],
    target: { redisVersion: '7.0.15', mode: 'standalone', url: 'redis://x', kind: 'url' },
    ...extra,
  };
}

const gate = (text: string) => {
  const { tolerances, problems } = parseTolerances(text);
  expect(problems).toEqual([]);
  return tolerances;
};
const verdictOf = (name: string, base: SummaryV1, cur: SummaryV1, tolerance: string) =>
  compareSummaries(base, cur, gate(`${name}=${tolerance}`)).rows.find((r) => r.name === name)!.verdict;

describe('compare: the direction of every metric', () => {
  it('names a direction for each outcome count, throughput and dropped', () => {
    const better = (name: string) => compareMetric(name)!.better;
    expect(['outcomes.ok', 'throughput', 'achievedRate'].map(better)).toEqual(['higher', 'higher', 'higher']);
    expect(['outcomes.error', 'outcomes.unknown', 'outcomes.not_found', 'outcomes.invalid', 'dropped'].map(better)).toEqual(['lower', 'lower', 'lower', 'lower', 'lower']);
    expect(['outcomes.duplicate', 'outcomes.sold_out'].map(better)).toEqual(['neutral', 'neutral']);
  });

  it('outcomes.ok is better higher: fewer ok replies beyond tolerance is a regression, more is an improvement', () => {
    const base = summary();
    expect(verdictOf('outcomes.ok', base, summary({ ok: 900 }), '5%')).toBe('regression');
    expect(verdictOf('outcomes.ok', base, summary({ ok: 1100 }), '5%')).toBe('improvement');
    expect(verdictOf('outcomes.ok', base, summary({ ok: 950 }), '5%')).toBe('ok'); // exactly at the tolerance
    const c = compareSummaries(base, summary({ ok: 900 }), gate('outcomes.ok=5%'));
    expect(c.verdict).toBe('regression');
    expect(formatComparison(c, 'a', 'b')).toContain('verdict: REGRESSION in outcomes.ok (−10.0% beyond −5%)');
    expect(compareSummaries(base, summary({ ok: 1100 }), gate('outcomes.ok=5%')).verdict).toBe('ok');
  });

  it('error, unknown, not_found, invalid and dropped are better lower', () => {
    const base = summary();
    for (const outcome of ['error', 'unknown', 'not_found', 'invalid'] as Outcome[]) {
      expect(verdictOf(`outcomes.${outcome}`, base, summary({ [outcome]: 20 }), '1'), outcome).toBe('regression');
      expect(verdictOf(`outcomes.${outcome}`, base, summary({ [outcome]: 0 }), '1'), outcome).toBe('improvement');
    }
    expect(verdictOf('dropped', base, summary({}, { dropped: 20 }), '1')).toBe('regression');
    expect(verdictOf('dropped', base, summary({}, { dropped: 0 }), '1')).toBe('improvement');
  });

  it('duplicate and sold_out are neutral: shown but not gated by default', () => {
    const c = compareSummaries(summary(), summary({ duplicate: 300, sold_out: 0 }));
    const rows = Object.fromEntries(c.rows.map((r) => [r.name, r]));
    expect(rows['outcomes.duplicate']).toMatchObject({ better: 'neutral', baseline: 100, current: 300, verdict: 'info' });
    expect(rows['outcomes.sold_out']).toMatchObject({ better: 'neutral', baseline: 100, current: 0, verdict: 'info' });
    expect(c.verdict).toBe('ok');
    expect(formatComparison(c, 'a', 'b')).toMatch(/^outcomes\.sold_out +100 +0 +−100 \(−100\.0%\) +not gated +-$/m);
  });

  it('a tolerance on a neutral metric flags a change beyond it in either direction', () => {
    const base = summary();
    for (const name of ['outcomes.duplicate', 'outcomes.sold_out'] as const) {
      const key = name.split('.')[1] as Outcome;
      expect(verdictOf(name, base, summary({ [key]: 120 }), '10%'), `${name} up`).toBe('changed');
      expect(verdictOf(name, base, summary({ [key]: 80 }), '10%'), `${name} down`).toBe('changed');
      expect(verdictOf(name, base, summary({ [key]: 110 }), '10%'), `${name} at`).toBe('ok');
      expect(verdictOf(name, base, summary({ [key]: 90 }), '10%'), `${name} at`).toBe('ok');
    }
    const c = compareSummaries(base, summary({ sold_out: 80, error: 11 }), gate('outcomes.sold_out=10%'));
    expect(c.verdict).toBe('regression');
    expect(c.regressions.map((r) => [r.name, r.verdict])).toEqual([['outcomes.sold_out', 'changed'], ['outcomes.error', 'regression']]);
    const text = formatComparison(c, 'a', 'b');
    expect(text).toMatch(/^outcomes\.sold_out +100 +80 +−20 \(−20\.0%\) +±10% +CHANGED$/m);
    expect(text).toContain('verdict: REGRESSION in outcomes.error (+10.0% beyond +0); CHANGED beyond tolerance: outcomes.sold_out (−20.0% beyond ±10%)');
  });
});
