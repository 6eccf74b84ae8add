/**
 * The server's own view of a command's latency: `LATENCY HISTOGRAM <command>` (Redis >= 7), a
 * cumulative count per power-of-two bucket of microseconds since the server started. The
 * difference of two readings is the step's own histogram, so nothing is reset on a server sellout
 * does not own (CONFIG RESETSTAT would wipe everyone's statistics).
 */
import type { Redis } from 'ioredis';

/** Bucket upper bound (µs) -> cumulative count of calls at most that long. */
export type LatencyBuckets = ReadonlyMap<number, number>;

/** Undefined when the server has no LATENCY HISTOGRAM (Redis < 7) or refuses it (ACL). */
export async function readLatencyHistogram(admin: Redis, command: string): Promise<LatencyBuckets | undefined> {
  try {
    const reply = (await admin.call('LATENCY', 'HISTOGRAM', command)) as unknown;
    return parseLatencyHistogram(reply, command);
  } catch {
    return undefined;
  }
}

/** Reads the reply in either shape ioredis gives (a flat list, or a map as pairs): `[name, [calls, n, histogram_usec, [b, c, ...]]]`. */
export function parseLatencyHistogram(reply: unknown, command: string): LatencyBuckets {
  const flat = (v: unknown): unknown[] => (Array.isArray(v) ? v : v instanceof Map ? [...v.entries()].flat() : typeof v === 'object' && v !== null ? Object.entries(v).flat() : []);
  const top = flat(reply);
  const at = top.findIndex((v) => String(v).toLowerCase() === command.toLowerCase());
  const buckets = new Map<number, number>();
  if (at < 0) return buckets; // never called yet: an empty histogram
  const fields = flat(top[at + 1]);
  const h = flat(fields[fields.findIndex((v) => String(v) === 'histogram_usec') + 1]);
  for (let i = 0; i + 1 < h.length; i += 2) buckets.set(Number(h[i]), Number(h[i + 1]));
  return buckets;
}

/** Calls per bucket between two readings (non-cumulative), in bucket order. */
export function bucketDelta(before: LatencyBuckets | undefined, after: LatencyBuckets): [upperUs: number, calls: number][] {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const cumulative = bounds.map((b) => after.get(b)! - (before === undefined ? 0 : cumulativeAt(before, b)));
  return bounds.map((b, i) => [b, Math.max(0, cumulative[i]! - (i > 0 ? cumulative[i - 1]! : 0))]);
}

/** A reading's cumulative count at bound `b`: that of the largest bucket <= b (buckets appear as calls fill them). */
function cumulativeAt(buckets: LatencyBuckets, b: number): number {
  let best = 0;
  let bestBound = -1;
  for (const [bound, count] of buckets) if (bound <= b && bound > bestBound) { best = count; bestBound = bound; }
  return best;
}

/** The bucket bound holding quantile q (0..1): an upper bound, as precise as a power of two allows. Null without calls. */
export function bucketQuantile(delta: readonly [number, number][], q: number): number | null {
  const total = delta.reduce((n, [, c]) => n + c, 0);
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (const [bound, calls] of delta) {
    seen += calls;
    if (seen >= rank) return bound;
  }
  return delta.at(-1)![0];
}
