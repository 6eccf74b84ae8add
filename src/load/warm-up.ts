/**
 * Warm-up before t0: each worker sends a few thousand deductions through its own connections on
 * keys of its own, outside the run's SKUs (`sellout:<run>:warmup:…`), before it reports ready. The
 * hot path (encoding, parsing, the JIT's first compilations, the server's first script calls) is
 * then warm when the timed load starts, so the first replies of a run are not its slowest. The
 * warm-up keys are not counted, not verified, and removed after the load.
 */
import type { Redis } from 'ioredis';
import { warmUpJournalKey, warmUpStockKey } from '../keys.js';
import { keySlot } from '../redis/slot.js';
import type { Topology } from '../redis/topology.js';

/** Deductions each worker sends before t0 (split over its connections). */
export const WARM_UP_PER_WORKER = 2000;
/** The warm-up gives up after this long (or timeoutMs, if shorter): it must never hold the run. */
export const WARM_UP_MAX_MS = 2000;
/** Stock of a warm-up key: more than any warm-up can take (14 digits: what lua/deduct.lua handles). */
const WARM_UP_STOCK = '90000000000000';

export interface WarmUpKeys {
  readonly stockKey: string;
  readonly journalKey: string;
}

/**
 * The warm-up keys of each worker, one pair per shard (`[worker][shard]`): in a cluster each pair's
 * hash tag is one that lands on that shard, so every connection warms up against its own primary.
 */
export function warmUpKeys(runId: string, workers: number, topology: Pick<Topology, 'cluster' | 'shards' | 'slotOwner'>): WarmUpKeys[][] {
  return Array.from({ length: workers }, (_, w) => topology.shards.map((_shard, s) => {
    let tag = `w${w}`;
    for (let n = 0; topology.cluster && topology.slotOwner[keySlot(`{${tag}}`)] !== s; n++) tag = `w${w}-${n}`;
    return { stockKey: warmUpStockKey(runId, tag), journalKey: warmUpJournalKey(runId, tag) };
  }));
}

/**
 * Creates the warm-up stock keys (SET NX: never over a key that exists). Returns false, having
 * created nothing that stays, when that is not possible: the run then goes without a warm-up.
 */
export async function seedWarmUp(admin: Redis, keys: readonly WarmUpKeys[]): Promise<boolean> {
  try {
    const pipeline = admin.pipeline();
    for (const k of keys) pipeline.set(k.stockKey, WARM_UP_STOCK, 'NX');
    const replies = (await pipeline.exec()) ?? [];
    if (replies.length === keys.length && replies.every(([err, reply]) => !err && reply === 'OK')) return true;
    await removeWarmUp(admin, keys.filter((_, i) => replies[i]?.[1] === 'OK'));
    return false;
  } catch {
    return false;
  }
}

/** Removes the warm-up keys (best effort: they are namespaced by the run and small). */
export async function removeWarmUp(admin: Redis, keys: readonly WarmUpKeys[]): Promise<void> {
  if (keys.length === 0) return;
  const pipeline = admin.pipeline();
  for (const k of keys) pipeline.unlink(k.stockKey, k.journalKey);
  await pipeline.exec().catch(() => undefined);
}
