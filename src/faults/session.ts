/**
 * The faults of one run, from the load's start to the verification: what the load needs to ride
 * them out (longer reconnects, named connections for client-kill, the t0 hook that schedules them),
 * where the primary is after a failover, and which of them were crashes (durability).
 */
import type { Redis } from 'ioredis';
import type { LoadRequest } from '../load/coordinator.js';
import type { FaultEvent } from '../metrics/faults.js';
import type { Target } from '../redis/index.js';
import type { RedisEndpoint } from '../redis/url.js';
import type { Fault } from '../scenario/faults.js';
import type { Crash } from '../verify/durability.js';
import { FaultRunner } from './runner.js';

/** Reconnecting after a fault gets this long past the fault's own span (a restart loads its data first). */
const RECONNECT_MARGIN_MS = 5000;

export class FaultSession {
  private readonly runner: FaultRunner;
  private moved: RedisEndpoint | undefined;
  private retarget: ((endpoint: RedisEndpoint, reason: string) => void) | undefined;

  private constructor(
    private readonly faults: readonly Fault[],
    target: Pick<Target, 'embedded' | 'endpoint'>,
    admin: () => Redis,
    private readonly clientName: string,
  ) {
    this.runner = new FaultRunner(faults, {
      embedded: target.embedded,
      admin,
      loadClientName: clientName,
      onPrimaryMoved: (host, port) => {
        this.moved = { ...target.endpoint, host, port };
        this.retarget?.(this.moved, `failover: the primary moved to ${host}:${port}`);
      },
    });
  }

  /** Undefined for a run without faults (nothing changes for it). */
  static create(faults: readonly Fault[], target: Pick<Target, 'embedded' | 'endpoint'>, admin: () => Redis, runId: string): FaultSession | undefined {
    return faults.length === 0 ? undefined : new FaultSession(faults, target, admin, `sellout-load-${runId}`);
  }

  /** What driveLoad needs for these faults. */
  loadOptions(timeoutMs: number): Pick<LoadRequest, 'clientName' | 'reconnectWindowMs' | 'onStart'> {
    const spans = this.faults.map((f) => (f.action === 'kill' ? f.restartAfter ?? 0 : f.action === 'pause' || f.action === 'client-pause' ? f.duration : 0));
    return {
      ...(this.faults.some((f) => f.action === 'client-kill') ? { clientName: this.clientName } : {}),
      // A connection the fault dropped keeps trying until the server is back: a restart, a resume.
      reconnectWindowMs: Math.max(Math.min(timeoutMs, 2000), ...spans) + RECONNECT_MARGIN_MS,
      onStart: (t0, clock, control) => {
        this.retarget = (endpoint, reason) => control.retarget(0, endpoint, reason);
        this.runner.start(t0, clock);
      },
    };
  }

  /** The load is over: every fault's event (those not run say why). */
  finish(): Promise<FaultEvent[]> {
    return this.runner.finish();
  }

  /** Where the primary is now, when a failover moved it. */
  get primaryMoved(): RedisEndpoint | undefined {
    return this.moved;
  }
}

/** The faults after which acknowledged deductions may be gone (a kill, a failover), for durability. */
export function crashesOf(events: readonly FaultEvent[], faults: readonly Fault[]): Crash[] {
  const crashes: Crash[] = [];
  for (const event of events) {
    if (event.failed !== undefined && event.detail === undefined) continue;
    const fault = faults[event.index];
    if (fault?.action === 'kill') crashes.push({ atMs: event.startedMs, untilMs: event.endedMs, what: fault.restartAfter === undefined ? 'kill -9' : 'kill -9 and restart' });
    else if (fault?.action === 'failover') crashes.push({ atMs: event.startedMs, untilMs: event.endedMs, what: `${fault.mode} failover`, failover: fault.mode });
  }
  return crashes;
}
