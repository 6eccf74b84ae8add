/**
 * The series' time resolution: the interval chosen from a run's expected length (before the load
 * starts), the recorder and series builder on a 100 ms interval, and rates per second that
 * normalize the last, partial interval by its real length (no false dip at a run's end).
 */
import { describe, expect, it } from 'vitest';
import { ALLOWED_INTERVALS_MS, chooseIntervalMs } from '../../src/metrics/interval.js';
import { initHistograms } from '../../src/metrics/histogram.js';
import { Recorder } from '../../src/metrics/recorder.js';
import { SeriesBuilder } from '../../src/metrics/series.js';
import { Code } from '../../src/outcomes.js';
import { expectedRunMs, seriesIntervalMs } from '../../src/load/resolution.js';
import { perSecondOf, timeCharts } from '../../src/report/html.js';
import { parseScenario } from '../../src/scenario/load.js';
import { ROOT } from '../helpers/cli.js';

function scenario(yaml: string) {
  return parseScenario(`name: t\nscript: ../lua/deduct.lua\nseed: 5\nskus: {count: 1, stock: 10}\n${yaml}`, `${ROOT}/test/t.yaml`, { cwd: ROOT });
}

describe('the interval of a run', () => {
  it('is the longest allowed interval that gives at least 50 points, 100 ms at the finest', () => {
    expect(chooseIntervalMs(300)).toBe(100);
    expect(chooseIntervalMs(3000)).toBe(100);
    expect(chooseIntervalMs(12_500)).toBe(250);
    expect(chooseIntervalMs(25_000)).toBe(500);
    expect(chooseIntervalMs(60_000)).toBe(1000);
    expect(chooseIntervalMs(300_000)).toBe(5000);
    expect(chooseIntervalMs(24 * 3_600_000)).toBe(60_000);
    for (const ms of [NaN, Infinity, 0, -1]) expect(chooseIntervalMs(ms)).toBe(1000);
    // Every run of 5 s to 50 min gets 50 to 150 points.
    for (let ms = 5000; ms <= 3_000_000; ms *= 1.37) {
      const points = ms / chooseIntervalMs(ms);
      expect(points, `${ms} ms`).toBeGreaterThanOrEqual(50);
      expect(points, `${ms} ms`).toBeLessThan(150);
      expect(ALLOWED_INTERVALS_MS).toContain(chooseIntervalMs(ms));
    }
  });

  it('comes from the scenario: its duration, the open schedule, or requests over the closed estimate', () => {
    expect(expectedRunMs(scenario('duration: 30s\nload: {connections: 1}'))).toBe(30_000);
    expect(seriesIntervalMs(scenario('duration: 30s\nload: {connections: 1}'))).toBe(500);
    expect(seriesIntervalMs(scenario('duration: 10m\nload: {connections: 1}'))).toBe(10_000);
    // smoke.yaml: 3,000 requests at 1,000/s, the last due at 2.999 s.
    expect(expectedRunMs(scenario('requests: 3000\nload: {model: constant-rate, rate: 1000, connections: 1}'))).toBeCloseTo(2999, 0);
    expect(seriesIntervalMs(scenario('requests: 60000\nload: {model: constant-rate, rate: 1000, connections: 1}'))).toBe(1000);
    // A ramp: the stages' length, or when its requests run out if sooner.
    expect(expectedRunMs(scenario('load: {model: ramping-rate, startRate: 0, stages: [{duration: 20s, target: 100}], connections: 1}'))).toBe(20_000);
    expect(expectedRunMs(scenario('requests: 50\nload: {model: ramping-rate, startRate: 100, stages: [{duration: 20s, target: 100}], connections: 1}'))).toBeCloseTo(490, 0);
    // Closed: hot-sku's 200,000 requests (under a second on a laptop) get 100 ms; 5 M get 1 s.
    expect(seriesIntervalMs(scenario('requests: 200000\nload: {connections: 50, inFlight: 8}'))).toBe(100);
    expect(seriesIntervalMs(scenario('requests: 5000000\nload: {connections: 50, inFlight: 8}'))).toBe(1000);
  });
});

describe('a 100 ms series', () => {
  it('recorders rotate on the run interval; the last interval is cut at the last reply, intervals after it left out', async () => {
    await initHistograms();
    const series = new SeriesBuilder(1, [0], 100);
    const r = new Recorder(100, false, (report) => series.add(report), undefined, 100);
    r.record(0, 0, 0, 1, Code.ok, 9, 0, 0, 50_000); // interval 0
    r.record(1, 0, 0, 1, Code.ok, 8, 0, 0, 150_000); // interval 1
    r.record(2, 0, 0, 1, Code.ok, 7, 0, 0, 160_000);
    r.record(3, 0, 0, 1, Code.ok, 6, 0, 0, 225_000); // interval 2, the last reply at 225 ms
    r.rotate(310_000); // the worker's timer closed interval 3 (empty) before it stopped
    series.addDropped(1, 2);
    series.addDropped(3, 1); // a drop after the last reply: counted in the last interval kept
    series.add(r.finish(), true);
    const { series: s, intervals } = series.build(225, { sendsBy: (tMs) => tMs / 10, dropped: true });
    expect(s.intervalMs).toBe(100);
    expect(s.t).toEqual([0, 100, 200]);
    expect(s.replies.ok).toEqual([1, 2, 1]);
    expect(s.lastIntervalMs).toBe(25);
    expect(s.scheduled).toEqual([10, 10, 2.5]);
    expect(s.dropped).toEqual([0, 2, 1]);
    expect(intervals.map((i) => [i.startMs, i.durationMs])).toEqual([[0, 100], [100, 100], [200, 25]]);
    r.destroy();
  });

  it('rates per second divide by the interval, the last by its real length: a steady rate shows no dip at the end', () => {
    // 50 replies every 100 ms, and the run ended 40 ms into the last interval (20 replies there).
    const s = { intervalMs: 100, lastIntervalMs: 40 };
    expect(perSecondOf(s, [50, 50, 20])).toEqual([500, 500, 500]);
    // Without lastIntervalMs (older summary.json files) the last interval counts as full.
    expect(perSecondOf({ intervalMs: 1000 }, [7, 3])).toEqual([7, 3]);
    // A last interval too short to give a rate (under 10% of the interval) is left out.
    expect(perSecondOf({ intervalMs: 100, lastIntervalMs: 4 }, [50, 3])).toEqual([500, null]);
  });

  it('the replies/s chart of an open model has a target-rate line and a dropped line', () => {
    const series = {
      intervalMs: 250, lastIntervalMs: 125, t: [0, 250, 500],
      replies: { ok: [200, 240, 110] }, p50: { ok: [1, 1, 1] }, p99: { ok: [2, 2, 2] }, max: { ok: [3, 3, 3] }, stock: [],
      scheduled: [250, 250, 125], dropped: [0, 10, 15],
    };
    const charts = timeCharts({ series, durationMs: 625, skus: [] } as unknown as Parameters<typeof timeCharts>[0]);
    const replies = charts.find((c) => c.id === 'replies')!;
    expect(replies.title).toBe('Replies per second (per 250 ms)');
    expect(replies.series.map((x) => x.label)).toEqual(['ok', 'target rate', 'dropped']);
    expect(replies.series[0]!.values).toEqual([800, 960, 880]);
    expect(replies.series[1]!.values).toEqual([1000, 1000, 1000]);
    expect(replies.series[2]!.values).toEqual([0, 40, 120]);
  });
});
