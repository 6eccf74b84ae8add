/**
 * Per-shard figures, pure: from the run's per-request records, which shard owns each SKU, and
 * each shard's server readings before and after the load, summary.json's `shards` (requests,
 * outcomes, throughput, ok latency, server CPU and EVALSHA cost per shard), `hottestShardShare`,
 * the replies per interval of each shard (the report's chart) and the hot-shard warnings.
 *
 * A SKU's keys live in one slot, so on one shard: a hot SKU (`hot` or `zipf` selection) loads the
 * shard that owns it, whatever the cluster's size. When a shard takes more than
 * HOT_SHARD_FACTOR times its fair share (1 / shards) of the requests, a warning names it and the
 * SKUs that put the load there.
 *
 * Latency is taken as the records allow: from the intended send when `intendedUs` is given, else
 * from the actual send (`sentUs`). In the closed model the two are the same, so a shard's ok
 * percentiles are `latency.ok`'s definition; in open models without `intendedUs` they are
 * `latencyRaw.ok`'s (the actual send).
 */
import { Code, OUTCOMES, emptyCounts } from '../outcomes.js';
import type { Topology } from '../redis/topology.js';
import { serverStatsDelta, type ServerStats } from '../redis/server-stats.js';
import type { ShardFigures } from '../summary/summary.js';
import { initHistograms, newHistogram, percentiles, recordUs, type Histogram } from './histogram.js';
import type { RequestRecords } from './records.js';

/** A shard taking more than this many times its fair share (1 / shards) of the requests is warned about. */
export const HOT_SHARD_FACTOR = 1.5;
/** SKUs a hot-shard warning names (the busiest on that shard). */
export const HOT_SKUS_NAMED = 3;

export interface ShardFiguresInput {
  readonly records: RequestRecords;
  /** The shard of each SKU, an index into `topology.shards` (redis/topology.ts skuShards()). */
  readonly skuShard: Uint16Array;
  readonly topology: Pick<Topology, 'shards'>;
  /** The load's duration (summary.durationMs): throughput is requests over it. */
  readonly durationMs: number;
  /** Intervals of the run's series (summary.series.t.length); replies after the last fall into it. */
  readonly intervals: number;
  /** The series' interval (summary.series.intervalMs). */
  readonly intervalMs: number;
  /** Each shard's server reading before and after the load (readServerStats), aligned with `topology.shards`. */
  readonly serverBefore?: readonly (ServerStats | undefined)[];
  readonly serverAfter?: readonly (ServerStats | undefined)[];
  /** Intended send time of each record, microseconds since t0 (open models); `sentUs` when absent. */
  readonly intendedUs?: Float64Array;
}

export interface ShardFiguresResult {
  /** summary.json `shards`. */
  readonly shards: ShardFigures[];
  /** summary.json `hottestShardShare`: the busiest shard's share of the requests (0 with no request). */
  readonly hottestShardShare: number;
  /** Replies per interval of each shard, aligned with `shards` (summary.json `series.shardReplies`). */
  readonly replies: number[][];
  /** One line per hot shard (summary.json `shardWarnings`). */
  readonly warnings: string[];
}

export async function shardFigures(input: ShardFiguresInput): Promise<ShardFiguresResult> {
  await initHistograms();
  const { records, skuShard, topology } = input;
  const shardCount = topology.shards.length;
  const intervals = Math.max(1, input.intervals);
  const intervalUs = input.intervalMs * 1000;
  const outcomeCount = OUTCOMES.length;
  // Counts per shard x outcome, per SKU, and per shard x interval, in one pass over the records.
  const counts = new Float64Array(shardCount * outcomeCount);
  const perSku = new Float64Array(skuShard.length);
  const replies = Array.from({ length: shardCount }, () => new Float64Array(intervals));
  const okLatency: (Histogram | undefined)[] = new Array(shardCount).fill(undefined);
  const from = input.intendedUs ?? records.sentUs;
  try {
    for (let row = 0; row < records.count; row++) {
      const code = records.outcome[row]!;
      if (code >= outcomeCount) continue; // NOT_SENT: reserved, never sent
      const sku = records.sku[row]!;
      const shard = sku < skuShard.length ? skuShard[sku]! : 0;
      counts[shard * outcomeCount + code]!++;
      if (sku < perSku.length) perSku[sku]!++;
      const repliedUs = records.repliedUs[row]!;
      const n = Math.min(intervals - 1, Math.max(0, Math.floor(repliedUs / intervalUs)));
      replies[shard]![n]!++;
      if (code === Code.ok) {
        const latencyUs = repliedUs - from[row]!;
        // A row without times (hand-built records) has no latency to give, and NaN would trap in WebAssembly.
        if (Number.isFinite(latencyUs)) recordUs((okLatency[shard] ??= newHistogram()), latencyUs);
      }
    }
    const shards: ShardFigures[] = topology.shards.map((s, i) => {
      const outcomes = emptyCounts();
      let requests = 0;
      OUTCOMES.forEach((o, code) => {
        outcomes[o] = counts[i * outcomeCount + code]!;
        requests += outcomes[o];
      });
      const h = okLatency[i];
      const p = h !== undefined && h.totalCount > 0 ? percentiles(h) : undefined;
      const server = serverStatsDelta(input.serverBefore?.[i], input.serverAfter?.[i]);
      return {
        node: s.node,
        slots: s.slots.reduce((n, [a, b]) => n + b - a + 1, 0),
        skus: 0,
        requests,
        outcomes,
        throughput: input.durationMs > 0 ? round((requests / input.durationMs) * 1000, 1) : 0,
        latency: { ok: p ? { p50: p.p50, p99: p.p99, p999: p.p999 } : null },
        // Over the load's own duration when the readings bracket more (the start delay, the final
        // stock sample, the workers' shutdown: idle time that would understate a short run's share).
        serverCpu: server ? round(server.cpuSeconds / Math.min(server.wallSeconds, input.durationMs > 0 ? input.durationMs / 1000 : Infinity), 3) : null,
        usecPerCall: server && server.evalshaCalls > 0 ? round(server.evalshaUsec / server.evalshaCalls, 2) : null,
      };
    });
    for (let sku = 0; sku < skuShard.length; sku++) {
      const shard = shards[skuShard[sku]!];
      if (shard) shard.skus++;
    }
    const total = shards.reduce((n, s) => n + s.requests, 0);
    const hottest = shards.reduce((m, s) => Math.max(m, s.requests), 0);
    return {
      shards,
      hottestShardShare: total > 0 ? round(hottest / total, 4) : 0,
      replies: replies.map((r) => Array.from(r)),
      warnings: hotShardWarnings(shards, skuShard, perSku, total),
    };
  } finally {
    for (const h of okLatency) h?.destroy();
  }
}

/**
 * One sentence per shard above HOT_SHARD_FACTOR x its fair share: its share, the SKUs that took
 * most of its requests (each with its share of all requests), and the likely cause: one SKU above
 * a whole shard's fair share is a hot SKU, which more shards cannot spread; otherwise the shard
 * owns more than its share of the busy SKUs (few SKUs over many slots).
 */
export function hotShardWarnings(shards: readonly Pick<ShardFigures, 'node' | 'requests' | 'skus'>[], skuShard: Uint16Array, perSku: ArrayLike<number>, total: number): string[] {
  const n = shards.length;
  if (n < 2 || total <= 0) return [];
  const fair = 1 / n;
  const warnings: string[] = [];
  shards.forEach((shard, i) => {
    const share = shard.requests / total;
    if (share <= HOT_SHARD_FACTOR * fair) return;
    const top = topSkus(skuShard, perSku, i, HOT_SKUS_NAMED);
    const named = top.map((sku) => `SKU ${sku} (${percent(perSku[sku]! / total)})`).join(', ');
    const hotSku = top.length > 0 && perSku[top[0]!]! / total > fair;
    const cause = hotSku
      ? 'a SKU lives on one shard, so a hot SKU loads that shard alone: more shards will not spread it'
      : `its ${shard.skus.toLocaleString('en-US')} of the ${skuShard.length.toLocaleString('en-US')} SKUs drew more than their share: the busy SKUs' slots happen to fall on this shard`;
    warnings.push(
      `shard ${shard.node} took ${percent(share)} of the requests, ${+(share / fair).toFixed(1)}x its fair share of ${percent(fair)}; ` +
        `its busiest SKUs: ${named || 'none'} of all requests; ${cause}`,
    );
  });
  return warnings;
}

/** The `k` SKUs of `shard` with the most requests, most first (the lower SKU first on a tie). */
function topSkus(skuShard: Uint16Array, perSku: ArrayLike<number>, shard: number, k: number): number[] {
  const top: number[] = [];
  for (let sku = 0; sku < skuShard.length; sku++) {
    if (skuShard[sku] !== shard || perSku[sku]! === 0) continue;
    if (top.length === k && perSku[sku]! <= perSku[top[k - 1]!]!) continue;
    let at = Math.min(top.length, k - 1);
    if (top.length < k) top.push(sku);
    else top[at] = sku;
    // Insertion into the short sorted list.
    while (at > 0 && perSku[top[at - 1]!]! < perSku[sku]!) {
      top[at] = top[at - 1]!;
      at--;
    }
    top[at] = sku;
  }
  return top;
}

/** A share as a percentage people read: 58%, 4.2%, 0.31%. */
export function percent(share: number): string {
  const pct = share * 100;
  if (pct >= 10 || pct === 0) return `${Math.round(pct)}%`;
  return `${+pct.toPrecision(2)}%`;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
