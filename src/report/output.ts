/**
 * Report outputs: each file (or family of files) a run writes is one ReportOutput, a pure
 * function from the run's values to named strings. The CLI picks outputs from the registry by
 * name and writes what they return; nothing here touches the file system.
 */
import type { Outcome } from '../outcomes.js';
import type { IntervalHistogram } from '../metrics/series.js';
import type { SkuTable } from '../summary/skus.js';
import type { SummaryV1 } from '../summary/summary.js';

export interface ReportInput {
  readonly summary: SummaryV1;
  /** Whole-run latency histogram per outcome that occurred (HdrHistogram compressed base64, microseconds). */
  readonly histograms: Partial<Record<Outcome, string>>;
  /** Per-interval histograms; empty when the run did not record them. */
  readonly intervals: readonly IntervalHistogram[];
  /** Every SKU (from the run; absent when re-rendering from summary.json, which lists only a few). */
  readonly skus?: SkuTable;
}

export interface ReportFile {
  /** File name inside the report directory. */
  readonly name: string;
  readonly content: string;
}

export interface ReportOutput {
  readonly name: string;
  readonly description: string;
  render(input: ReportInput): ReportFile[];
}
