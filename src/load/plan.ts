/**
 * The request stream, as pure functions of (seed, index): which SKU request i buys, how many,
 * and whether it is sent twice. Random access (no shared RNG state) lets any worker compute any
 * slice and lets the verifier recompute what was asked without storing it.
 */
import type { QuantityWeights, SkuSelection } from '../scenario/schema.js';

export interface PlanSpec {
  readonly seed: number;
  readonly skuCount: number;
  readonly selection: SkuSelection;
  readonly quantity: QuantityWeights;
  /** Share of original requests that are sent a second time under the same request ID. */
  readonly duplicateRatio: number;
}

const STREAM_SKU = 0x9e3779b9;
const STREAM_QTY = 0x85ebca6b;
const STREAM_DUP = 0xc2b2ae35;

/** A uniform number in [0, 1) from (seed, index, stream): a murmur3-style finalizer over the mix. */
export function unitHash(seed: number, index: number, stream: number): number {
  let h = (Math.imul(seed ^ stream, 0x27d4eb2d) ^ Math.imul(index, 0x165667b1)) >>> 0;
  h ^= index >>> 16;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

export class Plan {
  readonly spec: PlanSpec;
  private readonly skuCdf: Float64Array | undefined;
  private readonly quantities: Uint32Array;
  private readonly quantityCdf: Float64Array;

  constructor(spec: PlanSpec) {
    this.spec = spec;
    this.skuCdf = spec.selection.type === 'zipf' ? zipfCdf(spec.skuCount, spec.selection.exponent) : undefined;
    this.quantities = Uint32Array.from(spec.quantity.map((q) => q.quantity));
    this.quantityCdf = cdf(spec.quantity.map((q) => q.weight));
  }

  skuOf(index: number): number {
    const { skuCount, selection } = this.spec;
    if (skuCount === 1) return 0;
    const u = unitHash(this.spec.seed, index, STREAM_SKU);
    switch (selection.type) {
      case 'uniform':
        return Math.floor(u * skuCount);
      case 'zipf':
        return search(this.skuCdf!, u);
      case 'hot': {
        // SKU 0 is the hot one; the rest share what is left uniformly.
        if (u < selection.share) return 0;
        const rest = (u - selection.share) / (1 - selection.share);
        return 1 + Math.min(skuCount - 2, Math.floor(rest * (skuCount - 1)));
      }
    }
  }

  quantityOf(index: number): number {
    if (this.quantities.length === 1) return this.quantities[0]!;
    return this.quantities[search(this.quantityCdf, unitHash(this.spec.seed, index, STREAM_QTY))]!;
  }

  hasTwin(index: number): boolean {
    const ratio = this.spec.duplicateRatio;
    return ratio > 0 && (ratio >= 1 || unitHash(this.spec.seed, index, STREAM_DUP) < ratio);
  }
}

function cdf(weights: readonly number[]): Float64Array {
  const total = weights.reduce((a, b) => a + b, 0);
  const out = new Float64Array(weights.length);
  let running = 0;
  weights.forEach((w, i) => { running += w / total; out[i] = running; });
  out[out.length - 1] = 1;
  return out;
}

/** P(rank k) proportional to 1 / (k+1)^exponent: SKU 0 is the most popular. */
export function zipfCdf(count: number, exponent: number): Float64Array {
  const weights = new Array<number>(count);
  for (let k = 0; k < count; k++) weights[k] = 1 / Math.pow(k + 1, exponent);
  return cdf(weights);
}

/** The first index whose cumulative probability exceeds u. */
function search(cdfValues: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdfValues.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdfValues[mid]! > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The plan of a scenario (the coordinator and every worker build the same one from the seed). */
export function planFor(scenario: {
  readonly seed: number;
  readonly skus: { readonly count: number; readonly selection: SkuSelection };
  readonly quantity: QuantityWeights;
  readonly duplicates: { readonly ratio: number };
}): Plan {
  return new Plan({
    seed: scenario.seed,
    skuCount: scenario.skus.count,
    selection: scenario.skus.selection,
    quantity: scenario.quantity,
    duplicateRatio: scenario.duplicates.ratio,
  });
}

/** The share of the requests the most popular SKU gets under a selection (capacity planning: one SKU lives on one shard). */
export function hottestSkuShare(selection: PlanSpec['selection'], skuCount: number): number {
  if (skuCount <= 1) return 1;
  switch (selection.type) {
    case 'uniform':
      return 1 / skuCount;
    case 'zipf':
      return zipfCdf(skuCount, selection.exponent)[0]!;
    case 'hot':
      return Math.max(selection.share, (1 - selection.share) / (skuCount - 1));
  }
}
