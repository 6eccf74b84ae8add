/**
 * One load worker thread (piscina runs this file's default export, compiled to
 * dist/src/load/worker.js). It owns its connections and its slice of the plan, waits at the
 * barrier for the common t0, runs its executor and hands back compact results. See protocol.ts.
 */
import { performance } from 'node:perf_hooks';
import { initHistograms, encodeHistogram, type Histogram } from '../metrics/histogram.js';
import { planFor } from './plan.js';
import { CONTROL_STOP, recordBuffers, type CoordinatorMessage, type WorkerMessage, type WorkerResult, type WorkerTask } from './protocol.js';
import { Recorder } from './recorder.js';
import { DeductClient, Flusher } from './resp.js';
import { RequestSource } from './source.js';
import { createExecutor, isOpenModel } from './executors/index.js';

/** How often the worker checks the stop flag, the deadline, timeouts and the interval clock. */
const TICK_MS = 50;

export default async function runWorker(task: WorkerTask): Promise<void> {
  await initHistograms();
  const { port, scenario, worker, workers } = task;
  const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
  const control = new Int32Array(task.control);
  const plan = planFor(scenario);
  const source = new RequestSource(plan, scenario.duplicates.pattern, task.limit, worker, workers, {
    delayUs: (scenario.duplicates.delayMs ?? 0) * 1000,
    // cross-worker: this worker sends the twins of the previous worker's originals.
    twinFirst: (worker + workers - 1) % workers,
  });
  // Times are microseconds since the common t0; `base` is t0 on this thread's performance clock.
  let base = performance.now();
  const nowUs = () => (performance.now() - base) * 1000;
  const open = isOpenModel(scenario.load.model);
  let dropped = 0;
  let inFlight = 0;
  const recorder = new Recorder(
    Number.isFinite(task.limit) ? task.limit : 65_536,
    open,
    (report) => post({ type: 'interval', worker, report, dropped, inFlight }),
    new Float64Array(task.liveCounts),
  );
  const flusher = new Flusher();
  const deadlineUs = scenario.duration !== undefined ? scenario.duration * 1000 : Infinity;
  const executor = createExecutor(
    { plan, source, recorder, flusher, nowUs, deadlineUs, worker, workers, maxInFlight: task.maxInFlight },
    scenario.load,
    scenario.duration,
  );
  const target = { endpoint: task.endpoint, runId: task.runId, seed: scenario.seed, scriptSha: task.scriptSha, scriptSource: scenario.scriptSource };
  const conns = Array.from({ length: task.connections }, (_, i) => new DeductClient(i, target, executor, flusher, nowUs));

  try {
    try {
      await Promise.all(conns.map((c) => c.connect()));
    } catch (err) {
      post({ type: 'failed', worker, message: (err as Error).message.split('\n')[0] ?? String(err) });
      return;
    }
    const start = new Promise<number>((resolve) => {
      port.once('message', (message: CoordinatorMessage) => resolve(message.t0));
    });
    post({ type: 'ready', worker });
    const t0 = await start;
    if (Atomics.load(control, CONTROL_STOP) === 1) return finish();
    // t0 is epoch ms; performance.timeOrigin differs per thread, so convert on this thread.
    base = t0 - performance.timeOrigin;
    const waitMs = base - performance.now();
    if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));

    executor.start(conns);
    const timeoutUs = scenario.timeoutMs * 1000;
    const ticker = setInterval(() => {
      const now = nowUs();
      if (Atomics.load(control, CONTROL_STOP) === 1) executor.stop();
      inFlight = conns.reduce((n, c) => n + c.inFlight, 0);
      dropped = executor.dropped;
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
    for (const c of conns) c.close();
  }

  function finish(): void {
    const records = recorder.records;
    const encodeAll = (list: Histogram[]) => list.map((h) => (h.totalCount > 0 ? encodeHistogram(h) : null));
    const lastInterval = recorder.finish();
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
      lostAllConnections:
        conns.length > 0 && conns.every((c) => !c.alive && !c.restarting) && Atomics.load(control, CONTROL_STOP) === 0 && !source.exhausted && nowUs() < deadlineUs,
    };
    recorder.destroy();
    post({ type: 'result', worker, result }, recordBuffers(records));
  }
}
