/**
 * What one Redis server says it spent, read before and after the load (one reading per shard):
 * CPU seconds from `INFO cpu` and the EVALSHA calls and microseconds from `INFO commandstats`.
 * Best effort, like serverMarks: a server that refuses INFO (ACL, a managed service's renamed
 * command) gives undefined and the run goes on without server figures.
 */
import type { Redis } from 'ioredis';
import { parseInfo } from './index.js';

export interface ServerStats {
  /** used_cpu_user + used_cpu_sys: CPU seconds of the server process since it started (not its children's). */
  readonly cpuSeconds: number;
  /** cmdstat_evalsha calls and usec so far (0 before the first EVALSHA). */
  readonly evalshaCalls: number;
  readonly evalshaUsec: number;
  /** When the reading was taken, milliseconds on this process's monotonic clock (performance.now()). */
  readonly atMs: number;
}

export interface ServerStatsDelta {
  readonly cpuSeconds: number;
  /** Wall seconds between the two readings. */
  readonly wallSeconds: number;
  readonly evalshaCalls: number;
  readonly evalshaUsec: number;
}

export async function readServerStats(admin: Redis): Promise<ServerStats | undefined> {
  try {
    const [cpuText, statsText] = await Promise.all([admin.info('cpu'), admin.info('commandstats')]);
    const atMs = performance.now();
    const cpu = parseInfo(cpuText);
    const user = Number(cpu['used_cpu_user']);
    const sys = Number(cpu['used_cpu_sys']);
    if (!Number.isFinite(user) || !Number.isFinite(sys)) return undefined;
    const evalsha = parseInfo(statsText)['cmdstat_evalsha'] ?? '';
    const field = (name: string) => Number(new RegExp(`(?:^|,)${name}=(\\d+)`).exec(evalsha)?.[1] ?? 0);
    return { cpuSeconds: user + sys, evalshaCalls: field('calls'), evalshaUsec: field('usec'), atMs };
  } catch {
    return undefined;
  }
}

/**
 * What the server spent between two readings; undefined when either is missing or a counter went
 * back (the server restarted, or CONFIG RESETSTAT ran): the difference would mean nothing.
 */
export function serverStatsDelta(before: ServerStats | undefined, after: ServerStats | undefined): ServerStatsDelta | undefined {
  if (before === undefined || after === undefined) return undefined;
  const delta = {
    cpuSeconds: after.cpuSeconds - before.cpuSeconds,
    wallSeconds: (after.atMs - before.atMs) / 1000,
    evalshaCalls: after.evalshaCalls - before.evalshaCalls,
    evalshaUsec: after.evalshaUsec - before.evalshaUsec,
  };
  // CPU times are printed with 6 decimals: allow rounding, not a reset.
  if (delta.cpuSeconds < -1e-3 || delta.evalshaCalls < 0 || delta.evalshaUsec < 0 || delta.wallSeconds <= 0) return undefined;
  return { ...delta, cpuSeconds: Math.max(0, delta.cpuSeconds) };
}
