/**
 * Drives the load of one run over a pool of worker threads and returns what was observed.
 *
 * Each worker owns `connections / workers` connections and the slice `w, w+W, …` of the plan. The
 * coordinator waits until every worker has connected and warmed up (the barrier, pool.ts), then
 * releases them all at one t0 slightly in the future on the clock every thread shares (clock.ts),
 * so the crowd arrives together. While they run it merges their interval reports into the
 * series (the interval chosen from the run's expected length before it starts, resolution.ts),
 * samples stock once an interval and reports progress (sampler.ts); a stop is a flag in shared
 * memory. At the end it merges the workers' results (merge-results.ts).
 */
import { availableParallelism } from 'node:os';
import type { Redis } from 'ioredis';
import type { Scenario } from '../scenario/load.js';
import type { Topology } from '../redis/topology.js';
import type { RedisEndpoint } from '../redis/url.js';
import { skuShards, skuSlots } from '../redis/topology.js';
import type { RunKeys } from '../keys.js';
import type { RedirectCounts } from './router.js';
import type { Histogram } from '../metrics/histogram.js';
import { OUTCOMES, type OutcomeCounts } from '../outcomes.js';
import { TargetError } from '../errors.js';
import { connectAdmin, rejectedConnections } from '../redis/index.js';
import { killBusyScript } from '../redis/script.js';
import { SeriesBuilder, type IntervalHistogram } from '../metrics/series.js';
import { stockFromReplies } from '../metrics/stock-line.js';
import type { RequestRecords } from '../metrics/records.js';
import type { SeriesV1 } from '../summary/summary.js';
import { scheduleOf } from './executors/index.js';
import { threadClock, wallClockOf, type ThreadClock } from './clock.js';
import type { ErrorReplyCount, RefusalCode } from './error-replies.js';
import { mergeResults } from './merge-results.js';
import { WorkerPool, type PoolTask } from './pool.js';
import { StockSampler, type LoadProgress } from './sampler.js';
import { removeWarmUp, seedWarmUp, warmUpKeys } from './warm-up.js';
import { seriesIntervalMs } from './resolution.js';
import { laneOf } from './lanes.js';
import type { HttpTarget } from '../scenario/http.js';

export type { LoadProgress } from './sampler.js';
export { workerFile } from './pool.js';

export interface LoadRequest {
  readonly scenario: Scenario;
  /** Who owns which slots when the load starts (a standalone server: one shard). */
  readonly topology: Topology;
  /** The run's key names. */
  readonly keys: RunKeys;
  readonly runId: string;
  readonly scriptSha: string;
  readonly signal?: AbortSignal;
  /** Called about once a second while the load runs. */
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Awaited once every worker is connected and warmed up, just before t0 (server readings that must not count the warm-up). */
  readonly beforeStart?: () => Promise<void>;
  /** Called at t0 (ms on the clock every thread shares), e.g. to schedule faults; `control` acts on the running load. */
  readonly onStart?: (t0: number, clock: ThreadClock, control: LoadControl) => void;
  /** CLIENT SETNAME of the load connections (a client-kill fault finds them by it). */
  readonly clientName?: string;
  /** How long a connection the server closed keeps reconnecting (default: timeoutMs, at most 2 s). */
  readonly reconnectWindowMs?: number;
  /** HTTP mode: the load connections go to this sale service instead of Redis (Redis is still read for the stock series). */
  readonly http?: HttpTarget;
  /**
   * A distributed run's agent: this process runs plan segment `index` of `count` (the requests
   * `index, index+count, …`, and its share of the rate and of `requests`), so that the segments
   * together are the plan one process would send.
   */
  readonly segment?: { readonly index: number; readonly count: number };
  /**
   * When the load starts, on the clock every thread shares (ms): awaited once every worker is
   * ready. Default: 30 ms from then. A distributed run's agents take one t0 from Redis TIME.
   */
  readonly startAt?: (clock: ThreadClock) => Promise<number>;
}

/** What can be done to a running load from outside it. */
export interface LoadControl {
  /** A failover moved a shard's primary: every load connection to it reopens there. */
  retarget(shard: number, endpoint: RedisEndpoint, reason: string): void;
}

export interface LoadResult {
  readonly records: RequestRecords;
  /** One histogram per outcome code (outcomes.ts order), latency from the intended send. The caller destroys them. */
  readonly histograms: Histogram[];
  /** Open models: latency from the actual send, per outcome code. The caller destroys them. */
  readonly histogramsRaw?: Histogram[];
  readonly counts: OutcomeCounts;
  /** From the first send to the last reply. */
  readonly durationMs: number;
  /** Microseconds since t0 of the first send and of the last reply (a distributed run's collect merges agents on them). */
  readonly firstSendUs: number;
  readonly lastReplyUs: number;
  readonly startedAt: Date;
  readonly interrupted: boolean;
  readonly workers: number;
  /** Open models: sends scheduled, dropped at max in flight, and the target / achieved rates. */
  readonly scheduled?: number;
  readonly dropped?: number;
  readonly targetRate?: number;
  readonly achievedRate?: number;
  readonly series: SeriesV1;
  readonly intervals: IntervalHistogram[];
  /** Why load connections closed early (their requests in flight were recorded as unknown). */
  readonly connectionErrors: string[];
  /** Set when every load connection died before the planned end: the load ended early. */
  readonly loadLost?: string;
  /** Rows of `records` per worker, in order (worker 0's rows first). */
  readonly rowsByWorker: number[];
  /** Distinct error replies to deductions, with counts, most frequent first. */
  readonly errorReplies: ErrorReplyCount[];
  /** Load connections reopened after a timeout or a close by the server. */
  readonly reconnects: number;
  /** The shard owning each SKU when the load started (per-shard figures). */
  readonly skuShard: Uint16Array;
  /** Cluster redirects followed (MOVED, ASK, TRYAGAIN/CLUSTERDOWN). */
  readonly redirects: RedirectCounts;
  /** Redirects that could not be followed (a node that refuses connections): target problems. */
  readonly routeProblems: string[];
  /** Error replies with which the server refused deductions outright (OOM, NOPERM, BUSY, …), one per distinct text. */
  readonly refusals: { readonly code: RefusalCode; readonly reply: string }[];
  /** After a BUSY reply: what sellout did to free the server (SCRIPT KILL) and how it ended. */
  readonly busy?: string;
  /** Set when a duration run stopped at maxRecords before its planned end (what it says, for the report). */
  readonly capped?: string;
  /**
   * Set when a load worker crashed (a bug in sellout): the others were stopped and their results
   * are here, but the crashed worker's records are lost, so the run cannot be verified.
   */
  readonly crashed?: string;
}

/** The load could not start: the server refused load connections (exit 3, the run is still reported). */
export class LoadRefusedError extends TargetError {}

/**
 * Workers default to half the cores, never more than connections (each owns at least one). Half,
 * because one worker drives 300k+ deductions/s (about 2-3 us of CPU each) while the Redis under
 * test usually shares the machine and needs a core of its own: a thread more on a 2-core box
 * steals CPU from the server and lowers the throughput measured.
 */
export function resolveWorkers(scenario: Pick<Scenario, 'load' | 'duplicates'>, cores = availableParallelism()): number {
  const { connections, workers } = scenario.load;
  if (workers !== undefined) return Math.min(workers, connections);
  const auto = Math.max(1, Math.min(Math.floor(cores / 2), connections));
  // cross-worker twins need a second worker to travel through.
  return scenario.duplicates.pattern === 'cross-worker' ? Math.max(2, auto) : auto;
}

/** Splits n into `parts` shares that differ by at most one (the first ones get the extra). */
export function share(n: number, parts: number, part: number): number {
  return Math.floor(n / parts) + (part < n % parts ? 1 : 0);
}

/** The SKUs whose stock the series follows: the 10 most requested (uniform, zipf and hot all rank SKUs by number: 0 is the hottest, or tied). */
export function busiestSkus(skuCount: number): number[] {
  return Array.from({ length: Math.min(10, skuCount) }, (_, i) => i);
}

const START_DELAY_MS = 30;

export async function driveLoad(request: LoadRequest): Promise<LoadResult> {
  const { scenario, topology, keys, runId, scriptSha, signal, onProgress } = request;
  const workers = resolveWorkers(scenario);
  const { connections, inFlight } = scenario.load;
  // In a cluster `connections` and `inFlight` are per primary (router.ts), so the default bound is too.
  const maxInFlight = scenario.load.maxInFlight ?? Math.max(1000, connections * inFlight * topology.shards.length);
  const intervalMs = seriesIntervalMs(scenario);
  const series = new SeriesBuilder(workers, busiestSkus(scenario.skus.count), intervalMs);
  const liveCounts = Array.from({ length: workers }, () => new SharedArrayBuffer(OUTCOMES.length * 8));
  // An ok reply is the new stock (RESP; HTTP with a stock field): the series' stock lines come from
  // the replies, and nothing reads Redis at every interval's end (sampler.ts).
  const repliesCarryStock = request.http === undefined || request.http.stockField !== undefined;
  const droppedByWorker = new Float64Array(workers);

  // One admin connection per primary for the warm-up keys, the stock samples and the maxclients
  // check: a run goes on without them (no warm-up, no stock series) rather than failing.
  const admins = await Promise.all(topology.shards.map((shard) => connectAdmin(shard.endpoint).catch(() => undefined)));
  const admin = admins[0];
  const segment = request.segment ?? { index: 0, count: 1 };
  // Agents of one run warm up on keys of their own.
  const warmKeys = warmUpKeys(segment.count > 1 ? `${runId}:agent${segment.index}` : runId, workers, topology);
  const warmKeysOf = (shard: number) => warmKeys.map((byShard) => byShard[shard]!);
  // HTTP mode has no warm-up: the service would need keys of its own outside the run.
  const warmedShards = await Promise.all(admins.map((a, shard) => (a === undefined || request.http !== undefined ? false : seedWarmUp(a, warmKeysOf(shard)))));
  const warmed = warmedShards.every(Boolean);
  const rejectedBefore = await rejectedTotal(admins);
  // SKU -> shard (and slot) once for the run: the hot path routes with one array read (router.ts).
  const skuSlot = topology.cluster ? skuSlots(keys, scenario.skus.count) : undefined;
  const skuShard = skuShards(topology, keys, scenario.skus.count, skuSlot);

  const refusals = new Map<string, { code: RefusalCode; reply: string }>();
  let busyKill: Promise<string> | undefined;
  const tasks: PoolTask[] = Array.from({ length: workers }, (_, worker) => ({
    worker,
    workers,
    connections: share(connections, workers, worker),
    // A duration run is bounded by maxRecords too: every request is recorded, memory is not endless.
    // This worker's lane of the plan: every lanes-th request from its first (lanes.ts).
    ...laneOf(segment, worker, workers, scenario.duplicates.pattern),
    limit: share(share(scenario.requests ?? scenario.maxRecords, segment.count, segment.index), workers, worker),
    maxInFlight: Math.max(1, share(maxInFlight, workers, worker)),
    scenario,
    intervalMs,
    shards: topology.shards.map(({ node, endpoint }) => ({ node, endpoint })),
    cluster: topology.cluster,
    skuShard,
    ...(skuSlot !== undefined ? { skuSlot } : {}),
    keys: keys.templates,
    runId,
    scriptSha,
    liveCounts: liveCounts[worker]!,
    reconnectWindowMs: request.reconnectWindowMs ?? Math.min(scenario.timeoutMs, 2000),
    ...(request.clientName !== undefined ? { clientName: request.clientName } : {}),
    ...(warmed ? { warmUp: warmKeys[worker]! } : {}),
    ...(request.http !== undefined ? { http: request.http } : {}),
  }));
  const pool: WorkerPool = new WorkerPool(tasks, {
    onInterval: (report, worker, dropped) => {
      series.add(report);
      series.addDropped(report.n, dropped - droppedByWorker[worker]!);
      droppedByWorker[worker] = dropped;
    },
    onRefused: (code, reply) => {
      if (!refusals.has(reply)) refusals.set(reply, { code, reply });
      if (code === 'BUSY' && busyKill === undefined) {
        // The script outlived the server's busy-reply-threshold: everyone stops and drops what is
        // in flight, and the script is killed, which is safe as long as it has not written
        // (Redis refuses SCRIPT KILL otherwise).
        pool.abort();
        busyKill = killBusyScripts(topology);
      }
    },
    onResult: (result, worker) => {
      series.add(result.lastInterval, true);
      series.addDropped(result.lastInterval.n, result.dropped - droppedByWorker[worker]!);
      droppedByWorker[worker] = result.dropped;
    },
  });

  const sampler = new StockSampler({
    // Each stock key is read on its primary (an MGET across slots fails in a cluster).
    shards: admins.every((a) => a !== undefined) ? { keys, admins: admins as Redis[], owners: skuShard } : undefined,
    admin,
    runId,
    skuCount: scenario.skus.count,
    series,
    liveCounts: liveCounts.map((buffer) => new Float64Array(buffer)),
    dropped: () => droppedByWorker.reduce((a, b) => a + b, 0),
    plannedMs: scenario.duration ?? (scenario.load.model === 'ramping-rate' ? scheduleOf(scenario.load, undefined)!.totalMs : null),
    intervalMs,
    plannedRequests: scenario.requests ?? null,
    onProgress,
    stockLine: !repliesCarryStock,
  });
  const onAbort = () => pool.stop();
  try {
    const barrier = await pool.ready();
    if (barrier.failures.length > 0 && barrier.crash === undefined) {
      await pool.cancel();
      // A server at maxclients writes its refusal and closes at once; a client that already sent
      // its setup may see only a reset. The server's own counter tells it apart.
      const rejected = rejectedBefore !== undefined ? ((await rejectedTotal(admins)) ?? rejectedBefore) - rejectedBefore : 0;
      const cause = rejected > 0 && !/max number of clients/.test(barrier.failures[0]!)
        ? `Redis rejected ${rejected} of them at its maxclients limit (ERR max number of clients reached; INFO stats rejected_connections)`
        : barrier.failures[0];
      throw new LoadRefusedError(`could not open the ${connections} load connection(s): ${cause}`);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) pool.stop();

    await request.beforeStart?.();
    // t0 on the clock all threads share, so times from different workers compare (clock.ts).
    const clock = threadClock();
    const t0 = request.startAt !== undefined ? await request.startAt(clock) : clock.nowMs() + START_DELAY_MS;
    const startedAt = wallClockOf(t0, clock);
    pool.start(t0);
    sampler.start(t0, clock);
    request.onStart?.(t0, clock, { retarget: (shard, endpoint, reason) => pool.retarget(shard, endpoint, reason) });

    const { results, crash, crashed } = await pool.finished();
    sampler.stop();
    const busy = busyKill === undefined ? undefined : await busyKill;
    const merged = mergeResults(results, scenario);
    if (repliesCarryStock) setStockFromReplies(series, merged.records, scenario.skus.stock, merged.lastReplyUs);
    // The final stock sample belongs to the last (partial) interval (not worth a wait on a server
    // that dropped every load connection).
    else if (merged.loadLost === undefined) await sampler.sample(Math.max(0, Math.floor(merged.lastReplyUs / 1000 / intervalMs)));
    const built = buildSeries(series, merged.lastReplyUs, scenario);
    return {
      ...merged,
      skuShard,
      startedAt,
      interrupted: signal?.aborted ?? false,
      workers,
      series: built.series,
      intervals: built.intervals,
      refusals: [...refusals.values()],
      ...(busy !== undefined ? { busy } : {}),
      ...(crash !== undefined ? { crashed: `${crashed || 1} of ${workers} load worker(s) crashed: ${describeCrash(crash)}` } : {}),
    };
  } finally {
    sampler.stop();
    signal?.removeEventListener('abort', onAbort);
    series.destroy();
    await Promise.all(admins.map((a, shard) => (a !== undefined && warmedShards[shard] ? removeWarmUp(a, warmKeysOf(shard)) : undefined)));
    for (const a of admins) a?.disconnect();
    await pool.destroy();
  }
}

/**
 * The run's series from the merged interval reports. Open models: the sends the schedule has due
 * per interval (the target rate), capped at the run's requests. Send k is due when the expected
 * sends reach k, so by time t the sends due are ceil(sendsBy(t)) (the epsilon keeps a float just
 * past an integer from counting one more).
 */
export function buildSeries(series: SeriesBuilder, lastReplyUs: number, scenario: Scenario): ReturnType<SeriesBuilder['build']> {
  const schedule = scheduleOf(scenario.load, scenario.duration);
  const cap = scenario.requests ?? Infinity;
  const dueBy = (tMs: number) => Math.min(Math.ceil(schedule!.sendsBy(tMs) - 1e-9), cap);
  return series.build(lastReplyUs / 1000, schedule === undefined ? {} : { sendsBy: dueBy, dropped: true });
}

/** The series' stock lines from the ok replies (metrics/stock-line.ts), every interval up to the last reply's. */
export function setStockFromReplies(series: SeriesBuilder, records: RequestRecords, initial: number, lastReplyUs: number): void {
  const intervals = Math.max(0, Math.floor(lastReplyUs / 1000 / series.intervalMs)) + 1;
  const stock = stockFromReplies(records, series.stockSkus, initial, series.intervalMs, intervals);
  stock.forEach((values, n) => series.setStock(n, values));
}

/** INFO stats rejected_connections summed over the primaries (undefined when one cannot say). */
async function rejectedTotal(admins: readonly (Redis | undefined)[]): Promise<number | undefined> {
  let total = 0;
  for (const admin of admins) {
    const n = admin === undefined ? undefined : await rejectedConnections(admin);
    if (n === undefined) return undefined;
    total += n;
  }
  return total;
}

/** SCRIPT KILL on every primary (which one is busy is not known): what was done on the busy one(s). */
async function killBusyScripts(topology: Topology): Promise<string> {
  const outcomes = await Promise.all(topology.shards.map((shard) => killBusyScript(shard.endpoint)));
  if (outcomes.length === 1) return outcomes[0]!;
  const busy = outcomes.map((text, i) => ({ text, node: topology.shards[i]!.node })).filter(({ text }) => !/sent 0 SCRIPT KILL/.test(text));
  return (busy.length > 0 ? busy : [{ text: outcomes[0]!, node: topology.shards[0]!.node }]).map(({ text, node }) => `${node}: ${text}`).join('; ');
}

/** The crash in one line, with where it happened (the first frame of sellout's own code). */
function describeCrash(err: Error): string {
  const frame = (err.stack ?? '').split('\n').find((line) => /dist\/src\//.test(line))?.trim();
  return `${err.message.split('\n')[0]}${frame ? ` (${frame.replace(/\(?file:\/\/.*?dist\/src\//, '(src/')})` : ''}`;
}
