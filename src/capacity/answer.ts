/**
 * The answer of a capacity search, pure: how many shards the expected peak needs, what the
 * journal will cost, whether the peak is reachable at all, and the sentences that say so.
 *
 * Shards needed = ceil(target / (maxRate x headroom)): a shard is planned at `headroom` of the
 * most it held under the SLO. Reachable when
 *  - the hottest SKU's share of the peak fits one shard (singleSkuMaxRate x headroom): a SKU's
 *    keys live in one slot, so no shard count spreads one SKU; the remedy is to split its stock
 *    into buckets (several SKU keys, each with part of the stock);
 *  - and the shards needed are at most the SKUs (a shard with no SKU takes no load) and at most
 *    MAX_SENSIBLE_SHARDS (Redis Cluster's documented scale is about 1,000 nodes).
 */
import { int } from '../numbers.js';

export const MAX_SENSIBLE_SHARDS = 1000;

export interface PeakInput {
  /** The expected peak, deductions/s (`--target-rate`). */
  readonly targetRate: number;
  /** The most one shard sustained under the SLO (null: nothing passed). */
  readonly maxRate: number | null;
  /** The most one SKU sustained under the SLO (null: not measured or nothing passed). */
  readonly singleSkuMaxRate: number | null;
  readonly headroom: number;
  /** The hottest SKU's share of the requests (load/plan.ts hottestSkuShare). */
  readonly hottestShare: number;
  readonly skuCount: number;
}

export interface PeakAnswer {
  readonly shardsNeeded: number | null;
  readonly reachable: boolean;
  /** The peak's rate on the hottest SKU, deductions/s. */
  readonly hottestSkuRate: number;
  readonly sentences: readonly string[];
}

export function peakAnswer(p: PeakInput): PeakAnswer {
  const hottestSkuRate = p.targetRate * p.hottestShare;
  if (p.maxRate === null || p.maxRate <= 0) {
    return { shardsNeeded: null, reachable: false, hottestSkuRate, sentences: [`The peak of ${int(p.targetRate)}/s cannot be planned: no rate held the SLO.`] };
  }
  const perShard = p.maxRate * p.headroom;
  const shardsNeeded = Math.max(1, Math.ceil(p.targetRate / perShard));
  const sentences = [
    `The peak of ${int(p.targetRate)}/s needs ${int(shardsNeeded)} shard${shardsNeeded === 1 ? '' : 's'} at ${Math.round(p.headroom * 100)}% of the ${int(p.maxRate)}/s one shard held (${int(perShard)}/s each).`,
  ];
  let reachable = true;
  const skuLimit = p.singleSkuMaxRate === null ? null : p.singleSkuMaxRate * p.headroom;
  if (skuLimit !== null && hottestSkuRate > skuLimit) {
    reachable = false;
    const buckets = Math.ceil(hottestSkuRate / skuLimit);
    sentences.push(
      `Not reachable by adding shards: the hottest SKU takes ${(p.hottestShare * 100).toFixed(1)}% of the peak (${int(hottestSkuRate)}/s), more than the ${int(skuLimit)}/s one SKU can take at ${Math.round(p.headroom * 100)}% of its ${int(p.singleSkuMaxRate!)}/s, and one SKU's keys live on one shard: split its stock into at least ${int(buckets)} buckets (SKU keys each holding part of the stock).`,
    );
  }
  if (shardsNeeded > p.skuCount) {
    reachable = false;
    sentences.push(`Not reachable with ${int(p.skuCount)} SKU${p.skuCount === 1 ? '' : 's'}: a shard takes load only through the SKUs it owns, and ${int(shardsNeeded)} shards need at least as many SKUs (split hot SKUs into buckets).`);
  } else if (shardsNeeded > MAX_SENSIBLE_SHARDS) {
    reachable = false;
    sentences.push(`Not reachable: ${int(shardsNeeded)} shards is beyond the ${int(MAX_SENSIBLE_SHARDS)} nodes a Redis Cluster is meant to scale to.`);
  }
  return { shardsNeeded, reachable, hottestSkuRate, sentences };
}

export interface JournalProjectionInput {
  readonly orders: number;
  /** Bytes per journal entry measured (null: not measured). */
  readonly bytesPerEntry: number | null;
  /** The server's maxmemory (0: no limit; null: unknown). */
  readonly maxmemory: number | null;
  /** used_memory before the search (what the server held already). */
  readonly usedMemory: number | null;
}

export function journalProjection(j: JournalProjectionInput): { orders: number; bytes: number | null; warning?: string } {
  if (j.bytesPerEntry === null) return { orders: j.orders, bytes: null };
  const bytes = Math.round(j.orders * j.bytesPerEntry);
  if (j.maxmemory !== null && j.maxmemory > 0 && bytes + (j.usedMemory ?? 0) > j.maxmemory) {
    return { orders: j.orders, bytes, warning: `The journal for ${int(j.orders)} orders (${formatMemory(bytes)}) does not fit this server's maxmemory of ${formatMemory(j.maxmemory)}${j.usedMemory ? ` with the ${formatMemory(j.usedMemory)} it holds already` : ''}: shard it, raise maxmemory, or expire settled journal entries.` };
  }
  return { orders: j.orders, bytes };
}

/** Memory as Redis's own config counts it (maxmemory 1gb is 1024^3 bytes): 1.20 GiB, 340.0 MiB, 12 B. */
export function formatMemory(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${u === 0 ? Math.round(v) : v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}
