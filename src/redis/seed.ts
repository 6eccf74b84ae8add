/**
 * Creates the run's keys and removes them afterwards. sellout never touches a key it did not
 * create: it refuses to start when any key it would write exists, creates stock with SET NX
 * (so a key appearing meanwhile is not overwritten), and deletes only the keys of its own run.
 * Commands in pipelines, each on the keys of one SKU only (a SKU's stock and journal share a hash
 * tag, so a slot): the same code works across cluster slots later, and a command per SKU rather
 * than per key halves what 100,000 SKUs cost the client.
 */
import type { Redis } from 'ioredis';
import { TargetError } from '../errors.js';
import { journalKey, stockKey } from '../keys.js';
import { pipelineRetrying } from './retry.js';

const BATCH = 1000;

export async function seedStock(admin: Redis, runId: string, skuCount: number, stock: number): Promise<void> {
  const existing = await findExisting(admin, runId, skuCount);
  if (existing.length > 0) {
    throw new TargetError(
      `refusing to overwrite ${existing.length} existing key(s) such as ${existing[0]}: sellout only writes keys it creates`,
      'pick another run (keys are namespaced by run ID) or delete those keys if they are leftovers of an earlier --keep run',
    );
  }
  const created: number[] = [];
  for (let start = 0; start < skuCount; start += BATCH) {
    const end = Math.min(skuCount, start + BATCH);
    const pipeline = admin.pipeline();
    for (let sku = start; sku < end; sku++) pipeline.set(stockKey(runId, sku), String(stock), 'NX');
    const replies = (await pipeline.exec()) ?? [];
    let conflict: string | undefined;
    let refused: { key: string; reply: string } | undefined;
    replies.forEach(([err, reply], i) => {
      if (!err && reply === 'OK') created.push(start + i);
      else if (err) refused ??= { key: stockKey(runId, start + i), reply: err.message.split('\n')[0] ?? String(err) };
      else conflict ??= stockKey(runId, start + i);
    });
    if (refused === undefined && replies.length < end - start) refused = { key: stockKey(runId, start + replies.length), reply: 'no reply (the connection closed)' };
    if (refused !== undefined || conflict !== undefined) {
      await deleteKeys(admin, created.map((sku) => stockKey(runId, sku))).catch(() => {});
      // Name what Redis said: a read-only replica, a cluster redirect or a missing permission is
      // not a key that "appeared", and the fix is different.
      if (refused !== undefined) throw new TargetError(`Redis refused to create the stock key ${refused.key}: ${refused.reply}`, refusalHint(refused.reply));
      throw new TargetError(`refusing to overwrite ${conflict}: it appeared while the run was seeding stock`);
    }
  }
}

function refusalHint(reply: string): string | undefined {
  if (/^READONLY/.test(reply)) return 'point --redis at the primary, not a replica';
  if (/^(MOVED|ASK|CLUSTERDOWN)/.test(reply)) return 'this is a Redis Cluster node: sellout drives a standalone server or the primary of a shard for now';
  if (/^NOPERM/.test(reply)) return "give the Redis user write access to the run's keys (~sellout:*) and the commands sellout needs (see README, \"Redis permissions\")";
  if (/^OOM/.test(reply)) return 'the server is at maxmemory: free memory or raise maxmemory';
  return undefined;
}

/** The run's keys that exist already (up to about 10 of them, to name in the refusal). */
async function findExisting(admin: Redis, runId: string, skuCount: number): Promise<string[]> {
  const found: string[] = [];
  for (let start = 0; start < skuCount && found.length < 10; start += BATCH) {
    const end = Math.min(skuCount, start + BATCH);
    const counts = await existsPerSku(admin, runId, start, end);
    // Rare: say which of a SKU's two keys is there.
    for (let sku = start; sku < end && found.length < 10; sku++) {
      if (counts[sku - start] === 0) continue;
      const keys = [stockKey(runId, sku), journalKey(runId, sku)];
      const each = await Promise.all(keys.map((key) => admin.exists(key)));
      keys.forEach((key, i) => { if (each[i]) found.push(key); });
    }
  }
  return found;
}

/** How many of each SKU's two keys exist, for SKUs start..end-1 (one EXISTS per SKU: its keys share a slot). */
async function existsPerSku(admin: Redis, runId: string, start: number, end: number): Promise<number[]> {
  try {
    const replies = await pipelineRetrying(admin, (pipeline) => {
      for (let sku = start; sku < end; sku++) pipeline.exists(stockKey(runId, sku), journalKey(runId, sku));
    });
    return replies.map(([, reply]) => Number(reply));
  } catch (err) {
    throw new TargetError(`could not check the run's keys: ${(err as Error).message.split('\n')[0]}`);
  }
}

export interface Cleanup {
  /** Keys of this run still in Redis after cleanup (0 when everything was removed). */
  readonly keysLeft: number;
  /** Why some were left, when they were. */
  readonly error?: string;
}

/**
 * Deletes this run's stock and journal keys (UNLINK: a big journal is freed in the background),
 * then checks that none is left: a cleanup that failed half-way must not read as done.
 */
export async function removeRunKeys(admin: Redis, runId: string, skuCount: number): Promise<Cleanup> {
  let error: string | undefined;
  try {
    for (let start = 0; start < skuCount; start += BATCH) {
      const end = Math.min(skuCount, start + BATCH);
      await pipelineRetrying(admin, (pipeline) => {
        for (let sku = start; sku < end; sku++) pipeline.unlink(stockKey(runId, sku), journalKey(runId, sku));
      });
    }
  } catch (err) {
    error = (err as Error).message.split('\n')[0];
    // A server that did not answer the deletes will not answer the check either: say so now.
    if (/Command timed out/.test(error ?? '')) return { keysLeft: -1, error: `no answer from Redis (${error})` };
  }
  let keysLeft = 0;
  try {
    for (let start = 0; start < skuCount; start += BATCH) {
      keysLeft += (await existsPerSku(admin, runId, start, Math.min(skuCount, start + BATCH))).reduce((a, b) => a + b, 0);
    }
  } catch (err) {
    // Could not even look: count every key as possibly left.
    error ??= (err as Error).message.split('\n')[0];
    keysLeft = 2 * skuCount;
  }
  return keysLeft > 0 ? { keysLeft, error: error ?? 'the keys were still there after UNLINK' } : { keysLeft: 0 };
}

async function deleteKeys(admin: Redis, keys: readonly string[]): Promise<void> {
  for (let start = 0; start < keys.length; start += BATCH) {
    await pipelineRetrying(admin, (pipeline) => {
      for (const key of keys.slice(start, start + BATCH)) pipeline.unlink(key);
    });
  }
}
