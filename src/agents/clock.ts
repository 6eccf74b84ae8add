/**
 * An agent's clock against Redis's. Agents on different machines start at one moment taken from
 * Redis TIME, and their times are compared by the real-time checks, so each agent measures how far
 * its clock is from the server's: several TIME round trips, keeping the tightest (its midpoint is
 * the best estimate; half its length bounds the error, as NTP's and Cristian's algorithm do).
 */
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { ThreadClock } from '../load/clock.js';

export interface ClockOffset {
  /** The agent's monotonic clock (the one its threads share, in microseconds) minus Redis TIME: turns Redis's t0 into the agent's. */
  readonly offsetUs: number;
  /** The agent's wall clock minus Redis TIME, microseconds: how far off the machine's clock is (what the report shows). */
  readonly wallOffsetUs: number;
  /** At most this far off: half the tightest round trip, plus TIME's own microsecond. */
  readonly uncertaintyUs: number;
}

export async function measureOffset(admin: Redis, clock: ThreadClock, samples = 16): Promise<ClockOffset> {
  let best: { offsetUs: number; uncertaintyUs: number } | undefined;
  for (let i = 0; i < samples; i++) {
    const before = clock.nowMs();
    const [seconds, micros] = (await admin.time()) as [string | number, string | number];
    const after = clock.nowMs();
    const redisUs = Number(seconds) * 1e6 + Number(micros);
    const uncertaintyUs = ((after - before) * 1000) / 2 + 1;
    if (best === undefined || uncertaintyUs < best.uncertaintyUs) best = { offsetUs: ((before + after) / 2) * 1000 - redisUs, uncertaintyUs };
  }
  // The wall clock as this thread reads it, against the shared monotonic one (same instant, within a microsecond).
  const wallMinusMonoMs = performance.timeOrigin + performance.now() - clock.nowMs();
  return { offsetUs: Math.round(best!.offsetUs), wallOffsetUs: Math.round(best!.offsetUs + wallMinusMonoMs * 1000), uncertaintyUs: Math.ceil(best!.uncertaintyUs) };
}

/** Redis TIME now, microseconds. */
export async function redisNowUs(admin: Redis): Promise<number> {
  const [seconds, micros] = (await admin.time()) as [string | number, string | number];
  return Number(seconds) * 1e6 + Number(micros);
}
