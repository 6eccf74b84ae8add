/**
 * Collects what one executor observes: per-outcome latency histograms, outcome counts and the
 * per-request records. One recorder per thread; results are merged afterwards.
 */
import { emptyCounts, OUTCOMES, type OutcomeCode, type OutcomeCounts } from '../outcomes.js';
import { newHistogram, recordUs, type Histogram } from '../metrics/histogram.js';
import { newRecords, reserveRow, type RequestRecords } from './records.js';

export class Recorder {
  readonly histograms: Histogram[] = OUTCOMES.map(() => newHistogram());
  readonly counts: OutcomeCounts = emptyCounts();
  readonly records: RequestRecords;
  firstSendUs = Infinity;
  lastReplyUs = 0;

  constructor(expected = 1024) {
    this.records = newRecords(Math.max(16, expected));
  }

  record(index: number, twin: boolean, sku: number, quantity: number, code: OutcomeCode, value: number, sentUs: number, repliedUs: number): void {
    const r = this.records;
    const row = reserveRow(r);
    r.index[row] = index;
    r.sku[row] = sku;
    r.quantity[row] = quantity;
    r.outcome[row] = code;
    r.twin[row] = twin ? 1 : 0;
    r.value[row] = value;
    r.sentUs[row] = sentUs;
    r.repliedUs[row] = repliedUs;
    this.counts[OUTCOMES[code]]++;
    recordUs(this.histograms[code]!, repliedUs - sentUs);
    if (sentUs < this.firstSendUs) this.firstSendUs = sentUs;
    if (repliedUs > this.lastReplyUs) this.lastReplyUs = repliedUs;
  }

  destroy(): void {
    for (const h of this.histograms) h.destroy();
  }
}
