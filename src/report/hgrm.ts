/**
 * latency-<outcome>.hgrm: HdrHistogram's percentile distribution text (what
 * `outputPercentileDistribution` prints and HdrHistogram's plotter reads), values in
 * milliseconds. The histograms record microseconds, so values are scaled by 1000; a trailing
 * comment line says so, after the footer where HdrHistogram's own tools expect `#[...]` lines.
 */
import { decodeHistogramForReport } from '../metrics/histogram.js';
import { OUTCOMES } from '../outcomes.js';
import type { ReportFile, ReportOutput } from './output.js';

/** HdrHistogram's default: 5 reporting ticks per half distance to 100%. */
export const TICKS_PER_HALF_DISTANCE = 5;
export const US_PER_MS = 1000;
export const SCALING_NOTE = '#[Values in milliseconds: recorded in microseconds, output scaled by 1000 (outputValueUnitScalingRatio = 1000)]';

export function renderHgrm(encoded: string): string {
  const histogram = decodeHistogramForReport(encoded);
  return `${histogram.outputPercentileDistribution(TICKS_PER_HALF_DISTANCE, US_PER_MS).trimEnd()}\n${SCALING_NOTE}\n`;
}

export const hgrmOutput: ReportOutput = {
  name: 'hgrm',
  description: 'latency-<outcome>.hgrm: HdrHistogram percentile distribution per outcome, milliseconds',
  render: ({ histograms }) => {
    const files: ReportFile[] = [];
    for (const outcome of OUTCOMES) {
      const encoded = histograms[outcome];
      if (encoded) files.push({ name: `latency-${outcome}.hgrm`, content: renderHgrm(encoded) });
    }
    return files;
  },
};
