/**
 * While the load runs: about once a second (every interval when it is a second or longer) the
 * stock of up to 1000 SKUs is read for the "stock left" of the progress line, and progress is
 * reported from the workers' shared counters (current, not an interval late). Only where replies
 * carry no stock (HTTP mode without a stock field) is the stock of the busiest SKUs also read at
 * each interval's end (100 ms to 1 min) for the series' stock lines; otherwise the coordinator
 * takes those from the replies after the load (metrics/stock-line.ts). Without a progress line
 * and without stock lines to read, nothing here runs during the load: every wake-up of the main
 * thread competes with the load thread and the server for the cores. A failed sample leaves a
 * gap; the run goes on.
 */
import type { Redis } from 'ioredis';
import { DEFAULT_KEY_TEMPLATES, RunKeys } from '../keys.js';
import type { SeriesBuilder } from '../metrics/series.js';
import { emptyCounts, OUTCOMES, type OutcomeCounts } from '../outcomes.js';
import type { ThreadClock } from './clock.js';
import { intervalsPerTick } from '../metrics/interval.js';

export interface LoadProgress {
  /** Milliseconds since t0, and the planned duration (null when the run is bounded by requests). */
  readonly elapsedMs: number;
  readonly plannedMs: number | null;
  /** Replies so far and requests planned (null for duration runs). */
  readonly replies: number;
  readonly plannedRequests: number | null;
  /** Replies per second since the previous progress report (about a second). */
  readonly repliesPerSecond: number;
  readonly okP99Us: number | null;
  /** Stock left over the sampled SKUs (all of them up to 1000 SKUs), null before the first sample. */
  readonly stockLeft: number | null;
  readonly stockSampledSkus: number;
  readonly counts: OutcomeCounts;
  readonly dropped: number;
}

/** SKUs whose stock is summed for the progress line (reading more each second would load the server). */
const MAX_STOCK_SAMPLE = 1000;

/**
 * Where the stock keys are read: the run's admin connection per shard and each SKU's shard
 * (src/redis/shards.ts's ShardAdmins is one). Read at every sample: a refresh may replace them.
 */
export interface StockShards {
  readonly keys: RunKeys;
  readonly admins: readonly Redis[];
  /** SKU -> shard holding its stock key. */
  readonly owners: Uint16Array;
}

export interface SamplerOptions {
  /** Per shard; without it, one server: `admin`, with the default key names of `runId`. */
  readonly shards?: StockShards | undefined;
  readonly admin: Redis | undefined;
  readonly runId: string;
  readonly skuCount: number;
  readonly series: SeriesBuilder;
  /** Per worker, replies so far per outcome code (Float64Array over shared memory). */
  readonly liveCounts: readonly Float64Array[];
  readonly dropped: () => number;
  readonly plannedMs: number | null;
  readonly plannedRequests: number | null;
  /** The series' interval, milliseconds. */
  readonly intervalMs: number;
  /** Read the series' SKUs' stock at every interval's end (replies do not carry it). */
  readonly stockLine: boolean;
  readonly onProgress?: ((progress: LoadProgress) => void) | undefined;
}

export class StockSampler {
  /** The SKUs whose stock is summed: 0 .. up to MAX_STOCK_SAMPLE - 1. */
  private readonly sampled: number;
  private timer: NodeJS.Timeout | undefined;
  private n = 0;
  private last = { replies: 0, atMs: 0 };
  private stockLeft: number | null = null;

  constructor(private readonly options: SamplerOptions) {
    this.sampled = Math.min(options.skuCount, MAX_STOCK_SAMPLE);
  }

  /** Samples at the end of every interval after t0 (or of every progress interval) until stop(). */
  start(t0: number, clock: ThreadClock): void {
    const { intervalMs, stockLine, onProgress } = this.options;
    // Intervals between two progress reports (and full stock reads): about a second.
    const every = intervalsPerTick(intervalMs);
    if (!stockLine && onProgress === undefined) return;
    // Without stock lines to read, wake only for the progress line.
    if (!stockLine) this.n = Math.ceil((this.n + 1) / every) * every - 1;
    const due = t0 + (this.n + 1) * intervalMs - clock.nowMs();
    this.timer = setTimeout(() => {
      const current = this.n++;
      this.start(t0, clock);
      // The full read (up to 1000 keys) feeds only the progress line: without one (not a terminal,
      // --quiet, a capacity step) it would only load the server under test and this process's
      // main thread once a second, which showed as a latency spike every second at high rates.
      const report = (current + 1) % every === 0 && onProgress !== undefined;
      void this.sample(current, report, stockLine).then(() => { if (report) this.progress(current, t0, clock); });
    }, Math.max(0, due));
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Reads the series' SKUs' stock into interval n of the series (`line`); `full`: the stock of
   * every sampled SKU too, for the progress line.
   */
  async sample(n: number, full = true, line = true): Promise<void> {
    const { series } = this.options;
    const shards = this.shards();
    if (shards === undefined || (!full && !line)) return;
    try {
      // The series' SKUs are 0..9 (the busiest), the first of the sampled ones.
      const values = await readStock(shards, full ? this.sampled : Math.min(this.sampled, Math.max(0, ...series.stockSkus) + 1));
      if (line) series.setStock(n, series.stockSkus.map((sku) => values[sku] ?? null));
      if (full) this.stockLeft = values.reduce<number>((a, v) => a + (v ?? 0), 0);
    } catch {
      // A failed sample leaves a gap in the series; the run goes on.
    }
  }

  private shards(): StockShards | undefined {
    const { shards, admin, runId, skuCount } = this.options;
    if (shards !== undefined) return shards;
    return admin === undefined ? undefined : { keys: new RunKeys(DEFAULT_KEY_TEMPLATES, runId), admins: [admin], owners: new Uint16Array(skuCount) };
  }

  private progress(current: number, t0: number, clock: ThreadClock): void {
    const { onProgress, liveCounts, series } = this.options;
    if (!onProgress) return;
    const counts = emptyCounts();
    let replies = 0;
    OUTCOMES.forEach((o, code) => {
      for (const view of liveCounts) counts[o] += view[code]!;
      replies += counts[o];
    });
    const elapsedMs = clock.nowMs() - t0;
    const repliesPerSecond = ((replies - this.last.replies) * 1000) / Math.max(1, elapsedMs - this.last.atMs);
    this.last = { replies, atMs: elapsedMs };
    onProgress({
      elapsedMs: (current + 1) * this.options.intervalMs,
      plannedMs: this.options.plannedMs,
      replies,
      plannedRequests: this.options.plannedRequests,
      repliesPerSecond,
      okP99Us: series.latest()?.okP99 ?? null,
      stockLeft: this.stockLeft,
      stockSampledSkus: this.sampled,
      counts,
      dropped: this.options.dropped(),
    });
  }
}

/**
 * Stock of SKUs 0..count-1, each read on its shard, the shards at once: one pipeline of GETs per
 * shard (MGET would fail in a cluster, whose multi-key commands must stay in one slot). A value
 * that is not an integer string reads as null.
 */
export async function readStock(shards: StockShards, count: number): Promise<(number | null)[]> {
  const bySku: (number | null)[] = new Array(count).fill(null);
  const skusOf: number[][] = shards.admins.map(() => []);
  for (let sku = 0; sku < count; sku++) skusOf[shards.owners[sku]!]!.push(sku);
  await Promise.all(shards.admins.map(async (admin, shard) => {
    const skus = skusOf[shard]!;
    if (skus.length === 0) return;
    const pipeline = admin.pipeline();
    for (const sku of skus) pipeline.get(shards.keys.stock(sku));
    const replies = await pipeline.exec();
    if (replies === null || replies.length < skus.length) throw new Error('Connection is closed.');
    replies.forEach(([err, v], i) => {
      if (err) throw err;
      bySku[skus[i]!] = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : null;
    });
  }));
  return bySku;
}
