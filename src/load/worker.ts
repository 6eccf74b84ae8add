/**
 * One load worker thread (piscina runs this file's default export, compiled to
 * dist/src/load/worker.js). It owns its connections and its slice of the plan, waits at the
 * barrier for the common t0, runs its executor and hands back compact results. See protocol.ts.
 */
import { initHistograms, encodeHistogram, type Histogram } from '../metrics/histogram.js';
import { threadClock } from './clock.js';
import { ErrorReplies, type ErrorReplyEntry } from './error-replies.js';
import { WARM_UP_MAX_MS, WARM_UP_PER_WORKER, type WarmUpKeys } from './warm-up.js';
import { ClosedExecutor } from './executors/closed.js';
import { planFor } from './plan.js';
import { CONTROL_ABORT, CONTROL_STOP, recordBuffers, type CoordinatorMessage, type WorkerMessage, type WorkerResult, type WorkerTask } from './protocol.js';
import { Recorder } from '../metrics/recorder.js';
import { intervalsPerTick, type IntervalReport } from '../metrics/interval.js';
import { DeductClient, Flusher, type LoadConnection } from './resp.js';
import { HttpDeductClient } from './http-client.js';
import { Router } from './router.js';
import { RunKeys } from '../keys.js';
import { RequestSource } from './source.js';
import { createExecutor } from './executors/index.js';
import type { ExecutorContext } from './executors/types.js';
import { isOpenModel } from '../scenario/load-models/index.js';

/** The error "reply" of a send that found no live connection (it was never written). */
const NOT_SENT_TEXT = Buffer.from('not sent: no live connection to the server (it was down, restarting or moving); the deduction did not run', 'latin1');

/** How often the worker checks the stop flag, the deadline, timeouts and the interval clock. */
const TICK_MS = 50;

/**
 * Fault injection for sellout's own tests (a crash is a bug, so nothing else can cause one on
 * demand): worker 0 throws from its timer once it has recorded this many replies.
 */
const CRASH_AFTER = Number(process.env['SELLOUT_TEST_CRASH_WORKER_AFTER'] ?? 0);

export default async function runWorker(task: WorkerTask): Promise<void> {
  await initHistograms();
  const { port, scenario, worker } = task;
  const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
  const control = new Int32Array(task.control);
  const plan = planFor(scenario);
  const { lane, lanes } = task;
  const source = new RequestSource(plan, scenario.duplicates.pattern, task.limit, lane, lanes, {
    delayUs: (scenario.duplicates.delayMs ?? 0) * 1000,
    // cross-worker (cross-agent): this worker sends the twins of the previous worker's (agent's) originals.
    twinFirst: task.twinLane,
  });
  // Times are microseconds since the common t0, on the clock every thread shares (clock.ts).
  const clock = threadClock();
  let t0 = clock.nowMs();
  const nowUs = () => (clock.nowMs() - t0) * 1000;
  const open = isOpenModel(scenario.load.model);
  // Closed intervals go to the coordinator about once a second, not one message each: every
  // message wakes the main thread, which on a small machine takes a core from this thread or the
  // server (ten a second showed in the 1x1 p99.9). The progress line reads the latest once a
  // second and the series is built after the load, so neither needs them sooner.
  const postEvery = intervalsPerTick(task.intervalMs);
  let closed: { report: IntervalReport; dropped: number }[] = [];
  const postIntervals = () => {
    if (closed.length === 0) return;
    post({ type: 'intervals', worker, reports: closed });
    closed = [];
  };
  const recorder = new Recorder(
    // A requests run knows its size; a duration run grows its records from a modest start.
    scenario.requests !== undefined ? task.limit : 65_536,
    open,
    (report) => {
      // Drops so far as the interval closes (not as of the last tick): the coordinator takes the
      // difference per interval for the series' dropped line.
      closed.push({ report, dropped: executor.dropped });
      if ((report.n + 1) % postEvery === 0) postIntervals();
    },
    new Float64Array(task.liveCounts),
    task.intervalMs,
  );
  const flusher = new Flusher();
  const errors = new ErrorReplies();
  const refusalsReported = new Set<string>();
  const deadlineUs = scenario.duration !== undefined ? scenario.duration * 1000 : Infinity;
  const keys = new RunKeys(task.keys, task.runId);
  // Only a cluster needs routing: on one server every connection serves every SKU.
  // HTTP mode routes nothing: the service talks to the cluster.
  const router = task.cluster && task.http === undefined
    ? new Router({ cluster: true, skuShard: task.skuShard, ...(task.skuSlot ? { skuSlot: task.skuSlot } : {}), nodes: task.shards.map((s) => s.node), openShard })
    : undefined;
  // Every key always present (router may be undefined): the warm-up's context is this one with
  // other values, so the hot path's property loads see one object shape before t0 and after (a
  // second shape at t0 deoptimized functions the warm-up had just optimized).
  const context: ExecutorContext = { plan, source, recorder, flusher, nowUs, deadlineUs, lane, lanes, maxInFlight: task.maxInFlight, onRefused, onNotSent, router };
  const executor = createExecutor(context, scenario.load, scenario.duration);
  const target = {
    keys,
    cluster: task.cluster,
    seed: scenario.seed,
    scriptSha: task.scriptSha,
    scriptSource: scenario.scriptSource,
    errors,
    // Filled as SKUs are first sent to; sized up front so lookups stay on a packed array.
    skuPrefixes: new Array<Buffer | undefined>(scenario.skus.count).fill(undefined),
    reconnectWindowMs: task.reconnectWindowMs,
    ...(task.clientName !== undefined ? { clientName: task.clientName } : {}),
  };
  // `connections` to every shard (connection i of shard s at i * shards + s).
  const shards = task.shards.length;
  const http = task.http;
  // HTTP mode: `connections` connections to the sale service; otherwise `connections` to every shard.
  const conns: LoadConnection[] = http !== undefined
    ? Array.from({ length: task.connections }, (_, i) =>
      new HttpDeductClient(i, { target: http, seed: scenario.seed, errors, reconnectWindowMs: task.reconnectWindowMs }, executor, flusher, nowUs))
    : Array.from({ length: task.connections * shards }, (_, i) =>
      new DeductClient(i, { ...target, shard: i % shards, endpoint: task.shards[i % shards]!.endpoint }, executor, flusher, nowUs));
  router?.add(conns);

  /** After a MOVED to a primary the run did not know: `connections` connections to it, for the router. */
  async function openShard(node: string, shard: number): Promise<DeductClient[]> {
    const colon = node.lastIndexOf(':');
    const endpoint = { ...task.shards[0]!.endpoint, host: node.slice(0, colon), port: Number(node.slice(colon + 1)) };
    const opened = Array.from({ length: task.connections }, (_, i) =>
      new DeductClient(conns.length + i, { ...target, shard, endpoint }, executor, flusher, nowUs));
    try {
      await Promise.all(opened.map((c) => c.connect()));
    } catch (err) {
      for (const c of opened) c.close();
      throw err;
    }
    conns.push(...opened);
    return opened;
  }
  let finished = false;

  /** Sends that found every connection down are error outcomes; the run lists them under this text. */
  const notSentEntry = errors.lookup(NOT_SENT_TEXT, 0, NOT_SENT_TEXT.length);
  function onNotSent(): void {
    errors.count(notSentEntry);
  }

  /** The server refused a deduction outright: tell the coordinator once per kind; a BUSY script stops the run. */
  function onRefused(entry: ErrorReplyEntry): void {
    if (entry.refusal === 'BUSY') {
      // Every pipelined send behind the busy one would run the script again: stop everyone now.
      Atomics.store(control, CONTROL_STOP, 1);
      Atomics.store(control, CONTROL_ABORT, 1);
    }
    if (refusalsReported.has(entry.text)) return;
    refusalsReported.add(entry.text);
    post({ type: 'refused', worker, code: entry.refusal!, reply: entry.text });
  }

  try {
    try {
      await Promise.all(conns.map((c) => c.connect()));
    } catch (err) {
      post({ type: 'failed', worker, message: (err as Error).message.split('\n')[0] ?? String(err) });
      return;
    }
    if (task.warmUp !== undefined) await warmUp(task.warmUp);
    const start = new Promise<number>((resolve) => {
      port.on('message', (message: CoordinatorMessage) => {
        if (message.type === 'start') resolve(message.t0);
        else if (message.type === 'retarget') for (const c of conns) if (c.shard === message.shard) c.retarget(message.endpoint, message.reason);
      });
    });
    post({ type: 'ready', worker });
    t0 = await start;
    if (Atomics.load(control, CONTROL_STOP) === 1) return finish();
    const waitMs = t0 - clock.nowMs();
    if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));

    executor.start(conns);
    const timeoutUs = scenario.timeoutMs * 1000;
    const ticker = setInterval(() => {
      const now = nowUs();
      if (Atomics.load(control, CONTROL_STOP) === 1) executor.stop();
      // Abort (a script that will not finish): requests in flight will not come back in time; drop them as unknown.
      if (Atomics.load(control, CONTROL_ABORT) === 1) for (const c of conns) c.close('closed by sellout: the server is busy running a script');
      if (CRASH_AFTER > 0 && worker === 0 && recorder.records.count >= CRASH_AFTER) throw new Error(`test crash after ${CRASH_AFTER} replies (SELLOUT_TEST_CRASH_WORKER_AFTER)`);
      executor.tick(now);
      recorder.rotate(now);
      // A request unanswered for timeoutMs: the connection is stuck, and with a pipeline nothing
      // behind it can come back either. Reopen it; its requests in flight become unknown.
      for (const c of conns) {
        const oldest = c.oldestSentUs();
        if (c.alive && oldest === oldest && now - oldest > timeoutUs) void c.restart(`no reply within timeoutMs (${scenario.timeoutMs} ms)`);
      }
    }, TICK_MS);
    await executor.done;
    clearInterval(ticker);
    return finish();
  } finally {
    // finish() already closed them; this covers the early returns.
    if (!finished) for (const c of conns) c.close();
  }

  /**
   * The whole hot path before t0 (warm-up.ts): a closed loop of WARM_UP_PER_WORKER deductions
   * through a scratch executor and recorder, on keys outside the run, so that the run's first
   * replies are not its slowest (JIT tiers, first use). Bounded in time: a script that never
   * finishes, or a server that stalls, is the run's to meet and report.
   */
  async function warmUp(keysByShard: readonly WarmUpKeys[]): Promise<void> {
    const scratch = new Recorder(WARM_UP_PER_WORKER, open);
    const warmSource = new RequestSource(plan, 'sequential', WARM_UP_PER_WORKER, lane, lanes);
    // No router: a redirect in the warm-up is an answer like any other.
    const warmExecutor: ClosedExecutor = new ClosedExecutor(
      { ...context, source: warmSource, recorder: scratch, deadlineUs: Infinity, onRefused: () => warmExecutor.stop(), onNotSent: () => {}, router: undefined },
      Math.max(1, Math.min(scenario.load.inFlight, 16)),
    );
    for (const c of conns) c.beginWarmUp(keysByShard[c.shard]!.stockKey, keysByShard[c.shard]!.journalKey, warmExecutor);
    let timer: NodeJS.Timeout | undefined;
    warmExecutor.start(conns);
    await Promise.race([warmExecutor.done, new Promise((r) => { timer = setTimeout(r, Math.min(WARM_UP_MAX_MS, scenario.timeoutMs)); })]);
    clearTimeout(timer);
    warmExecutor.stop();
    for (const c of conns) c.endWarmUp();
    scratch.destroy();
  }

  function finish(): void {
    // Connections close before the records leave this thread: a late close records its requests
    // in flight as unknown, which must land in the records that are sent, not in transferred buffers.
    for (const c of conns) c.close();
    finished = true;
    const records = recorder.records;
    const encodeAll = (list: Histogram[]) => list.map((h) => (h.totalCount > 0 ? encodeHistogram(h) : null));
    const lastInterval = recorder.finish();
    postIntervals();
    const result: WorkerResult = {
      counts: Array.from(recorder.countsByCode),
      latency: encodeAll(recorder.totals),
      latencyRaw: recorder.raw ? encodeAll(recorder.raw) : null,
      lastInterval,
      records,
      firstSendUs: recorder.firstSendUs,
      lastReplyUs: recorder.lastReplyUs,
      scheduled: executor.scheduled,
      dropped: executor.dropped,
      connectionErrors: [...executor.connectionErrors],
      lostAllConnections: executor.lostAllConnections,
      ...(router !== undefined && router.shardLost() >= 0 ? { lostShard: router.nodeOf(router.shardLost()) } : {}),
      capped: scenario.duration !== undefined && source.exhausted && nowUs() < deadlineUs && Atomics.load(control, CONTROL_STOP) === 0,
      errorReplies: errors.list(),
      reconnects: conns.reduce((n, c) => n + c.reconnects, 0),
      redirects: router?.redirects ?? { moved: 0, ask: 0, tryagain: 0 },
      routeProblems: [...(router?.problems ?? [])],
    };
    router?.close();
    recorder.destroy();
    post({ type: 'result', worker, result }, recordBuffers(records));
  }
}
