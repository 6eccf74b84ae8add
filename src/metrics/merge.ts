/**
 * Exact merging of histograms from several threads: decode each encoded histogram and add() it
 * into one. add() sums bucket counts, so the merged histogram is the one a single thread would
 * have recorded from all the values; percentiles are never averaged.
 */
import { decodeHistogram, newHistogram, type Histogram } from './histogram.js';

/** Adds every encoded histogram (null = empty) into a new histogram. The caller destroys it. */
export function mergeEncoded(encoded: readonly (string | Uint8Array | null | undefined)[]): Histogram {
  const merged = newHistogram();
  for (const text of encoded) {
    if (!text) continue;
    addEncoded(merged, text);
  }
  return merged;
}

export function addEncoded(into: Histogram, encoded: string | Uint8Array): void {
  const part = decodeHistogram(encoded);
  try {
    into.add(part);
  } finally {
    part.destroy();
  }
}
