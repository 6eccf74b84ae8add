/**
 * Creates the run's keys and removes them afterwards. sellout never touches a key it did not
 * create: it refuses to start when any key it would write exists, creates stock with SET NX
 * (so a key appearing meanwhile is not overwritten), and deletes only the keys of its own run.
 * Each shard's keys go to that shard (shards.ts), all shards in parallel; commands go in
 * pipelines, each on the keys of one SKU only (a SKU's stock and journal share a slot), so a
 * command per SKU rather than per key halves what 100,000 SKUs cost the client. On a standalone
 * server, where no command can cross a slot, EXISTS and UNLINK take a whole batch's keys at once:
 * a command per thousand SKUs, not per SKU (the same commands, so the same permissions).
 */
import type { Redis } from 'ioredis';
import { TargetError } from '../errors.js';
import type { RunKeys } from '../keys.js';
import { pipelineRetrying } from './retry.js';
import { onShard, passesOf, passKeys, type ShardPass, type ShardSet } from './shards.js';

const BATCH = 1000;

export async function seedStock(shards: ShardSet, stock: number): Promise<void> {
  const { keys } = shards;
  const existing = (await Promise.all(shards.admins.map((admin, shard) => findExisting(shards, shard))))
    .flat()
    .sort((a, b) => a.sku - b.sku || a.kind - b.kind);
  if (existing.length > 0) {
    throw new TargetError(
      `refusing to overwrite ${existing.length} existing key(s) such as ${existing[0]!.key}: sellout only writes keys it creates`,
      'pick another run (keys are namespaced by run ID) or delete those keys if they are leftovers of an earlier --keep run',
    );
  }
  const created: number[][] = shards.admins.map(() => []);
  /** The first shard to fail stops the others after their batch in flight; what every shard created is then removed. */
  let failure: TargetError | undefined;
  await Promise.all(shards.admins.map(async (admin, shard) => {
    const skus = shards.skus[shard]!;
    for (let start = 0; start < skus.length && failure === undefined; start += BATCH) {
      const batch = skus.subarray(start, Math.min(skus.length, start + BATCH));
      let replies: [Error | null, unknown][];
      try {
        const pipeline = admin.pipeline();
        for (const sku of batch) pipeline.set(keys.stock(sku), String(stock), 'NX');
        replies = (await pipeline.exec()) ?? [];
      } catch (err) {
        replies = [[err as Error, null]];
      }
      let conflict: string | undefined;
      let refused: { key: string; reply: string } | undefined;
      replies.forEach(([err, reply], i) => {
        if (!err && reply === 'OK') created[shard]!.push(batch[i]!);
        else if (err) refused ??= { key: keys.stock(batch[i]!), reply: err.message.split('\n')[0] ?? String(err) };
        else conflict ??= keys.stock(batch[i]!);
      });
      if (refused === undefined && replies.length < batch.length) refused = { key: keys.stock(batch[replies.length]!), reply: 'no reply (the connection closed)' };
      // Name what Redis said: a read-only replica, a slot that moved or a missing permission is
      // not a key that "appeared", and the fix is different.
      if (refused !== undefined) failure ??= new TargetError(`Redis${onShard(shards, shard)} refused to create the stock key ${refused.key}: ${refused.reply}`, refusalHint(refused.reply, keys));
      else if (conflict !== undefined) failure ??= new TargetError(`refusing to overwrite ${conflict}: it appeared while the run was seeding stock`);
    }
  }));
  if (failure !== undefined) {
    await Promise.all(shards.admins.map((admin, shard) => deleteKeys(admin, created[shard]!.map((sku) => keys.stock(sku))).catch(() => {})));
    throw failure;
  }
}

function refusalHint(reply: string, keys: RunKeys): string | undefined {
  if (/^READONLY/.test(reply)) return 'point --redis at the primary, not a replica';
  if (/^(MOVED|ASK)/.test(reply)) return 'the cluster\'s slots moved after sellout read its slot map (a resharding or a failover while the run was setting up): run again once the slots stay put';
  if (/^CLUSTERDOWN/.test(reply)) return 'the cluster is down (CLUSTER INFO: cluster_state): run again once it says cluster_state:ok';
  if (/^NOPERM/.test(reply)) return `give the Redis user write access to the run's keys (~${keys.pattern}) and the commands sellout needs (see README, "Redis permissions")`;
  if (/^OOM/.test(reply)) return 'the server is at maxmemory: free memory or raise maxmemory';
  return undefined;
}

/** The run's keys on one shard that exist already (up to about 10 of them, to name in the refusal). */
async function findExisting(shards: ShardSet, shard: number): Promise<{ sku: number; kind: number; key: string }[]> {
  const admin = shards.admins[shard]!;
  const found: { sku: number; kind: number; key: string }[] = [];
  for (const pass of passesOf(shards, shard)) {
    for (let start = 0; start < pass.skus.length && found.length < 10; start += BATCH) {
      const batch = pass.skus.subarray(start, Math.min(pass.skus.length, start + BATCH));
      // The usual answer is none: on a standalone server one count for the batch, and SKU by SKU
      // only when there is one (in a cluster the count is SKU by SKU already: no second round).
      if (!shards.topology.cluster && (await existsCount(shards, shard, pass, batch)) === 0) continue;
      const counts = await existsPerSku(shards, shard, pass, batch);
      // Rare: say which of a SKU's keys is there.
      for (let i = 0; i < batch.length && found.length < 10; i++) {
        if (counts[i] === 0) continue;
        const sku = batch[i]!;
        const named = passKeys(shards.keys, pass, sku);
        const each = await Promise.all(named.map((key) => admin.exists(key)));
        named.forEach((key, k) => { if (each[k]) found.push({ sku, kind: key === shards.keys.stock(sku) ? 0 : 1, key }); });
      }
    }
  }
  return found;
}

/** Every key of the SKUs of `batch` in a pass (one command's worth on a standalone server). */
function batchKeys(shards: ShardSet, pass: ShardPass, batch: Uint32Array): string[] {
  const out: string[] = [];
  for (const sku of batch) out.push(...passKeys(shards.keys, pass, sku));
  return out;
}

/** How many of the keys of the SKUs in `batch` exist on the shard: one EXISTS on a standalone server, one per SKU in a cluster. */
async function existsCount(shards: ShardSet, shard: number, pass: ShardPass, batch: Uint32Array): Promise<number> {
  if (shards.topology.cluster) return (await existsPerSku(shards, shard, pass, batch)).reduce((a, b) => a + b, 0);
  try {
    const replies = await pipelineRetrying(shards.admins[shard]!, (pipeline) => { pipeline.exists(...batchKeys(shards, pass, batch)); });
    return Number(replies[0]?.[1] ?? 0);
  } catch (err) {
    throw new TargetError(`could not check the run's keys${onShard(shards, shard)}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** How many of each SKU's keys in `batch` exist on the shard (one EXISTS per SKU: its keys share a slot). */
async function existsPerSku(shards: ShardSet, shard: number, pass: ShardPass, batch: Uint32Array): Promise<number[]> {
  try {
    const replies = await pipelineRetrying(shards.admins[shard]!, (pipeline) => {
      for (const sku of batch) pipeline.exists(...passKeys(shards.keys, pass, sku));
    });
    return replies.map(([, reply]) => Number(reply));
  } catch (err) {
    throw new TargetError(`could not check the run's keys${onShard(shards, shard)}: ${(err as Error).message.split('\n')[0]}`);
  }
}

export interface Cleanup {
  /** Keys of this run still in Redis after cleanup (0 when everything was removed; -1 when unknown). */
  readonly keysLeft: number;
  /** Why some were left, when they were. */
  readonly error?: string;
}

/**
 * Deletes this run's stock and journal keys on every primary (UNLINK: a big journal is freed in
 * the background), then checks that none is left: a cleanup that failed half-way must not read as
 * done.
 */
export async function removeRunKeys(shards: ShardSet): Promise<Cleanup> {
  const results = await Promise.all(shards.admins.map((_, shard) => removeOnShard(shards, shard)));
  const unknown = results.find((r) => r.keysLeft < 0);
  if (unknown !== undefined) return unknown;
  const keysLeft = results.reduce((a, r) => a + r.keysLeft, 0);
  const error = results.find((r) => r.error !== undefined)?.error;
  return keysLeft > 0 ? { keysLeft, error: error ?? 'the keys were still there after UNLINK' } : { keysLeft: 0 };
}

async function removeOnShard(shards: ShardSet, shard: number): Promise<Cleanup> {
  const admin = shards.admins[shard]!;
  const passes = passesOf(shards, shard);
  let error: string | undefined;
  try {
    for (const pass of passes) {
      for (let start = 0; start < pass.skus.length; start += BATCH) {
        const batch = pass.skus.subarray(start, Math.min(pass.skus.length, start + BATCH));
        await pipelineRetrying(admin, (pipeline) => {
          if (!shards.topology.cluster) pipeline.unlink(...batchKeys(shards, pass, batch));
          else for (const sku of batch) pipeline.unlink(...passKeys(shards.keys, pass, sku));
        });
      }
    }
  } catch (err) {
    error = `${(err as Error).message.split('\n')[0]}${onShard(shards, shard)}`;
    // A server that did not answer the deletes will not answer the check either: say so now.
    if (/Command timed out/.test(error)) return { keysLeft: -1, error: `no answer from Redis${onShard(shards, shard)} (${error})` };
  }
  let keysLeft = 0;
  try {
    for (const pass of passes) {
      for (let start = 0; start < pass.skus.length; start += BATCH) {
        const batch = pass.skus.subarray(start, Math.min(pass.skus.length, start + BATCH));
        keysLeft += await existsCount(shards, shard, pass, batch);
      }
    }
  } catch (err) {
    // Could not even look: count every key of the shard as possibly left.
    error ??= (err as Error).message.split('\n')[0];
    keysLeft = passes.reduce((a, pass) => a + pass.skus.length * ((pass.stock ? 1 : 0) + (pass.journal ? 1 : 0)), 0);
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
