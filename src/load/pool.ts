/**
 * The worker threads of one run: a piscina pool running one task per worker, each with its own
 * MessagePort for the protocol (protocol.ts). Owns the barrier (every worker connected, or failed),
 * the start at one t0, the collection of results, and what happens when a worker crashes: the
 * others are stopped at once (the stop flag in shared memory) and their results still come in.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { CONTROL_ABORT, CONTROL_SLOTS, CONTROL_STOP, type CoordinatorMessage, type WorkerMessage, type WorkerResult, type WorkerTask } from './protocol.js';
import type { IntervalReport } from '../metrics/interval.js';
import type { RefusalCode } from './error-replies.js';
import type { RedisEndpoint } from '../redis/url.js';

/** What the pool hears from its workers while they run. */
export interface PoolEvents {
  onInterval(report: IntervalReport, worker: number, dropped: number): void;
  onRefused(code: RefusalCode, reply: string): void;
  onResult(result: WorkerResult, worker: number): void;
}

export type PoolTask = Omit<WorkerTask, 'port' | 'control'>;

/** How the barrier ended: everyone ready, or connection failures (the target) or a crash (a bug). */
export interface BarrierOutcome {
  readonly failures: string[];
  readonly crash: Error | undefined;
}

export interface PoolOutcome {
  /** Results of the workers that finished, in worker order. */
  readonly results: WorkerResult[];
  readonly crash: Error | undefined;
  /** Workers that crashed (their results are lost). */
  readonly crashed: number;
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

export class WorkerPool {
  readonly size: number;
  private readonly control = new SharedArrayBuffer(CONTROL_SLOTS * 4);
  private readonly controlView = new Int32Array(this.control);
  private readonly pool: Piscina;
  private readonly ports: MessagePort[] = [];
  private readonly results: (WorkerResult | undefined)[];
  private readonly failures: string[] = [];
  private readonly crashed = new Set<number>();
  private crash: Error | undefined;
  private readyCount = 0;
  private releaseBarrier!: () => void;
  private readonly barrier = new Promise<void>((resolve) => { this.releaseBarrier = resolve; });
  private allIn!: () => void;
  private readonly resultsIn = new Promise<void>((resolve) => { this.allIn = resolve; });
  private readonly settled: Promise<unknown>;

  constructor(tasks: readonly PoolTask[], private readonly events: PoolEvents) {
    this.size = tasks.length;
    this.results = new Array(tasks.length).fill(undefined);
    this.pool = new Piscina({
      filename: workerFile(),
      minThreads: tasks.length,
      maxThreads: tasks.length,
      concurrentTasksPerWorker: 1,
      idleTimeout: 1000,
      atomics: 'disabled',
    });
    const runs = tasks.map((task, worker) => {
      const { port1, port2 } = new MessageChannel();
      this.ports.push(port1);
      port1.on('message', (message: WorkerMessage) => this.onMessage(message));
      return this.pool.run({ ...task, control: this.control, port: port2 } satisfies WorkerTask, { transferList: [port2] });
    });
    // A worker that crashes (a bug in sellout) stops the others at once, and what they measured is
    // still collected: the crashed worker's records are lost with it.
    runs.forEach((run, worker) => run.catch((err: unknown) => {
      this.crashed.add(worker);
      if (this.crash === undefined) {
        this.crash = err instanceof Error ? err : new Error(String(err));
        this.stop();
        // Workers waiting at the barrier are released with the stop flag set: they end at once.
        this.releaseBarrier();
        this.postAll({ type: 'start', t0: 0 });
      }
      this.checkAllIn();
    }));
    this.settled = Promise.allSettled(runs);
  }

  /** Asks every worker to stop sending (what is in flight still completes). */
  stop(): void {
    Atomics.store(this.controlView, CONTROL_STOP, 1);
  }

  /** Asks every worker to close its connections now (a script that will not finish). */
  abort(): void {
    this.stop();
    Atomics.store(this.controlView, CONTROL_ABORT, 1);
  }

  /** Resolves when every worker is connected and warmed up, or failed, or one crashed. */
  async ready(): Promise<BarrierOutcome> {
    await this.barrier;
    return { failures: [...this.failures], crash: this.crash };
  }

  /** Releases every worker at t0 (on the shared clock, see clock.ts). */
  start(t0: number): void {
    this.postAll({ type: 'start', t0 });
  }

  /** Points every worker's connections to `shard` at a new primary (after a failover). */
  retarget(shard: number, endpoint: RedisEndpoint, reason: string): void {
    this.postAll({ type: 'retarget', shard, endpoint, reason });
  }

  /** Releases the workers without a load (after failures at the barrier) and waits for them. */
  async cancel(): Promise<void> {
    this.stop();
    this.postAll({ type: 'start', t0: 0 });
    await this.settled;
  }

  /** Waits for every worker to end and for the results they sent. */
  async finished(): Promise<PoolOutcome> {
    await this.settled;
    // Results travel on the workers' ports, not with the task replies: allow them a moment.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.resultsIn, new Promise((r) => { timer = setTimeout(r, 5000); })]);
    clearTimeout(timer);
    const results = this.results.filter((r): r is WorkerResult => r !== undefined);
    let crash = this.crash;
    if (crash === undefined && results.length !== this.size) crash = new Error(`${this.size - results.length} load worker(s) ended without a result`);
    return { results, crash, crashed: this.crashed.size };
  }

  async destroy(): Promise<void> {
    this.stop();
    for (const port of this.ports) port.close();
    await this.pool.destroy();
  }

  private onMessage(message: WorkerMessage): void {
    switch (message.type) {
      case 'ready':
        this.readyCount++;
        this.arrived();
        break;
      case 'failed':
        this.failures.push(message.message);
        this.arrived();
        break;
      case 'intervals':
        for (const { report, dropped } of message.reports) this.events.onInterval(report, message.worker, dropped);
        break;
      case 'refused':
        this.events.onRefused(message.code, message.reply);
        break;
      case 'result':
        this.results[message.worker] = message.result;
        this.events.onResult(message.result, message.worker);
        this.checkAllIn();
        break;
    }
  }

  private arrived(): void {
    if (this.readyCount + this.failures.length >= this.size) this.releaseBarrier();
  }

  private checkAllIn(): void {
    if (this.results.filter((r) => r !== undefined).length + this.crashed.size >= this.size) this.allIn();
  }

  private postAll(message: CoordinatorMessage): void {
    for (const port of this.ports) port.postMessage(message);
  }
}
