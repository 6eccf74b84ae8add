/**
 * Carries out the scenario's timed faults during the load (the side effects; what they did to the
 * sale is worked out afterwards from the records, src/metrics/faults.ts). Each fault starts `at`
 * after t0 on the clock the load shares (load/clock.ts), and its event says when it really started
 * and ended: a restart that took 300 ms, a SIGCONT sent late because the event loop was busy.
 *
 * When the load ends first, faults not started yet are not run (their events say so), and one in
 * progress is brought to its end at once (a paused server resumed, a killed one restarted if the
 * scenario asked for a restart), so the run can still read Redis back.
 */
import type { Redis } from 'ioredis';
import type { ThreadClock } from '../load/clock.js';
import type { Fault } from '../scenario/faults.js';
import type { EmbeddedServer } from '../redis/embedded.js';
import type { FaultEvent } from '../metrics/faults.js';

export interface FaultTargets {
  /** The embedded server (kill, pause, failover); absent for a URL target. */
  readonly embedded?: EmbeddedServer | undefined;
  /** An admin connection to the primary (client-pause, script-flush, client-kill). */
  admin(): Redis;
  /** The name the run's load connections give themselves (CLIENT SETNAME), for client-kill. */
  readonly loadClientName: string;
  /** After a failover: the load and the admin side follow the new primary. */
  readonly onPrimaryMoved?: (host: string, port: number) => void | Promise<void>;
}

export class FaultRunner {
  private readonly events: FaultEvent[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  /** Ends a fault in progress early (the load is over): resume a pause, restart a kill now. */
  private readonly enders = new Map<number, () => void>();
  private t0 = 0;
  private clock: ThreadClock | undefined;
  private finished = false;

  constructor(
    private readonly faults: readonly Fault[],
    private readonly targets: FaultTargets,
  ) {}

  get any(): boolean {
    return this.faults.length > 0;
  }

  /** Schedules every fault from t0 (ms on the clock the load shares). */
  start(t0: number, clock: ThreadClock): void {
    this.t0 = t0;
    this.clock = clock;
    this.faults.forEach((fault, index) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        const run = this.run(index, fault).finally(() => this.running.delete(run));
        this.running.add(run);
      }, Math.max(0, t0 + fault.at - clock.nowMs()));
      this.timers.add(timer);
    });
  }

  /** The load is over: cancels faults not started, ends those in progress, and returns every fault's event. */
  async finish(): Promise<FaultEvent[]> {
    this.finished = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const end of this.enders.values()) end();
    await Promise.all([...this.running]);
    const started = new Set(this.events.map((e) => e.index));
    this.faults.forEach((fault, index) => {
      if (!started.has(index)) {
        const atMs = fault.at;
        this.events.push({ index, action: fault.action, atMs, startedMs: atMs, endedMs: atMs, failed: 'not run: the load ended before its time' });
      }
    });
    return this.events.sort((a, b) => a.index - b.index);
  }

  private now(): number {
    return (this.clock?.nowMs() ?? this.t0) - this.t0;
  }

  /** Waits `ms` or until the load is over (the fault is then ended at once). */
  private hold(index: number, ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.finished) return resolve();
      const timer = setTimeout(() => { this.enders.delete(index); resolve(); }, ms);
      this.enders.set(index, () => { clearTimeout(timer); this.enders.delete(index); resolve(); });
    });
  }

  private async run(index: number, fault: Fault): Promise<void> {
    const startedMs = this.now();
    const event: FaultEvent = { index, action: fault.action, atMs: fault.at, startedMs, endedMs: startedMs };
    this.events.push(event);
    try {
      event.detail = await this.act(index, fault, startedMs);
    } catch (err) {
      event.failed = (err as Error).message.split('\n')[0] ?? String(err);
    }
    event.endedMs = this.now();
  }

  private embedded(fault: Fault): EmbeddedServer {
    // The scenario check refuses these faults for other targets before the run (scenario/faults.ts).
    if (this.targets.embedded === undefined) throw new Error(`${fault.action} needs the embedded redis-server`);
    return this.targets.embedded;
  }

  /** Does the fault; returns what happened in words (the event's detail). */
  private async act(index: number, fault: Fault, startedMs: number): Promise<string | undefined> {
    switch (fault.action) {
      case 'kill': {
        const server = this.embedded(fault);
        server.kill();
        if (fault.restartAfter === undefined) return 'killed (kill -9); not restarted';
        await this.hold(index, fault.restartAfter);
        const before = this.now();
        await server.restart();
        return `killed (kill -9), restarted after ${Math.round(fault.restartAfter)} ms (up again in ${Math.round(this.now() - before)} ms)`;
      }
      case 'pause': {
        const server = this.embedded(fault);
        server.pause();
        try {
          await this.hold(index, fault.duration);
        } finally {
          server.resume();
        }
        return `SIGSTOP, SIGCONT after ${Math.round(this.now() - startedMs)} ms`;
      }
      case 'client-pause': {
        const ms = Math.max(1, Math.round(fault.duration));
        await this.targets.admin().call('CLIENT', 'PAUSE', String(ms), 'WRITE');
        await this.hold(index, ms);
        return `CLIENT PAUSE ${ms} WRITE`;
      }
      case 'script-flush': {
        await this.targets.admin().call('SCRIPT', 'FLUSH');
        return 'SCRIPT FLUSH';
      }
      case 'client-kill': {
        const admin = this.targets.admin();
        const list = String(await admin.call('CLIENT', 'LIST'));
        const ids = list.split('\n').filter((line) => line.includes(` name=${this.targets.loadClientName} `)).map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1]).filter((id): id is string => id !== undefined);
        let killed = 0;
        for (const id of ids) killed += Number(await admin.call('CLIENT', 'KILL', 'ID', id));
        return `CLIENT KILL of ${killed} load connection(s)`;
      }
      case 'failover': {
        const server = this.embedded(fault);
        const mode = fault.mode;
        const primary = await server.failover(mode);
        await this.targets.onPrimaryMoved?.(primary.host, primary.port);
        return `failover ${mode}: the new primary is ${primary.host}:${primary.port}`;
      }
    }
  }
}
