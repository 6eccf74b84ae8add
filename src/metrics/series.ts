/**
 * The series over time, merged across workers: every worker reports each interval (the run's
 * interval, src/load/resolution.ts: 100 ms to 1 min; counts and encoded histograms per outcome);
 * intervals with the same number are merged exactly with add(). Reports are kept as they came
 * (encoded, a few hundred bytes to a few KB each) and an interval is merged and summarised
 * (p50/p99/max, encoded for latency.hlog) only when asked for: the progress line's latest interval,
 * once a second, and the rest after the load. Merging costs about 0.5 ms of the main thread per
 * interval (a histogram allocated, decoded parts added, deflate in JavaScript); done as each
 * 100 ms interval came in, that work competed with the load thread and the server for this
 * machine's cores and showed in the 1x1 p99.9.
 *
 * Counts stay counts per interval (summary.json); a rate divides them by the interval's length,
 * which for the last one is `lastIntervalMs`, its real length (the run ended inside it): a rate
 * over the nominal length would show a false dip at every run's end.
 */
import { OUTCOMES, type Outcome } from '../outcomes.js';
import type { SeriesV1 } from '../summary/summary.js';
import { encodeHistogram } from './histogram.js';
import { DEFAULT_INTERVAL_MS, type IntervalReport } from './interval.js';
import { mergeEncoded } from './merge.js';

/** One interval's latency histogram of one outcome, for `latency.hlog`. */
export interface IntervalHistogram {
  readonly outcome: Outcome;
  /** Interval start, milliseconds since the run's t0. */
  readonly startMs: number;
  readonly durationMs: number;
  /** hdr-histogram-js compressed base64 (the HdrHistogram V2 encoding), microseconds. */
  readonly encoded: string;
}

interface OpenInterval {
  received: number;
  counts: Float64Array;
  /** Per outcome code, the encoded histograms reported for this interval. */
  parts: (string | Uint8Array)[][];
}

interface ClosedInterval {
  counts: Float64Array;
  p50: (number | null)[];
  p99: (number | null)[];
  max: (number | null)[];
  encoded: (string | null)[];
}

export class SeriesBuilder {
  private readonly open = new Map<number, OpenInterval>();
  private readonly closed = new Map<number, ClosedInterval>();
  /** Stock samples: interval number -> value per sampled SKU (aligned with `stockSkus`). */
  private readonly stock = new Map<number, (number | null)[]>();
  /** Open models: sends dropped per interval (summed over workers). */
  private readonly dropped = new Map<number, number>();
  /** The latest interval every worker has reported (-1: none yet). */
  private complete = -1;

  constructor(
    private readonly workers: number,
    readonly stockSkus: readonly number[],
    /** The run's interval (ms), the one its recorders rotate on. */
    readonly intervalMs: number = DEFAULT_INTERVAL_MS,
  ) {}

  /** Open models: `count` sends dropped in interval n (by one worker; added up). */
  addDropped(n: number, count: number): void {
    if (count !== 0) this.dropped.set(n, (this.dropped.get(n) ?? 0) + count);
  }

  add(report: IntervalReport, final = false): void {
    let entry = this.open.get(report.n);
    if (entry === undefined) {
      entry = { received: 0, counts: new Float64Array(OUTCOMES.length), parts: OUTCOMES.map(() => []) };
      this.open.set(report.n, entry);
    }
    entry.received++;
    if (!final) this.complete = Math.max(this.complete, entry.received >= this.workers ? report.n : -1);
    for (let code = 0; code < OUTCOMES.length; code++) {
      entry.counts[code]! += report.counts[code] ?? 0;
      const encoded = report.encoded[code];
      if (encoded) entry.parts[code]!.push(encoded);
    }
  }

  setStock(n: number, values: (number | null)[]): void {
    this.stock.set(n, values);
  }

  /** The most recent interval every worker has reported (for progress), if any. */
  latest(): { n: number; counts: Float64Array; okP99: number | null } | undefined {
    const n = this.complete;
    if (n < 0) return undefined;
    this.close(n);
    const c = this.closed.get(n)!;
    return { n, counts: c.counts, okP99: c.p99[0] ?? null };
  }

  /**
   * Summarises every interval; `endMs` is when the last reply came (the last interval is partial:
   * intervals after it, empty ones a worker closed while stopping, are left out). Open models pass
   * `sendsBy` (the schedule's expected sends by a time, capped at the run's requests) for the
   * sends scheduled per interval, the target rate's line.
   */
  build(endMs: number, options: { sendsBy?: (tMs: number) => number; dropped?: boolean } = {}): { series: SeriesV1; intervals: IntervalHistogram[] } {
    for (const n of [...this.open.keys()]) this.close(n);
    const step = this.intervalMs;
    const last = Math.min(Math.max(-1, ...this.closed.keys()), Math.max(0, Math.floor(endMs / step)));
    const count = last + 1;
    const t = Array.from({ length: count }, (_, n) => n * step);
    const lastIntervalMs = count > 0 ? round3(Math.max(0, Math.min(step, endMs - last * step))) : step;
    const kept = [...this.closed.entries()].filter(([n]) => n <= last).map(([, c]) => c);
    const seen = OUTCOMES.map((_, code) => kept.some((c) => c.counts[code]! > 0));
    const series: SeriesV1 = { intervalMs: step, t, replies: {}, p50: {}, p99: {}, max: {}, stock: [] };
    if (count > 0) series.lastIntervalMs = lastIntervalMs;
    const intervals: IntervalHistogram[] = [];
    OUTCOMES.forEach((outcome, code) => {
      if (!seen[code]) return;
      series.replies[outcome] = t.map((_, n) => this.closed.get(n)?.counts[code] ?? 0);
      series.p50[outcome] = t.map((_, n) => this.closed.get(n)?.p50[code] ?? null);
      series.p99[outcome] = t.map((_, n) => this.closed.get(n)?.p99[code] ?? null);
      series.max[outcome] = t.map((_, n) => this.closed.get(n)?.max[code] ?? null);
    });
    for (let n = 0; n < count; n++) {
      const c = this.closed.get(n);
      if (!c) continue;
      const startMs = n * step;
      const durationMs = n === last ? lastIntervalMs : step;
      OUTCOMES.forEach((outcome, code) => {
        const encoded = c.encoded[code];
        if (encoded) intervals.push({ outcome, startMs, durationMs, encoded });
      });
    }
    series.stock = this.stockSkus.map((sku, i) => ({ sku, values: t.map((_, n) => this.stock.get(n)?.[i] ?? null) }));
    const { sendsBy } = options;
    if (sendsBy !== undefined && count > 0) {
      series.scheduled = t.map((start, n) => round3(sendsBy(n === last ? start + lastIntervalMs : start + step) - sendsBy(start)));
    }
    if (options.dropped && count > 0) {
      // Drops after the last reply (a worker's tail) belong to the last interval: the sum stays the run's `dropped`.
      const dropped = t.map((_, n) => this.dropped.get(n) ?? 0);
      for (const [n, d] of this.dropped) if (n > last) dropped[last]! += d;
      series.dropped = dropped;
    }
    return { series, intervals };
  }

  /** Drops what is still open (build() merges it): nothing here holds WebAssembly memory between calls. */
  destroy(): void {
    this.open.clear();
  }

  private close(n: number): void {
    const entry = this.open.get(n);
    if (entry === undefined) return;
    this.open.delete(n);
    // A late report for an interval already closed (a worker that lagged) opens it again; merge
    // both by keeping the earlier counts and histograms too.
    const earlier = this.closed.get(n);
    const c: ClosedInterval = { counts: entry.counts, p50: [], p99: [], max: [], encoded: [] };
    for (let code = 0; code < OUTCOMES.length; code++) {
      const parts = entry.parts[code]!;
      const before = earlier?.encoded[code];
      if (before) parts.push(before);
      if (parts.length === 0) {
        c.p50.push(null); c.p99.push(null); c.max.push(null); c.encoded.push(null);
        continue;
      }
      const h = mergeEncoded(parts);
      const max = h.maxValue;
      // Bucket-equivalent values can exceed the recorded max by < 0.1%: clamp, as percentiles() does.
      c.p50.push(Math.min(h.getValueAtPercentile(50), max));
      c.p99.push(Math.min(h.getValueAtPercentile(99), max));
      c.max.push(max);
      c.encoded.push(encodeHistogram(h));
      h.destroy();
    }
    if (earlier) {
      for (let code = 0; code < OUTCOMES.length; code++) c.counts[code]! += earlier.counts[code]!;
    }
    this.closed.set(n, c);
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
