/**
 * Creates the run's keys and removes them afterwards. sellout never touches a key it did not
 * create: it refuses to start when any key it would write exists, creates stock with SET NX
 * (so a key appearing meanwhile is not overwritten), and deletes only the keys of its own run.
 * Single-key commands in pipelines, so the same code works across cluster slots later.
 */
import type { Redis } from 'ioredis';
import { TargetError } from '../errors.js';
import { journalKey, stockKey } from '../keys.js';

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
    replies.forEach(([err, reply], i) => {
      if (!err && reply === 'OK') created.push(start + i);
      else conflict ??= stockKey(runId, start + i);
    });
    if (conflict !== undefined) {
      await deleteKeys(admin, created.map((sku) => stockKey(runId, sku)));
      throw new TargetError(`refusing to overwrite ${conflict}: it appeared while the run was seeding stock`);
    }
  }
}

async function findExisting(admin: Redis, runId: string, skuCount: number): Promise<string[]> {
  const found: string[] = [];
  for (let start = 0; start < skuCount && found.length < 10; start += BATCH) {
    const end = Math.min(skuCount, start + BATCH);
    const keys: string[] = [];
    for (let sku = start; sku < end; sku++) keys.push(stockKey(runId, sku), journalKey(runId, sku));
    const pipeline = admin.pipeline();
    for (const key of keys) pipeline.exists(key);
    const replies = (await pipeline.exec()) ?? [];
    replies.forEach(([, reply], i) => { if (reply === 1) found.push(keys[i]!); });
  }
  return found;
}

/** Deletes this run's stock and journal keys (UNLINK: a big journal is freed in the background). */
export async function removeRunKeys(admin: Redis, runId: string, skuCount: number): Promise<void> {
  const keys: string[] = [];
  for (let sku = 0; sku < skuCount; sku++) keys.push(stockKey(runId, sku), journalKey(runId, sku));
  await deleteKeys(admin, keys);
}

async function deleteKeys(admin: Redis, keys: readonly string[]): Promise<void> {
  for (let start = 0; start < keys.length; start += BATCH) {
    const pipeline = admin.pipeline();
    for (const key of keys.slice(start, start + BATCH)) pipeline.unlink(key);
    await pipeline.exec();
  }
}
