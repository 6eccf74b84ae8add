/**
 * The ONE place for latency histogram settings (DESIGN.md §7): values in microseconds, 1 us to
 * 60 s, 3 significant digits, hdr-histogram-js in WebAssembly mode (about 5x faster to record).
 * Every thread that records calls `initHistograms()` first; every histogram is destroyed after use
 * (WebAssembly memory is not garbage collected).
 */
import hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import type { LatencyPercentiles } from '../summary/summary.js';

export type { Histogram };

export const LOWEST_US = 1;
export const HIGHEST_US = 60_000_000;
export const SIGNIFICANT_DIGITS = 3;

let wasmReady = false;

export async function initHistograms(): Promise<void> {
  if (!wasmReady) {
    await hdr.initWebAssembly();
    wasmReady = true;
  }
}

export function newHistogram(): Histogram {
  if (!wasmReady) throw new Error('initHistograms() must be awaited in this thread before creating histograms');
  return hdr.build({
    // 32-bit counts: a bucket never holds more than the 100,000,000 requests a run may make, and
    // half the memory per histogram (about 200 KB at 1 us..60 s, 3 digits) matters: WebAssembly
    // memory only grows.
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: LOWEST_US,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: SIGNIFICANT_DIGITS,
    useWebAssembly: true,
  });
}

/** Records a latency in microseconds, clamped into the trackable range rather than throwing. */
export function recordUs(histogram: Histogram, us: number): void {
  histogram.recordValue(us < LOWEST_US ? LOWEST_US : us > HIGHEST_US ? HIGHEST_US : Math.round(us));
}

export function encodeHistogram(histogram: Histogram): string {
  return hdr.encodeIntoCompressedBase64(histogram);
}

/**
 * The V2 encoding without its deflate and base64 layers, for an interval a load thread hands to
 * the coordinator: about 4 us where the compressed form costs over 100 us (deflate runs in
 * JavaScript), and the load thread pays for it between one reply and the next.
 */
export function encodeHistogramBytes(histogram: Histogram): Uint8Array {
  // Every recording histogram is a WasmHistogram (newHistogram); the Histogram interface omits encode().
  return (histogram as unknown as hdr.WasmHistogram).encode();
}

/** Decodes either form: compressed base64 (encodeHistogram) or V2 bytes (encodeHistogramBytes). */
export function decodeHistogram(encoded: string | Uint8Array): Histogram {
  if (!wasmReady) throw new Error('initHistograms() must be awaited in this thread before decoding histograms');
  return typeof encoded === 'string' ? hdr.decodeFromCompressedBase64(encoded, 32, true) : hdr.WasmHistogram.decode(encoded, 32);
}

/**
 * Percentiles report the highest value equivalent to the bucket (HdrHistogram's convention), which
 * can exceed the recorded maximum by up to 0.1%: clamp so that p99.9 <= max always reads true.
 */
export function percentiles(histogram: Histogram): LatencyPercentiles {
  const max = histogram.maxValue;
  const at = (p: number) => Math.min(histogram.getValueAtPercentile(p), max);
  return {
    count: histogram.totalCount,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max,
    mean: Math.round(histogram.mean * 10) / 10,
  };
}

/**
 * Decodes with hdr-histogram-js's JavaScript implementation, for reports: no WebAssembly to
 * initialise or destroy, and in 3.0.1 the WebAssembly `outputPercentileDistribution` prints
 * non-monotonic values while the JavaScript one is right. Not for recording (slower).
 */
export function decodeHistogramForReport(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 64, false);
}
