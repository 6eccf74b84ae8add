/**
 * The agents' bundles as one load, as if one process had sent it all: the same merge the workers
 * of one process go through (counts summed, histograms added, records concatenated), the series
 * rebuilt from every agent's interval reports, and an agent's own result turned into its bundle.
 */
import { Code, OUTCOMES } from '../outcomes.js';
import { encodeHistogram } from '../metrics/histogram.js';
import type { IntervalReport } from '../metrics/interval.js';
import { SeriesBuilder } from '../metrics/series.js';
import { buildSeries, setStockFromReplies, type LoadResult } from '../load/coordinator.js';
import type { RequestRecords } from '../metrics/records.js';
import { mergeResults } from '../load/merge-results.js';
import type { WorkerResult } from '../load/protocol.js';
import { seriesIntervalMs } from '../load/resolution.js';
import type { Scenario } from '../scenario/load.js';
import type { AgentBundle, BundleHeader } from './bundle.js';

/** What an agent stores of its load (its bundle's header, less who and where it is). */
export function bundleHeaderOf(load: LoadResult): Omit<BundleHeader, 'segment' | 'agents' | 'host' | 'clockOffsetUs' | 'clockUncertaintyUs' | 'statsBefore'> {
  return {
    startedAt: load.startedAt.toISOString(),
    interrupted: load.interrupted,
    workers: load.workers,
    counts: OUTCOMES.map((o) => load.counts[o]),
    latency: load.histograms.map((h) => (h.totalCount > 0 ? encodeHistogram(h) : null)),
    latencyRaw: load.histogramsRaw ? load.histogramsRaw.map((h) => (h.totalCount > 0 ? encodeHistogram(h) : null)) : null,
    firstSendUs: load.firstSendUs,
    lastReplyUs: load.lastReplyUs,
    scheduled: load.scheduled ?? 0,
    dropped: load.dropped ?? 0,
    intervals: intervalReportsOf(load),
    droppedByInterval: load.series.dropped ?? [],
    stock: load.series.stock.map(({ sku, values }) => ({ sku, values })),
    connectionErrors: load.connectionErrors,
    capped: load.capped !== undefined,
    lostAllConnections: load.loadLost !== undefined,
    ...(load.loadLost !== undefined ? { loadLost: load.loadLost } : {}),
    errorReplies: load.errorReplies,
    reconnects: load.reconnects,
    redirects: load.redirects,
    routeProblems: load.routeProblems,
    refusals: load.refusals,
    ...(load.busy !== undefined ? { busy: load.busy } : {}),
    ...(load.crashed !== undefined ? { crashed: load.crashed } : {}),
  };
}

/** Whether any ok reply carried the new stock (HTTP mode without a stock field: none did). */
function carriesStock(records: RequestRecords): boolean {
  for (let row = 0; row < records.count; row++) if (records.outcome[row] === Code.ok && Number.isFinite(records.value[row]!)) return true;
  return false;
}

/** The interval reports the series was built from, back from the built series (counts and encoded histograms per interval). */
function intervalReportsOf(load: LoadResult): IntervalReport[] {
  const { series, intervals } = load;
  const encoded = new Map<string, string>();
  for (const i of intervals) encoded.set(`${i.startMs}:${i.outcome}`, i.encoded);
  return series.t.map((startMs, n) => ({
    n,
    counts: OUTCOMES.map((o) => series.replies[o]?.[n] ?? 0),
    encoded: OUTCOMES.map((o) => encoded.get(`${startMs}:${o}`) ?? null),
  }));
}

/**
 * The bundles of the agents that reported, merged. `skuShard` is the SKU -> shard map of the
 * target (collect computes it as the agents did). The caller destroys the histograms.
 */
export function mergeBundles(bundles: readonly AgentBundle[], scenario: Scenario, skuShard: Uint16Array): LoadResult {
  const results: WorkerResult[] = bundles.map(({ header: h, records }) => ({
    counts: h.counts,
    latency: h.latency,
    latencyRaw: h.latencyRaw,
    lastInterval: { n: 0, counts: [], encoded: [] },
    records,
    firstSendUs: h.firstSendUs,
    lastReplyUs: h.lastReplyUs,
    scheduled: h.scheduled,
    dropped: h.dropped,
    connectionErrors: h.connectionErrors,
    capped: h.capped,
    lostAllConnections: h.lostAllConnections,
    errorReplies: h.errorReplies,
    reconnects: h.reconnects,
    redirects: h.redirects,
    routeProblems: h.routeProblems,
  }));
  const merged = mergeResults(results, scenario);
  // The stock samples of the first agent that reported (every agent samples the same keys).
  const stock = bundles[0]?.header.stock ?? [];
  const series = new SeriesBuilder(Math.max(1, bundles.length), stock.map((s) => s.sku), seriesIntervalMs(scenario));
  try {
    for (const { header } of bundles) {
      for (const report of header.intervals) series.add(report);
      header.droppedByInterval.forEach((count, n) => series.addDropped(n, count));
    }
    // Replies that carry the stock: the stock lines from every agent's (metrics/stock-line.ts: each
    // interval's lowest); otherwise each agent sampled the same keys, and the first one's serve.
    if (carriesStock(merged.records)) setStockFromReplies(series, merged.records, scenario.skus.stock, merged.lastReplyUs);
    else {
      const intervals = Math.max(0, ...stock.map((s) => s.values.length));
      for (let n = 0; n < intervals; n++) series.setStock(n, stock.map((s) => s.values[n] ?? null));
    }
    const built = buildSeries(series, merged.lastReplyUs, scenario);
    const refusals = new Map(bundles.flatMap(({ header }) => header.refusals.map((r) => [r.reply, r] as const)));
    const crashed = bundles.map(({ header }) => (header.crashed === undefined ? undefined : `agent ${header.segment}/${header.agents}: ${header.crashed}`)).filter((c) => c !== undefined);
    const busy = bundles.find(({ header }) => header.busy !== undefined)?.header.busy;
    const started = bundles.map(({ header }) => Date.parse(header.startedAt)).filter(Number.isFinite);
    return {
      ...merged,
      skuShard,
      startedAt: new Date(started.length > 0 ? Math.min(...started) : Date.now()),
      interrupted: bundles.some(({ header }) => header.interrupted),
      workers: bundles.reduce((a, { header }) => a + header.workers, 0),
      series: built.series,
      intervals: built.intervals,
      refusals: [...refusals.values()],
      ...(busy !== undefined ? { busy } : {}),
      ...(crashed.length > 0 ? { crashed: crashed.join('; ') } : {}),
    };
  } finally {
    series.destroy();
  }
}
