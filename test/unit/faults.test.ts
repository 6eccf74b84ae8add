/**
 * What a timed fault did (src/metrics/faults.ts) from hand-built records, the default
 * `outcomes.error == 0` in a run with faults, the `outcomesOutsideFaults.*` thresholds, and how the
 * console, summary.md and report.html show the faults.
 */
import { describe, expect, it } from 'vitest';
import { compareMetric } from '../../src/compare/compare.js';
import { faultEffects, type FaultEvent } from '../../src/metrics/faults.js';
import { newRecords, reserveRow, type RequestRecords } from '../../src/metrics/records.js';
import { NOT_SENT, OUTCOMES, type Outcome } from '../../src/outcomes.js';
import { formatFaults, formatSummary } from '../../src/report/console.js';
import { faultBands, renderHtml } from '../../src/report/html.js';
import { renderJunit } from '../../src/report/junit.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { summarySchema, type FaultV1, type SummaryV1 } from '../../src/summary/summary.js';
import { evaluateThresholds } from '../../src/thresholds/evaluate.js';
import { parseThresholds, withDefaultThresholds } from '../../src/thresholds/parse.js';
import { buildFixture } from '../fixtures/report.js';

/** One request: its outcome, when it was sent and answered, in milliseconds since t0. */
interface Row { outcome: Outcome; sentMs: number; repliedMs: number }
function records(rows: Row[]): RequestRecords {
  const r = newRecords(4);
  for (const [i, row] of rows.entries()) {
    const at = reserveRow(r);
    r.index[at] = i;
    r.quantity[at] = 1;
    r.outcome[at] = OUTCOMES.indexOf(row.outcome);
    r.sentUs[at] = row.sentMs * 1000;
    r.repliedUs[at] = row.repliedMs * 1000;
  }
  return r;
}
const row = (outcome: Outcome, sentMs: number, repliedMs = sentMs + 0.2): Row => ({ outcome, sentMs, repliedMs });
const event = (over: Partial<FaultEvent> = {}): FaultEvent => ({ index: 0, action: 'pause', atMs: 100, startedMs: 100, endedMs: 200, ...over });

describe('fault windows and effects', () => {
  it('runs a window from the fault start to the first ok sent after its end, and counts what fell in it', () => {
    const fx = faultEffects({
      durationMs: 1000,
      events: [event({ detail: 'paused 100 ms' })],
      records: records([
        row('ok', 50), // before the window
        row('error', 60, 99.9), // answered just before the start: outside
        row('error', 90, 100), // at the start: inside
        row('unknown', 95, 150), // given up inside
        row('ok', 99, 200), // held by the pause, answered at its end: sent before the end, so it does not close the window
        row('error', 205, 210),
        row('ok', 210, 212.5), // the first ok sent after the end: the window ends here
        row('error', 300, 301), // after the window
        row('unknown', 400, 900),
      ]),
    });
    expect(fx.faults).toEqual([{
      index: 0, action: 'pause', at: 100, startedMs: 100, endedMs: 200,
      window: { fromMs: 100, toMs: 212.5 },
      // Five replies: the error at 100, the unknown at 150, the held ok at 200, the error at 210, the ok at 212.5.
      // Peak: the held ok, 101 ms (the unknown's 55 ms is not a reply).
      effect: { requests: 5, errors: 2, unknown: 1, latencyPeakUs: 101_000, recoveryMs: 12.5 },
      detail: 'paused 100 ms',
    } satisfies FaultV1]);
    expect(fx.outcomesOutsideFaults).toEqual({ error: 2, unknown: 1 });
  });

  it('leaves the window open to the run end, with no recovery, when no ok came after the fault', () => {
    const fx = faultEffects({
      durationMs: 500,
      events: [event({ action: 'kill', startedMs: 100, endedMs: 300, failed: 'restart failed: port in use' })],
      records: records([row('ok', 10), row('ok', 250, 320) /* sent before the end */, row('unknown', 150, 5150), row('error', 400, 401)]),
    });
    const [f] = fx.faults;
    // The last reply (the unknown given up at 5.15 s) is later than durationMs: the window reaches it.
    expect(f!.window).toEqual({ fromMs: 100, toMs: 5150 });
    expect(f!.effect).toEqual({ requests: 3, errors: 1, unknown: 1, latencyPeakUs: 70_000, recoveryMs: null });
    expect(f!.failed).toBe('restart failed: port in use');
    expect(fx.outcomesOutsideFaults).toEqual({ error: 0, unknown: 0 });
  });

  it('gives an instant fault a window up to the next ok sent at or after it', () => {
    const fx = faultEffects({
      durationMs: 100,
      events: [event({ action: 'script-flush', startedMs: 40, endedMs: 40 })],
      // An ok in flight when the script cache was flushed: executed before it, it does not close the window.
      records: records([row('ok', 39.9, 40.1), row('error', 40.2, 40.3), row('error', 41, 41.2), row('ok', 41.5, 42)]),
    });
    expect(fx.faults[0]!.window).toEqual({ fromMs: 40, toMs: 42 });
    expect(fx.faults[0]!.effect).toMatchObject({ requests: 4, errors: 2, recoveryMs: 2 });
    expect(fx.outcomesOutsideFaults.error).toBe(0);
  });

  it('counts a request in each overlapping window, but once outside them', () => {
    const fx = faultEffects({
      durationMs: 1000,
      events: [
        // Given out of order: the result is in the order the faults started.
        event({ index: 1, action: 'client-kill', atMs: 150, startedMs: 150, endedMs: 150 }),
        event({ index: 0, action: 'pause', startedMs: 100, endedMs: 200 }),
      ],
      records: records([
        row('error', 120, 125), // only in the pause's window
        row('error', 160, 170), // in both
        row('unknown', 100, 180), // in both
        row('ok', 160, 190), // sent after the client-kill: closes its window (not the pause's)
        row('ok', 201, 202), // closes the pause's window
        row('error', 500, 501), // in neither
      ]),
    });
    expect(fx.faults.map((f) => [f.index, f.window])).toEqual([[0, { fromMs: 100, toMs: 202 }], [1, { fromMs: 150, toMs: 190 }]]);
    expect(fx.faults[0]!.effect).toMatchObject({ requests: 5, errors: 2, unknown: 1, recoveryMs: 2 });
    expect(fx.faults[1]!.effect).toMatchObject({ requests: 3, errors: 1, unknown: 1, recoveryMs: 40 });
    // 4 errors and 1 unknown in all: 3 errors and the unknown inside some window, each counted once.
    expect(fx.outcomesOutsideFaults).toEqual({ error: 1, unknown: 0 });
  });

  it('takes the latency peak from the intended send when given, and skips rows never sent or without times', () => {
    const r = records([row('ok', 110, 120), row('error', 300, 301)]);
    const at = reserveRow(r); // reserved, never sent
    r.outcome[at] = NOT_SENT;
    r.repliedUs[at] = 150_000;
    const untimed = reserveRow(r); // hand-built without times
    r.outcome[untimed] = OUTCOMES.indexOf('error');
    r.sentUs[untimed] = NaN;
    r.repliedUs[untimed] = NaN;
    const intendedUs = Float64Array.from([50_000, 300_000, 0, 0]);
    const fx = faultEffects({ durationMs: 400, events: [event({ endedMs: 100 })], records: r, intendedUs });
    expect(fx.faults[0]!.effect).toEqual({ requests: 1, errors: 0, unknown: 0, latencyPeakUs: 70_000, recoveryMs: 20 });
    expect(fx.outcomesOutsideFaults).toEqual({ error: 2, unknown: 0 });
    // From the actual send, the peak is 10 ms.
    expect(faultEffects({ durationMs: 400, events: [event({ endedMs: 100 })], records: r }).faults[0]!.effect.latencyPeakUs).toBe(10_000);
  });

  it('has nothing to say without faults', () => {
    expect(faultEffects({ durationMs: 10, events: [], records: records([row('error', 1)]) })).toEqual({ faults: [], outcomesOutsideFaults: { error: 1, unknown: 0 } });
  });
});

function summary(overrides: Partial<SummaryV1> = {}): SummaryV1 {
  return {
    version: 1,
    sellout: { version: '0.1.0', node: 'v20' },
    run: { id: 'r', startedAt: '2025-01-01T00:00:00.000Z', finishedAt: '2025-01-01T00:00:01.000Z', keysKept: false },
    scenario: { name: 's', file: 's.yaml', script: 'lua/deduct.lua', scriptSha: 'x', asRun: 'name: s\n' },
    status: 'pass',
    requests: 1000,
    planned: 1000,
    durationMs: 10_000,
    throughput: 100,
    outcomes: { ok: 900, duplicate: 0, sold_out: 70, not_found: 0, invalid: 0, error: 14, unknown: 16 },
    latency: { ok: null, duplicate: null, sold_out: null, not_found: null, invalid: null, error: null, unknown: null },
    load: { model: 'closed', connections: 1, inFlight: 1, workers: 1 },
    invariants: [],
    skus: [],
    target: { redisVersion: '7.0.15', mode: 'standalone', url: 'redis://x', kind: 'url' },
    ...overrides,
  };
}

const KILL: FaultV1 = {
  index: 0, action: 'kill', at: 2000, startedMs: 2001.5, endedMs: 2600, window: { fromMs: 2001.5, toMs: 2612.25 },
  effect: { requests: 310, errors: 14, unknown: 12, latencyPeakUs: 598_400, recoveryMs: 12.25 }, detail: 'restarted after 600 ms',
};
const FAILOVER: FaultV1 = {
  index: 1, action: 'failover', at: 5000, startedMs: 5000, endedMs: 5000, window: { fromMs: 5000, toMs: 10_000 },
  effect: { requests: 0, errors: 0, unknown: 0, latencyPeakUs: null, recoveryMs: null }, failed: 'no replica to promote',
};
const withFaults = (outside = { error: 0, unknown: 4 }) => summary({ faults: [KILL, FAILOVER], outcomesOutsideFaults: outside });

describe('summary.json faults', () => {
  it('parses faults and the outcomes outside them, and summaries without them', () => {
    const s = withFaults();
    expect(summarySchema.parse(JSON.parse(JSON.stringify(s)))).toEqual(s);
    const old = summarySchema.parse(JSON.parse(JSON.stringify(summary())));
    expect(old.faults).toBeUndefined();
    expect(old.outcomesOutsideFaults).toBeUndefined();
    const bad = summarySchema.safeParse({ ...JSON.parse(JSON.stringify(s)), faults: [{ ...KILL, effect: { ...KILL.effect, recoveryMs: 'soon' } }] });
    expect(bad.success).toBe(false);
  });
});

describe('thresholds in a run with faults', () => {
  const evaluate = (declared: Record<string, string>, s: SummaryV1) => evaluateThresholds(withDefaultThresholds(parseThresholds(declared).thresholds), s);

  it('evaluates the default outcomes.error == 0 on the errors outside every fault window, and says so', () => {
    const [r] = evaluate({}, withFaults());
    expect(r).toMatchObject({ name: 'outcomes.error', status: 'pass', actual: 0, limit: 0, default: true, reason: 'counted outside fault windows (14 inside the 2 fault windows, expected)' });
    expect(r!.text).toBe('outcomes.error == 0: actual 0 outside fault windows (14 inside the 2 fault windows, expected), limit 0, exactly on it (default)');
  });

  it('still fails the default on an error outside every window, saying how to allow some', () => {
    const [r] = evaluate({}, withFaults({ error: 3, unknown: 0 }));
    expect(r).toMatchObject({ status: 'fail', actual: 3 });
    expect(r!.text).toContain('actual 3 outside fault windows (11 inside the 2 fault windows, expected)');
    expect(r!.text).toContain('set thresholds.outcomesOutsideFaults.error (or outcomes.error, every error) in the scenario to allow some');
  });

  it('keeps the default plain in a run without faults', () => {
    const [r] = evaluate({}, summary());
    expect(r).toMatchObject({ status: 'fail', actual: 14 });
    expect(r!.reason).toBeUndefined();
    expect(r!.text).toBe('outcomes.error == 0: actual 14, limit 0, off by 14; a default threshold: set thresholds.outcomes.error in the scenario to allow some');
  });

  it('gives a user-written outcomes.error its plain meaning: every error, inside the windows too', () => {
    const results = evaluate({ 'outcomes.error': '== 0' }, withFaults());
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ status: 'fail', actual: 14 });
    expect(results[0]!.default).toBeUndefined();
  });

  it('reads outcomesOutsideFaults.error and .unknown as counts or shares, and drops the default for the first', () => {
    const results = evaluate({ 'outcomesOutsideFaults.error': '== 0', 'outcomesOutsideFaults.unknown': '< 0.1%' }, withFaults());
    expect(results.map((r) => [r.name, r.status, r.actual, r.default])).toEqual([
      ['outcomesOutsideFaults.error', 'pass', 0, undefined],
      ['outcomesOutsideFaults.unknown', 'fail', 0.004, undefined],
    ]);
    // A run without faults has no window: every error is outside.
    expect(evaluate({ 'outcomesOutsideFaults.unknown': '<= 16' }, summary()).map((r) => [r.name, r.status, r.actual])).toEqual([
      ['outcomesOutsideFaults.unknown', 'pass', 16],
      ['outcomes.error', 'fail', 14],
    ]);
  });

  it('rejects other outcomes outside faults', () => {
    const { problems } = parseThresholds({ 'outcomesOutsideFaults.ok': '> 0', 'outcomesOutsideFaults.error': '== lots' });
    expect(problems.map((p) => p.path.join('.'))).toEqual(['thresholds.outcomesOutsideFaults.ok', 'thresholds.outcomesOutsideFaults.error']);
    expect(problems[0]!.expected).toContain('outcomesOutsideFaults.<error|unknown>');
  });

  it('fails rather than guesses when a summary has faults but not the counts outside them', () => {
    const s = summary({ faults: [KILL] });
    expect(evaluate({}, s)[0]).toMatchObject({ status: 'fail', actual: null });
    expect(evaluate({ 'outcomesOutsideFaults.error': '== 0' }, s)[0]).toMatchObject({ status: 'fail', actual: null });
  });

  it('compares outcomesOutsideFaults between runs (fewer is better)', () => {
    const m = compareMetric('outcomesOutsideFaults.error')!;
    expect(m.better).toBe('lower');
    expect(m.value(withFaults({ error: 2, unknown: 0 }))).toBe(2);
    expect(m.value(summary())).toBe(14);
  });
});

describe('faults in the reports', () => {
  it('prints one console row per fault with its window and effect, and why a fault failed', () => {
    const lines = formatFaults(withFaults());
    expect(lines[0]).toBe('  faults      2 fault(s): errors and unknown outcomes inside a window are expected; outside every window: error 0 · unknown 4');
    expect(lines.slice(1).join('\n')).toBe([
      '    #  action        at  window                      requests  errors  unknown  latency peak  recovery',
      '    0  kill      2.00 s  2.00 s - 2.61 s                  310      14       12      598.4 ms   12.3 ms',
      '       restarted after 600 ms',
      '    1  failover  5.00 s  5.00 s - end (no ok after)         0       0        0             -      none',
      '       FAILED: no replica to promote',
    ].join('\n'));
    expect(formatSummary(withFaults())).toContain(lines.join('\n'));
    expect(formatFaults(summary())).toEqual([]);
    expect(formatSummary(summary())).not.toContain('faults');
  });

  it('adds a Faults table to summary.md and shows what the default threshold counted', () => {
    const s = withFaults();
    s.thresholds = evaluateThresholds(withDefaultThresholds([]), s);
    const md = renderMarkdown(s);
    expect(md).toContain('### Faults');
    expect(md).toContain('outside every window (error 0, unknown 4)');
    expect(md).toContain('| 0 | `kill` | 2.00 s | 2.00 s – 2.61 s | 310 | 14 | 12 | 598.4 ms | 12.25 ms | restarted after 600 ms |');
    expect(md).toContain('| 1 | `failover` | 5.00 s | 5.00 s – end (no ok after) | 0 | 0 | 0 | — | none | ❌ failed: no replica to promote |');
    expect(md).toContain('| 0 (counted outside fault windows (14 inside the 2 fault windows, expected)) |');
    expect(renderMarkdown(summary())).not.toContain('### Faults');
    expect(renderJunit(s)).toContain('outcomes.error');
  });

  it('adds a Faults section to report.html and gives the charts each window in seconds', async () => {
    const input = await buildFixture({ faults: true });
    const html = renderHtml(input);
    expect(html).toContain('<section id="faults"><h2>Faults</h2>');
    expect(html).toContain('failed: no replica to promote &lt;none&gt;');
    expect(html).toContain('Shaded: fault windows');
    expect(faultBands(input.summary).map((b) => b.label)).toEqual(['#0 pause', '#1 kill', '#2 failover (failed)']);
    const noFaults = renderHtml(await buildFixture());
    expect(noFaults).not.toContain('id="faults"');
  });

  it('builds the fixture\'s faults from its records: the errors of second 5 inside the pause, the kill\'s unknowns inside the kill', async () => {
    const { summary: s } = await buildFixture({ faults: true });
    expect(s.outcomes.error).toBe(3);
    expect(s.outcomesOutsideFaults).toEqual({ error: 0, unknown: 0 });
    const [pause, kill, failover] = s.faults!;
    expect(pause).toMatchObject({ action: 'pause', effect: { errors: 3, unknown: 0 } });
    expect(pause!.effect.latencyPeakUs).toBeGreaterThan(590_000);
    expect(kill!.effect.unknown).toBe(s.outcomes.unknown);
    expect(kill!.effect.recoveryMs).toBeLessThan(5);
    expect(failover!.failed).toBeDefined();
    expect(s.thresholds!.find((t) => t.name === 'outcomes.error')).toMatchObject({ status: 'pass', default: true, actual: 0 });
    expect(summarySchema.parse(JSON.parse(JSON.stringify(s))).faults).toEqual(s.faults);
  });
});
