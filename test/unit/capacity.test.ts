/** The pure parts of `sellout capacity`: the SLO flag, the server's latency histogram, the step's scenario, the answer. */
import { describe, expect, it } from 'vitest';
import { formatMemory, journalProjection, MAX_SENSIBLE_SHARDS, peakAnswer } from '../../src/capacity/answer.js';
import { CEILING_LOAD, scenarioForStep } from '../../src/capacity/capacity.js';
import { bucketDelta, bucketQuantile, parseLatencyHistogram } from '../../src/capacity/server-latency.js';
import { DEFAULT_SLO, sloThresholds } from '../../src/capacity/slo.js';
import { UsageError } from '../../src/errors.js';
import { hottestSkuShare } from '../../src/load/plan.js';
import { parseScenario } from '../../src/scenario/load.js';
import { ROOT } from '../helpers/cli.js';

describe('--slo', () => {
  it('turns "metric op limit" into the thresholds mapping, several on one metric into a list; the default without any', () => {
    expect(sloThresholds([])).toEqual({ 'latency.ok.p99': '< 5ms' });
    expect(DEFAULT_SLO).toBe('latency.ok.p99 < 5ms');
    expect(sloThresholds(['latency.ok.p99<=2ms', ' latency.ok.p99 > 1us ', 'outcomes.error == 0'])).toEqual({
      'latency.ok.p99': ['<= 2ms', '> 1us'],
      'outcomes.error': '== 0',
    });
  });

  it('names the flag, what it expects and what it got', () => {
    expect(() => sloThresholds(['p99 5ms'])).toThrow(UsageError);
    expect(() => sloThresholds(['p99 5ms'])).toThrow('--slo: expected a metric, an operator (<= >= == != < >) and a limit, like "latency.ok.p99 < 5ms", got "p99 5ms"');
  });
});

describe('LATENCY HISTOGRAM', () => {
  // Redis 7's reply for one command (flat, as RESP2 or ioredis's legacy shape gives it).
  const reply = (calls: number, buckets: number[]) => ['evalsha', ['calls', calls, 'histogram_usec', buckets]];

  it('reads the cumulative buckets, and an empty histogram for a command never called', () => {
    expect([...parseLatencyHistogram(reply(5, [8, 1, 16, 4, 33, 5]), 'evalsha')]).toEqual([[8, 1], [16, 4], [33, 5]]);
    expect(parseLatencyHistogram([], 'evalsha').size).toBe(0);
    // A map-shaped reply (RESP3 as a Map) reads the same.
    expect([...parseLatencyHistogram(new Map([['evalsha', new Map<string, unknown>([['calls', 2], ['histogram_usec', new Map([[4, 1], [8, 2]])]])]]), 'evalsha')]).toEqual([[4, 1], [8, 2]]);
  });

  it('takes the step as the difference of two readings, and its quantiles as bucket bounds', () => {
    const before = parseLatencyHistogram(reply(10, [8, 6, 16, 10]), 'evalsha');
    // 100 more calls: 4 more at <= 8, 6 more in (8, 16], 90 in (16, 33], none in (33, 66] (a bucket that appeared), 0 beyond.
    const after = parseLatencyHistogram(reply(110, [8, 10, 16, 20, 33, 110]), 'evalsha');
    const delta = bucketDelta(before, after);
    expect(delta).toEqual([[8, 4], [16, 6], [33, 90]]);
    expect(bucketQuantile(delta, 0.05)).toBe(16);
    expect(bucketQuantile(delta, 0.5)).toBe(33);
    expect(bucketQuantile(delta, 0.99)).toBe(33);
    expect(bucketQuantile([], 0.99)).toBeNull();
    // A bucket first filled during the step counts from zero.
    expect(bucketDelta(parseLatencyHistogram(reply(3, [8, 3]), 'evalsha'), parseLatencyHistogram(reply(5, [8, 3, 64, 5]), 'evalsha'))).toEqual([[8, 0], [64, 2]]);
  });
});

describe('a step\'s scenario', () => {
  const base = parseScenario(
    'name: s\nscript: builtin:deduct\nskus: {count: 30, stock: 5, selection: zipf}\nquantity: {1: 0.5, 3: 0.5}\nrequests: 900\nload: {connections: 4, inFlight: 2, workers: 1}\nthresholds: {latency.ok.p50: "< 1ms"}\nfaults: [{at: 1s, action: pause, duration: 100ms}]\n',
    `${ROOT}/test/s.yaml`,
  );

  it('is the scenario at a constant rate for the step, judged by the SLO alone, with stock that cannot sell out and no fault', () => {
    const s = scenarioForStep(base, { series: 'all SKUs', rate: 2000, stepMs: 4000, thresholds: { 'latency.ok.p99': '< 5ms' } });
    expect(s.load).toMatchObject({ model: 'constant-rate', rate: 2000, workers: 1 });
    expect(s.duration).toBe(4000);
    expect(s.requests).toBeUndefined();
    expect(s.thresholds).toEqual({ 'latency.ok.p99': '< 5ms' });
    expect(s.faults).toEqual([]);
    // 8,000 requests of up to 3 units could all land on one SKU.
    expect(s.skus.stock).toBeGreaterThanOrEqual(8000 * 3);
    expect(s.skus).toMatchObject({ count: 30, selection: { type: 'zipf' } });
    expect(s.scriptPath).toBe(base.scriptPath);
  });

  it('the ceiling is the closed loop at full depth without thresholds; the single-SKU series has one SKU', () => {
    const ceiling = scenarioForStep(base, { series: 'ceiling', rate: null, stepMs: 2000, thresholds: {} });
    expect(ceiling.load).toMatchObject({ model: 'closed', ...CEILING_LOAD });
    expect(ceiling.thresholds).toBeUndefined();
    const one = scenarioForStep(base, { series: 'one SKU', rate: 500, stepMs: 1000, thresholds: {} });
    expect(one.skus).toMatchObject({ count: 1, selection: { type: 'uniform' } });
  });
});

describe('the answer', () => {
  it('plans shards at headroom x the measured maximum', () => {
    const a = peakAnswer({ targetRate: 100_000, maxRate: 20_000, singleSkuMaxRate: 20_000, headroom: 0.7, hottestShare: 0.01, skuCount: 1000 });
    expect(a.shardsNeeded).toBe(8); // 100,000 / 14,000 = 7.1
    expect(a.reachable).toBe(true);
    expect(a.sentences[0]).toBe('The peak of 100,000/s needs 8 shards at 70% of the 20,000/s one shard held (14,000/s each).');
  });

  it('a hot SKU beyond one shard is not reachable by sharding, and says how many buckets would do', () => {
    const a = peakAnswer({ targetRate: 100_000, maxRate: 20_000, singleSkuMaxRate: 18_000, headroom: 0.7, hottestShare: 0.9, skuCount: 100 });
    expect(a.reachable).toBe(false);
    expect(a.hottestSkuRate).toBe(90_000);
    // 90,000 / (18,000 x 0.7) = 7.1
    expect(a.sentences[1]).toMatch(/^Not reachable by adding shards: the hottest SKU takes 90\.0% of the peak \(90,000\/s\), more than the 12,600\/s one SKU can take .* split its stock into at least 8 buckets/);
  });

  it('more shards than SKUs, or beyond a sensible cluster, is not reachable; no maximum cannot be planned', () => {
    expect(peakAnswer({ targetRate: 50_000, maxRate: 10_000, singleSkuMaxRate: null, headroom: 1, hottestShare: 0.25, skuCount: 4 }).reachable).toBe(false);
    const huge = peakAnswer({ targetRate: 1e9, maxRate: 1000, singleSkuMaxRate: null, headroom: 1, hottestShare: 1e-7, skuCount: 10_000_000 });
    expect(huge.shardsNeeded).toBeGreaterThan(MAX_SENSIBLE_SHARDS);
    expect(huge.reachable).toBe(false);
    expect(peakAnswer({ targetRate: 10, maxRate: null, singleSkuMaxRate: null, headroom: 0.7, hottestShare: 1, skuCount: 1 })).toMatchObject({ shardsNeeded: null, reachable: false });
  });

  it('projects the journal for the orders and warns when it passes maxmemory', () => {
    expect(journalProjection({ orders: 1_000_000, bytesPerEntry: 120, maxmemory: 0, usedMemory: 1e6 })).toEqual({ orders: 1_000_000, bytes: 120_000_000 });
    const tight = journalProjection({ orders: 1_000_000, bytesPerEntry: 120, maxmemory: 100 * 1024 * 1024, usedMemory: 1024 * 1024 });
    expect(tight.warning).toBe('The journal for 1,000,000 orders (114.4 MiB) does not fit this server\'s maxmemory of 100.0 MiB with the 1.00 MiB it holds already: shard it, raise maxmemory, or expire settled journal entries.');
    expect(journalProjection({ orders: 5, bytesPerEntry: null, maxmemory: 1, usedMemory: 0 })).toEqual({ orders: 5, bytes: null });
    expect(formatMemory(512)).toBe('512 B');
  });

  it('knows the hottest SKU\'s share of each selection', () => {
    expect(hottestSkuShare({ type: 'uniform' }, 4)).toBe(0.25);
    expect(hottestSkuShare({ type: 'hot', share: 0.9 }, 10)).toBe(0.9);
    expect(hottestSkuShare({ type: 'hot', share: 0.01 }, 10)).toBeCloseTo(0.11);
    expect(hottestSkuShare({ type: 'zipf', exponent: 1 }, 2)).toBeCloseTo(2 / 3);
    expect(hottestSkuShare({ type: 'uniform' }, 1)).toBe(1);
  });
});
