import { beforeAll, describe, expect, it } from 'vitest';
import { encodeHistogram, initHistograms, newHistogram, percentiles, recordUs } from '../../src/metrics/histogram.js';
import { mergeEncoded } from '../../src/metrics/merge.js';
import { SeriesBuilder } from '../../src/metrics/series.js';
import { Recorder } from '../../src/metrics/recorder.js';
import { Code } from '../../src/outcomes.js';

beforeAll(async () => { await initHistograms(); });

/** A deterministic spread of latencies (log-uniform-ish, 1 us .. 2 s). */
function values(seed: number, n: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return Math.round(Math.exp((x / 2 ** 32) * Math.log(2_000_000)));
  });
}

describe('merging histograms across workers', () => {
  it('merged count is the sum and percentiles equal one histogram of all values', () => {
    const parts = [values(1, 5000), values(2, 300), values(3, 12_000), []];
    const single = newHistogram();
    const encoded = parts.map((vs) => {
      const h = newHistogram();
      for (const v of vs) { recordUs(h, v); recordUs(single, v); }
      const text = h.totalCount > 0 ? encodeHistogram(h) : null;
      h.destroy();
      return text;
    });
    const merged = mergeEncoded(encoded);
    expect(merged.totalCount).toBe(5000 + 300 + 12_000);
    const { max: mergedMax, ...mergedRest } = percentiles(merged);
    const { max: singleMax, ...singleRest } = percentiles(single);
    expect(mergedRest).toEqual(singleRest);
    // The V2 encoding keeps bucket counts, not the exact max: it comes back as its bucket's
    // highest equivalent value, within the 3 significant digits.
    expect(Math.abs(mergedMax - singleMax)).toBeLessThanOrEqual(singleMax * 0.001);
    for (const p of [1, 25, 50, 75, 90, 99, 99.9, 99.99]) expect(merged.getValueAtPercentile(p)).toBe(single.getValueAtPercentile(p));
    merged.destroy();
    single.destroy();
  });

  it('per-second reports of two workers merge per interval, and the run totals equal the sum of intervals', () => {
    const series = new SeriesBuilder(2, [0]);
    const recorders = [0, 1].map(() => new Recorder(100, false, (report) => series.add(report)));
    // Worker 0: 3 ok in second 0, 1 sold_out in second 2; worker 1: 2 ok in second 1.
    recorders[0]!.record(0, 0, 0, 1, Code.ok, 9, 0, 0, 100);
    recorders[0]!.record(2, 0, 0, 1, Code.ok, 8, 0, 0, 200);
    recorders[0]!.record(4, 0, 0, 1, Code.ok, 7, 0, 0, 900_000);
    recorders[1]!.record(1, 0, 0, 1, Code.ok, 6, 1_000_000, 1_000_000, 1_000_500);
    recorders[1]!.record(3, 0, 0, 1, Code.ok, 5, 1_000_000, 1_000_000, 1_001_500);
    recorders[0]!.record(6, 0, 0, 1, Code.sold_out, NaN, 2_000_000, 2_000_000, 2_000_050);
    recorders[1]!.rotate(2_100_000);
    for (const r of recorders) series.add(r.finish(), true);
    expect(recorders[0]!.totals[Code.ok]!.totalCount).toBe(3);
    expect(recorders[1]!.totals[Code.ok]!.totalCount).toBe(2);
    const { series: s, intervals } = series.build(2_100);
    expect(s.t).toEqual([0, 1000, 2000]);
    expect(s.replies.ok).toEqual([3, 2, 0]);
    expect(s.replies.sold_out).toEqual([0, 0, 1]);
    expect(s.p50.ok).toEqual([200, 500, null]);
    expect(s.max.ok![1]).toBe(1500);
    expect(s.replies.duplicate).toBeUndefined();
    expect(intervals.map((i) => [i.outcome, i.startMs, i.durationMs])).toEqual([
      ['ok', 0, 1000], ['ok', 1000, 1000], ['sold_out', 2000, 100],
    ]);
    for (const r of recorders) r.destroy();
  });

  it('workers hand intervals over as V2 bytes; a late report for an interval already summarised merges with it', async () => {
    const series = new SeriesBuilder(2, [0]);
    const recorders = [0, 1].map(() => new Recorder(100, false));
    recorders[0]!.record(0, 0, 0, 1, Code.ok, 9, 0, 0, 100);
    recorders[1]!.record(1, 0, 0, 1, Code.ok, 8, 0, 0, 300);
    recorders[1]!.record(3, 0, 0, 1, Code.ok, 7, 0, 0, 900);
    const first = recorders[0]!.finish();
    const second = recorders[1]!.finish();
    expect(first.encoded[Code.ok]).toBeInstanceOf(Uint8Array);
    expect(first.encoded[Code.duplicate]).toBeNull();
    series.add(first);
    // Nothing is merged before it is asked for; one worker has not reported: no interval is complete.
    expect(series.latest()).toBeUndefined();
    series.add(second);
    expect(series.latest()).toMatchObject({ n: 0, okP99: 900 });
    // A lagging worker's second report for interval 0 comes after the progress line summarised it.
    const late = new Recorder(100, false);
    late.record(4, 0, 0, 1, Code.ok, 6, 0, 0, 2000);
    series.add(late.finish(), true);
    const { series: s, intervals } = series.build(500);
    expect(s.replies.ok).toEqual([4]);
    expect(s.max.ok).toEqual([2000]);
    const merged = mergeEncoded([intervals[0]!.encoded]);
    expect(merged.totalCount).toBe(4);
    merged.destroy();
    for (const r of [...recorders, late]) r.destroy();
  });
});

