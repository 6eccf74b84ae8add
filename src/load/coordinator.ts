/**
 * Drives the load of one run over a piscina pool of worker threads and returns what was observed.
 *
 * Each worker owns `connections / workers` connections and the slice `w, w+W, …` of the plan. The
 * coordinator waits until every worker has connected (the barrier), then releases them all at one
 * wall-clock t0 slightly in the future, so the crowd arrives together. While they run it merges
 * their per-second reports into the series, samples stock from Redis once a second and reports
 * progress; a stop (abort signal) is a flag in shared memory. At the end it merges the workers'
 * histograms exactly (add) and concatenates their per-request records.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Redis } from 'ioredis';
import type { Scenario } from '../scenario/load.js';
import type { RedisEndpoint } from '../redis/url.js';
import type { Histogram } from '../metrics/histogram.js';
import { emptyCounts, OUTCOMES, type OutcomeCounts } from '../outcomes.js';
import { TargetError } from '../errors.js';
import { connectAdmin } from '../redis/index.js';
import { stockKey } from '../keys.js';
import { mergeEncoded } from '../metrics/merge.js';
import { INTERVAL_MS } from '../metrics/interval.js';
import { SeriesBuilder, type IntervalHistogram } from '../metrics/series.js';
import type { SeriesV1 } from '../summary/summary.js';
import { scheduleOf } from './executors/index.js';
import { isOpenModel } from '../scenario/load-models/index.js';
import { Plan, planFor } from './plan.js';
import { CONTROL_ABORT, CONTROL_SLOTS, CONTROL_STOP, type CoordinatorMessage, type WorkerMessage, type WorkerResult, type WorkerTask } from './protocol.js';
import { threadClock, wallClockOf } from './clock.js';
import { mergeErrorReplies, type ErrorReplyCount, type RefusalCode } from './error-replies.js';
import { concatRecords, type RequestRecords } from './records.js';

export interface LoadProgress {
  /** Milliseconds since t0, and the planned duration (null when the run is bounded by requests). */
  readonly elapsedMs: number;
  readonly plannedMs: number | null;
  /** Replies so far and requests planned (null for duration runs). */
  readonly replies: number;
  readonly plannedRequests: number | null;
  /** Replies in the last complete second. */
  readonly repliesPerSecond: number;
  readonly okP99Us: number | null;
  /** Stock left over the sampled SKUs (all of them up to 1000 SKUs), null before the first sample. */
  readonly stockLeft: number | null;
  readonly stockSampledSkus: number;
  readonly counts: OutcomeCounts;
  readonly dropped: number;
}

export interface LoadRequest {
  readonly scenario: Scenario;
  readonly endpoint: RedisEndpoint;
  readonly runId: string;
  readonly scriptSha: string;
  readonly signal?: AbortSignal;
  /** Called about once a second while the load runs. */
  readonly onProgress?: (progress: LoadProgress) => void;
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
  /** Error replies with which the server refused deductions outright (OOM, NOPERM, BUSY, …), one per distinct text. */
  readonly refusals: { readonly code: RefusalCode; readonly reply: string }[];
  /** After a BUSY reply: what sellout did to free the server (SCRIPT KILL) and how it ended. */
  readonly busy?: string;
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
  if (!Number.isFinite(n)) return n;
  return Math.floor(n / parts) + (part < n % parts ? 1 : 0);
}

/**
 * The compiled worker. Workers always run compiled JS (piscina cannot load .ts under Node 20), so
 * the path is found from the project root, also when this module runs from src/ under vitest.
 */
export function workerFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) {
      const file = join(dir, 'dist', 'src', 'load', 'worker.js');
      if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first (load workers run compiled JS)`);
      return file;
    }
    dir = dirname(dir);
  }
  throw new Error('cannot find the sellout project root (package.json) above the load coordinator');
}

/** The SKUs whose stock the series follows: the 10 most requested in the plan (SKU 0 first). */
function busiestSkus(plan: Plan): number[] {
  const { skuCount } = plan.spec;
  // uniform, zipf and hot all rank SKUs by number: 0 is the hottest (or tied).
  return Array.from({ length: Math.min(10, skuCount) }, (_, i) => i);
}

const START_DELAY_MS = 30;
const MAX_STOCK_SAMPLE = 1000;

export async function driveLoad(request: LoadRequest): Promise<LoadResult> {
  const { scenario, endpoint, runId, scriptSha, signal, onProgress } = request;
  const workers = resolveWorkers(scenario);
  const { connections, inFlight } = scenario.load;
  const open = isOpenModel(scenario.load.model);
  const maxInFlight = scenario.load.maxInFlight ?? Math.max(1000, connections * inFlight);
  const plan = planFor(scenario);
  const control = new SharedArrayBuffer(CONTROL_SLOTS * 4);
  const controlView = new Int32Array(control);
  const stop = () => Atomics.store(controlView, CONTROL_STOP, 1);

  const topSkus = busiestSkus(plan);
  const sampled = Array.from({ length: Math.min(scenario.skus.count, MAX_STOCK_SAMPLE) }, (_, i) => i);
  const series = new SeriesBuilder(workers, topSkus);
  const liveCounts = Array.from({ length: workers }, () => new SharedArrayBuffer(OUTCOMES.length * 8));
  const liveViews = liveCounts.map((buffer) => new Float64Array(buffer));
  // Replies so far per outcome, read from the workers' shared counters (current, not a second late).
  const liveTotals = (): Float64Array => {
    const sum = new Float64Array(OUTCOMES.length);
    for (const view of liveViews) for (let code = 0; code < sum.length; code++) sum[code]! += view[code]!;
    return sum;
  };
  let droppedLive = 0;
  let lastStockLeft: number | null = null;

  const pool = new Piscina({
    filename: workerFile(),
    minThreads: workers,
    maxThreads: workers,
    concurrentTasksPerWorker: 1,
    idleTimeout: 1000,
    atomics: 'disabled',
  });
  const results: (WorkerResult | undefined)[] = new Array(workers).fill(undefined);
  const failures: string[] = [];
  const refusals = new Map<string, { code: RefusalCode; reply: string }>();
  let busyKill: Promise<string> | undefined;
  const ports = Array.from({ length: workers }, () => new MessageChannel());
  let readyCount = 0;
  let releaseBarrier!: () => void;
  const barrier = new Promise<void>((resolve) => { releaseBarrier = resolve; });
  const arrived = () => { if (readyCount + failures.length === workers) releaseBarrier(); };

  // Results come on the workers' own ports, which are not ordered with piscina's task replies.
  let allResults!: () => void;
  const resultsIn = new Promise<void>((resolve) => { allResults = resolve; });
  const droppedByWorker = new Float64Array(workers);
  ports.forEach(({ port1 }) => {
    port1.on('message', (message: WorkerMessage) => {
      switch (message.type) {
        case 'ready':
          readyCount++;
          arrived();
          break;
        case 'failed':
          failures.push(message.message);
          arrived();
          break;
        case 'interval':
          series.add(message.report);
          droppedByWorker[message.worker] = message.dropped;
          droppedLive = droppedByWorker.reduce((a, b) => a + b, 0);
          break;
        case 'refused':
          if (!refusals.has(message.reply)) refusals.set(message.reply, { code: message.code, reply: message.reply });
          if (message.code === 'BUSY' && busyKill === undefined) {
            // The script outlived the server's busy-reply-threshold: everyone stops and drops
            // what is in flight (workers saw CONTROL_ABORT), and the script is killed, which is
            // safe as long as it has not written (Redis refuses SCRIPT KILL otherwise).
            stop();
            Atomics.store(controlView, CONTROL_ABORT, 1);
            busyKill = killBusyScript(endpoint);
          }
          break;
        case 'result':
          results[message.worker] = message.result;
          series.add(message.result.lastInterval, true);
          if (results.every((r) => r !== undefined)) allResults();
          break;
      }
    });
  });

  const tasks = ports.map(({ port2 }, worker) => {
    const task: WorkerTask = {
      worker,
      workers,
      connections: share(connections, workers, worker),
      limit: share(scenario.requests ?? Infinity, workers, worker),
      maxInFlight: Math.max(1, share(maxInFlight, workers, worker)),
      scenario,
      endpoint,
      runId,
      scriptSha,
      control,
      liveCounts: liveCounts[worker]!,
      port: port2,
    };
    return pool.run(task, { transferList: [port2] });
  });
  // A worker that throws (a bug) must not leave the others waiting at the barrier forever.
  const taskErrors: Error[] = [];
  const settled = Promise.allSettled(tasks).then((all) => {
    for (const r of all) if (r.status === 'rejected') taskErrors.push(r.reason as Error);
  });
  void settled.then(() => { if (readyCount + failures.length < workers) { failures.push(taskErrors[0]?.message ?? 'a worker ended early'); releaseBarrier(); } });

  let admin: Redis | undefined;
  let sampler: NodeJS.Timeout | undefined;
  const onAbort = () => stop();
  try {
    await barrier;
    if (failures.length > 0) {
      // Release the workers that did connect, with the stop flag already set: they end at once.
      stop();
      for (const { port1 } of ports) port1.postMessage({ type: 'start', t0: 0 } satisfies CoordinatorMessage);
      await settled;
      throw new LoadRefusedError(`could not open the ${connections} load connection(s): ${failures[0]}`);
    }
    admin = await connectAdmin(endpoint).catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) stop();

    // t0 on the clock all threads share, so times from different workers compare (clock.ts).
    const clock = threadClock();
    const t0 = clock.nowMs() + START_DELAY_MS;
    const startedAt = wallClockOf(t0, clock);
    for (const { port1 } of ports) port1.postMessage({ type: 'start', t0 } satisfies CoordinatorMessage);

    // Once a second, at each interval's end: sample stock (the series) and report progress.
    const plannedMs = scenario.duration ?? (scenario.load.model === 'ramping-rate' ? scheduleOf(scenario.load, undefined)!.totalMs : null);
    const sampleStock = async (n: number) => {
      if (admin === undefined) return;
      try {
        const keys = sampled.map((sku) => stockKey(runId, sku));
        const values = (await admin.mget(keys)).map((v) => (v !== null && /^-?\d+$/.test(v) ? Number(v) : null));
        series.setStock(n, topSkus.map((sku) => values[sku] ?? null));
        lastStockLeft = values.reduce<number>((a, v) => a + (v ?? 0), 0);
      } catch {
        // A failed sample leaves a gap in the series; the run goes on.
      }
    };
    let n = 0;
    let lastProgress = { replies: 0, atMs: 0 };
    const scheduleSample = () => {
      const due = t0 + (n + 1) * INTERVAL_MS - clock.nowMs();
      sampler = setTimeout(() => {
        const current = n++;
        scheduleSample();
        void sampleStock(current).then(() => {
          if (!onProgress) return;
          const latest = series.latest();
          const live = liveTotals();
          const counts = emptyCounts();
          OUTCOMES.forEach((o, code) => { counts[o] = live[code]!; });
          const replies = live.reduce((a, b) => a + b, 0);
          const elapsedMs = clock.nowMs() - t0;
          const repliesPerSecond = ((replies - lastProgress.replies) * 1000) / Math.max(1, elapsedMs - lastProgress.atMs);
          lastProgress = { replies, atMs: elapsedMs };
          onProgress({
            elapsedMs: (current + 1) * INTERVAL_MS,
            plannedMs,
            replies,
            plannedRequests: scenario.requests ?? null,
            repliesPerSecond,
            okP99Us: latest?.okP99 ?? null,
            stockLeft: lastStockLeft,
            stockSampledSkus: sampled.length,
            counts,
            dropped: droppedLive,
          });
        });
      }, Math.max(0, due));
    };
    scheduleSample();

    await settled;
    // Results travel on the workers' ports, not with the task replies: allow them a moment.
    let resultsTimer: NodeJS.Timeout | undefined;
    if (taskErrors.length === 0) await Promise.race([resultsIn, new Promise((r) => { resultsTimer = setTimeout(r, 5000); })]);
    clearTimeout(resultsTimer);
    clearTimeout(sampler);
    const busy = busyKill === undefined ? undefined : await busyKill;
    if (taskErrors.length > 0) throw taskErrors[0];
    const done = results.filter((r): r is WorkerResult => r !== undefined);
    if (done.length !== workers) throw new Error(`${workers - done.length} load worker(s) ended without a result`);

    const firstSendUs = Math.min(...done.map((r) => r.firstSendUs));
    const lastReplyUs = Math.max(...done.map((r) => r.lastReplyUs));
    // The final stock sample belongs to the last (partial) interval (not worth a wait on a server
    // that dropped every load connection).
    const lastInterval = Math.max(0, Math.floor(lastReplyUs / 1000 / INTERVAL_MS));
    if (!done.every((r) => r.lostAllConnections)) await sampleStock(lastInterval);
    const built = series.build(lastReplyUs / 1000);

    const counts = emptyCounts();
    OUTCOMES.forEach((o, code) => { counts[o] = done.reduce((a, r) => a + r.counts[code]!, 0); });
    const histograms = OUTCOMES.map((_, code) => mergeEncoded(done.map((r) => r.latency[code])));
    const histogramsRaw = open ? OUTCOMES.map((_, code) => mergeEncoded(done.map((r) => r.latencyRaw?.[code] ?? null))) : undefined;
    const records = concatRecords(done.map((r) => r.records));
    const replies = records.count;
    const durationMs = replies === 0 ? 0 : (lastReplyUs - firstSendUs) / 1000;
    const scheduled = done.reduce((a, r) => a + r.scheduled, 0);
    const dropped = done.reduce((a, r) => a + r.dropped, 0);
    const schedule = scheduleOf(scenario.load, scenario.duration);
    const sentSpanMs = replies === 0 ? 0 : (Math.max(...done.map((r) => maxSent(r.records))) - firstSendUs) / 1000;
    const connectionErrors = [...new Set(done.flatMap((r) => r.connectionErrors))];
    return {
      records,
      histograms,
      ...(histogramsRaw ? { histogramsRaw } : {}),
      counts,
      durationMs,
      startedAt,
      interrupted: signal?.aborted ?? false,
      workers,
      ...(open && schedule
        ? {
            scheduled,
            dropped,
            // The target is the schedule's average over the time the run actually sent.
            targetRate: round1(sentSpanMs > 0 ? (schedule.sendsBy(sentSpanMs) / sentSpanMs) * 1000 : schedule.rateAt(0)),
            achievedRate: round1(sentSpanMs > 0 ? ((replies - 1) / sentSpanMs) * 1000 : 0),
          }
        : {}),
      series: built.series,
      intervals: built.intervals,
      connectionErrors,
      ...(done.every((r) => r.lostAllConnections)
        ? { loadLost: `Redis dropped every load connection ${(durationMs / 1000).toFixed(2)} s into the load (${connectionErrors[0] ?? 'no reason given'}), so it ended early` }
        : {}),
      rowsByWorker: done.map((r) => r.records.count),
      errorReplies: mergeErrorReplies(done.map((r) => r.errorReplies)),
      reconnects: done.reduce((a, r) => a + r.reconnects, 0),
      refusals: [...refusals.values()],
      ...(busy !== undefined ? { busy } : {}),
    };
  } finally {
    clearTimeout(sampler);
    signal?.removeEventListener('abort', onAbort);
    stop();
    series.destroy();
    admin?.disconnect();
    for (const { port1 } of ports) port1.close();
    await pool.destroy();
  }
}

/**
 * Frees a server stuck in a script that will not finish: SCRIPT KILL until PING answers. Each
 * deduction already pipelined behind the stuck one runs the script again once it is killed, and
 * can be killed only after the server's busy-reply-threshold, so this takes up to that threshold
 * per request that was in flight on the stuck connection; it gives up after a minute.
 */
async function killBusyScript(endpoint: RedisEndpoint, giveUpMs = 60_000): Promise<string> {
  const started = Date.now();
  let kills = 0;
  let admin: Redis | undefined;
  try {
    admin = await connectAdmin(endpoint, 3000, 10_000, false);
    for (;;) {
      try {
        await admin.script('KILL');
        kills++;
      } catch (err) {
        const text = (err as Error).message;
        if (/UNKILLABLE/.test(text)) {
          return `the script wrote before it got stuck, so SCRIPT KILL cannot stop it (${text.split('\n')[0]}); only SHUTDOWN NOSAVE can, which sellout does not send to a server it did not start`;
        }
      }
      try {
        if ((await admin.ping()) === 'PONG') return `sellout sent ${kills} SCRIPT KILL(s) and the server answers again`;
      } catch {
        // still busy (BUSY) or not answering yet
      }
      if (Date.now() - started > giveUpMs) return `the server was still busy after ${kills} SCRIPT KILL(s) over ${Math.round(giveUpMs / 1000)} s: send SCRIPT KILL until PING answers`;
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    return `sellout could not send SCRIPT KILL: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    admin?.disconnect();
  }
}

function maxSent(records: RequestRecords): number {
  let max = 0;
  for (let i = 0; i < records.count; i++) if (records.sentUs[i]! > max) max = records.sentUs[i]!;
  return max;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
