/**
 * latency.hlog: an HdrHistogram interval log (format 1.3, as HistogramLogWriter writes it), one
 * histogram per outcome per interval, tagged with the outcome, so HdrHistogram's
 * HistogramLogProcessor and HdrHistogramVisualizer can slice the run by time. Values are
 * microseconds; the Interval_Max column is milliseconds (the writer's default ratio of 1000).
 * readHlog() reverses it: `sellout report` rebuilds the whole-run histograms by adding intervals.
 */
import hdr from 'hdr-histogram-js';
import { decodeHistogramForReport, encodeHistogram, type Histogram } from '../metrics/histogram.js';
import { OUTCOMES, type Outcome } from '../outcomes.js';
import type { IntervalHistogram } from '../metrics/series.js';
import type { ReportInput, ReportOutput } from './output.js';

/** The intervals to log: the run's own, or one interval covering the whole run when it recorded none. */
export function intervalsToLog({ summary, histograms, intervals }: ReportInput): IntervalHistogram[] {
  if (intervals.length > 0) {
    const order = (o: Outcome) => OUTCOMES.indexOf(o);
    return [...intervals].sort((a, b) => a.startMs - b.startMs || order(a.outcome) - order(b.outcome));
  }
  return OUTCOMES.flatMap((outcome) => {
    const encoded = histograms[outcome];
    return encoded ? [{ outcome, startMs: 0, durationMs: summary.durationMs, encoded }] : [];
  });
}

export function renderHlog(input: ReportInput): string {
  let text = '';
  const writer = new hdr.HistogramLogWriter((line) => { text += line; });
  const startMs = Date.parse(input.summary.run.startedAt);
  writer.outputLogFormatVersion();
  writer.outputComment(`[StartTime: ${(startMs / 1000).toFixed(3)} (seconds since epoch), ${new Date(startMs).toISOString()}]`);
  writer.outputComment(`[BaseTime: ${(startMs / 1000).toFixed(3)} (seconds since epoch)]`);
  writer.outputComment(`[sellout ${input.summary.scenario.name} run ${input.summary.run.id}: tags are outcomes; values in microseconds, Interval_Max in milliseconds]`);
  writer.outputLegend();
  for (const interval of intervalsToLog(input)) {
    const histogram = decodeHistogramForReport(interval.encoded);
    histogram.tag = interval.outcome;
    writer.outputIntervalHistogram(histogram, interval.startMs / 1000, (interval.startMs + interval.durationMs) / 1000, 1000);
  }
  return text;
}

export const hlogOutput: ReportOutput = {
  name: 'hlog',
  description: 'latency.hlog: HdrHistogram interval log, one histogram per outcome per interval',
  render: (input) => [{ name: 'latency.hlog', content: renderHlog(input) }],
};

/** Reads a latency.hlog back: its intervals (times relative to the run's start) and whole-run histograms. */
export function readHlog(text: string): { intervals: IntervalHistogram[]; histograms: Partial<Record<Outcome, string>> } {
  const baseSec = Number(/#\[BaseTime: ([\d.]+)/.exec(text)?.[1] ?? /#\[StartTime: ([\d.]+)/.exec(text)?.[1] ?? 0);
  const reader = new hdr.HistogramLogReader(text, 64, false);
  const intervals: IntervalHistogram[] = [];
  const merged = new Map<Outcome, Histogram>();
  for (let h = reader.nextIntervalHistogram(); h !== null; h = reader.nextIntervalHistogram()) {
    const outcome = h.tag as Outcome;
    if (!(OUTCOMES as readonly string[]).includes(outcome)) continue;
    const startMs = Math.round(h.startTimeStampMsec - baseSec * 1000);
    intervals.push({ outcome, startMs, durationMs: Math.round(h.endTimeStampMsec - h.startTimeStampMsec), encoded: encodeHistogram(h) });
    const sum = merged.get(outcome);
    if (sum) sum.add(h);
    else merged.set(outcome, h);
  }
  const histograms: Partial<Record<Outcome, string>> = {};
  for (const outcome of OUTCOMES) {
    const h = merged.get(outcome);
    if (h) histograms[outcome] = encodeHistogram(h);
  }
  return { intervals, histograms };
}
