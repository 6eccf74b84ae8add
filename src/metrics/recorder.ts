/**
 * Collects what one executor observes: per-outcome latency histograms (for the whole run and per
 * interval of the series: the run's, from its task), outcome counts and the per-request records. One recorder per thread;
 * results are merged afterwards with add(), never by averaging percentiles.
 *
 * Each reply is recorded into the run totals and into the current interval's histogram of its
 * outcome (two more for open models, which also keep the latency from the actual send: about 17 ns
 * each). When an interval ends its histograms are encoded for the coordinator as V2 bytes and reset
 * for the next one. That happens between one reply and the next, so it must be cheap: adding into
 * the totals, compressing and allocating a new histogram there cost about 0.5 ms (more before the
 * JIT warmed), a stall each interval that made the 1x1 p99.9 (a 100 ms series: ten a second).
 * Every histogram is allocated up front, before the load, for the same reason.
 */
import { OUTCOMES, type OutcomeCode } from '../outcomes.js';
import { encodeHistogramBytes, newHistogram, recordUs, type Histogram } from './histogram.js';
import { DEFAULT_INTERVAL_MS, type IntervalReport } from './interval.js';
import { newRecords, reserveRow, type RequestRecords } from './records.js';

export class Recorder {
  /** Whole-run latency from the intended send (== the actual send in the closed model). */
  readonly totals: Histogram[] = OUTCOMES.map(() => newHistogram());
  /** Open models: whole-run latency from the actual send. */
  readonly raw: Histogram[] | undefined;
  readonly countsByCode = new Float64Array(OUTCOMES.length);
  readonly records: RequestRecords;
  firstSendUs = Infinity;
  lastReplyUs = 0;

  private readonly interval: Histogram[] = OUTCOMES.map(() => newHistogram());
  private intervalCounts = new Float64Array(OUTCOMES.length);
  private intervalN = 0;
  private intervalEndUs: number;
  private readonly intervalUs: number;

  constructor(
    expected: number,
    keepRaw: boolean,
    private readonly onInterval: (report: IntervalReport) => void = () => {},
    /** Replies per outcome code so far, readable by another thread (progress); optional. */
    private readonly live: Float64Array = new Float64Array(OUTCOMES.length),
    /** The series' interval (milliseconds): the run's, chosen before the load (src/load/resolution.ts). */
    intervalMs: number = DEFAULT_INTERVAL_MS,
  ) {
    this.intervalUs = intervalMs * 1000;
    this.intervalEndUs = this.intervalUs;
    this.records = newRecords(Math.max(16, Math.min(expected, 1 << 24)));
    this.raw = keepRaw ? OUTCOMES.map(() => newHistogram()) : undefined;
  }

  record(index: number, twin: number, sku: number, quantity: number, code: OutcomeCode, value: number, intendedUs: number, sentUs: number, repliedUs: number): void {
    if (repliedUs >= this.intervalEndUs) this.rotate(repliedUs);
    const r = this.records;
    const row = reserveRow(r);
    r.index[row] = index;
    r.sku[row] = sku;
    r.quantity[row] = quantity;
    r.outcome[row] = code;
    r.twin[row] = twin;
    r.value[row] = value;
    r.sentUs[row] = sentUs;
    r.repliedUs[row] = repliedUs;
    this.intervalCounts[code]!++;
    this.live[code]!++;
    recordUs(this.interval[code]!, repliedUs - intendedUs);
    recordUs(this.totals[code]!, repliedUs - intendedUs);
    if (this.raw !== undefined) recordUs(this.raw[code]!, repliedUs - sentUs);
    if (sentUs < this.firstSendUs) this.firstSendUs = sentUs;
    if (repliedUs > this.lastReplyUs) this.lastReplyUs = repliedUs;
  }

  /** Ends every interval that finished before `nowUs` (called by replies and by a timer). */
  rotate(nowUs: number): void {
    while (nowUs >= this.intervalEndUs) {
      this.onInterval(this.closeInterval());
      this.intervalN++;
      this.intervalEndUs += this.intervalUs;
    }
  }

  /** Closes the current (partial) interval and returns it: the run is over. */
  finish(): IntervalReport {
    return this.closeInterval();
  }

  private closeInterval(): IntervalReport {
    const encoded: (Uint8Array | null)[] = [];
    const counts: number[] = [];
    for (let code = 0; code < OUTCOMES.length; code++) {
      const count = this.intervalCounts[code]!;
      counts.push(count);
      this.countsByCode[code]! += count;
      this.intervalCounts[code] = 0;
      if (count === 0) {
        encoded.push(null);
        continue;
      }
      const h = this.interval[code]!;
      encoded.push(encodeHistogramBytes(h));
      h.reset();
    }
    return { n: this.intervalN, counts, encoded };
  }

  destroy(): void {
    for (const h of this.totals) h.destroy();
    for (const h of this.raw ?? []) h.destroy();
    for (const h of this.interval) h.destroy();
  }
}
