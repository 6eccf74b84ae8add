/**
 * The broken sale services (test/fixtures/http/) under a small concurrent crowd on one SKU, on a
 * private redis-server: each one's damage is really there in Redis and in its answers, and the
 * reference service (src/serve/service.ts) under the same crowd shows none of it.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSaleService, type SaleKeys, type SaleService } from '../../src/serve/service.js';
import { start as ackBeforeScript } from '../fixtures/http/ack-before-script.js';
import { start as duplicateAsOk } from '../fixtures/http/duplicate-as-ok.js';
import { start as readThenWrite } from '../fixtures/http/read-then-write.js';
import { start as retryFreshId } from '../fixtures/http/retry-fresh-id.js';
import { fire, type Deduction, type Reply } from '../helpers/http.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const SOURCE = readFileSync(new URL('../../lua/deduct.lua', import.meta.url), 'utf8');
const SKU = '10010';
const STOCK = 50;
const REQUESTS = 200;

let redis: TestRedis;
let conn: Redis;
let n = 0;
let keys: SaleKeys;
let service: SaleService | undefined;

beforeAll(async () => {
  redis = await startTestRedis();
  conn = new Redis({ host: '127.0.0.1', port: redis.server.port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  conn.on('error', () => {});
  await conn.connect();
});
afterAll(async () => {
  conn?.disconnect();
  await redis?.stop();
});
afterEach(async () => {
  await service?.close();
  service = undefined;
  await redis.client.del(keys.stock(SKU), keys.journal(SKU));
  expect(await redis.client.dbsize()).toBe(0);
});

/** Fresh keys per test, stock seeded (the services never seed). */
async function prepare(stock = STOCK): Promise<SaleKeys> {
  const id = ++n;
  keys = { stock: (sku) => `bt${id}:inv:{${sku}}`, journal: (sku) => `bt${id}:journal:{${sku}}` };
  await redis.client.set(keys.stock(SKU), String(stock));
  return keys;
}

/** REQUESTS distinct IDs, or REQUESTS / 2 IDs each sent twice back to back (concurrent twins). */
function crowd(twins = false): Deduction[] {
  return Array.from({ length: REQUESTS }, (_, i) => ({ sku: SKU, quantity: 1, requestId: `DEC-1-${twins ? i >> 1 : i}` }));
}

interface JournalEntry { from: number; to: number; change: number; by: string }

/** What Redis and the answers say, side by side (a small version of sellout's invariants). */
async function observe(sent: readonly Deduction[], replies: readonly Reply[], initial = STOCK) {
  const stock = Number(await redis.client.get(keys.stock(SKU)));
  const journal = new Map(Object.entries(await redis.client.hgetall(keys.journal(SKU))).map(([id, text]) => [id, JSON.parse(text) as JournalEntry]));
  const okIds = sent.filter((_, i) => replies[i]!.status === 200).map((d) => d.requestId);
  const okCount = new Map<string, number>();
  for (const id of okIds) okCount.set(id, (okCount.get(id) ?? 0) + 1);
  const sentIds = new Set(sent.map((d) => d.requestId));
  const journaled = [...journal.values()].reduce((sum, e) => sum + e.change, 0);
  return {
    stock,
    oks: okIds.length,
    deducted: initial - stock,
    journalEntries: journal.size,
    conservation: initial - stock === journaled,
    /** Acknowledged (200) but not in the journal: a lost acknowledgement. */
    ackedNotJournaled: [...new Set(okIds)].filter((id) => !journal.has(id)).length,
    /** Acknowledged with a stock that is not the journal's `to` for that ID. */
    ackMismatches: sent.filter((d, i) => replies[i]!.status === 200 && journal.has(d.requestId) && journal.get(d.requestId)!.to !== replies[i]!.body.stock).length,
    /** Journal entries under IDs the client never sent: deductions nobody asked for. */
    unexpected: [...journal.keys()].filter((id) => !sentIds.has(id)).length,
    /** IDs acknowledged twice. */
    doubleOk: [...okCount.values()].filter((c) => c > 1).length,
    statuses: replies.reduce<Record<number, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {}),
  };
}

describe('the reference service under the crowd', () => {
  it('distinct IDs: exactly the stock is sold, every 200 journaled with its stock, the rest 410', async () => {
    const k = await prepare();
    service = await startSaleService({ redis: conn, scriptSource: SOURCE, keys: k });
    const sent = crowd();
    const o = await observe(sent, await fire(service.url, sent));
    expect(o).toMatchObject({ stock: 0, oks: STOCK, journalEntries: STOCK, conservation: true, ackedNotJournaled: 0, ackMismatches: 0, unexpected: 0, doubleOk: 0 });
    expect(o.statuses).toEqual({ 200: STOCK, 410: REQUESTS - STOCK });
  });

  it('concurrent twins: one 200 per ID at most, each twin of a 200 answered 409', async () => {
    const k = await prepare();
    service = await startSaleService({ redis: conn, scriptSource: SOURCE, keys: k });
    const sent = crowd(true);
    const o = await observe(sent, await fire(service.url, sent));
    expect(o).toMatchObject({ stock: 0, oks: STOCK, journalEntries: STOCK, conservation: true, ackedNotJournaled: 0, ackMismatches: 0, unexpected: 0, doubleOk: 0 });
    expect(o.statuses).toEqual({ 200: STOCK, 409: STOCK, 410: REQUESTS - 2 * STOCK });
  });
});

describe('broken services: the damage is in Redis', () => {
  it('read-then-write oversells: more 200s than stock, and the journal does not add up to what the stock lost', async () => {
    const k = await prepare();
    service = await readThenWrite({ redis: conn, keys: k, scriptSource: SOURCE });
    const sent = crowd();
    const o = await observe(sent, await fire(service.url, sent));
    expect(o.oks).toBeGreaterThan(STOCK);
    expect(o.journalEntries).toBeGreaterThan(STOCK);
    expect(o.conservation).toBe(false);
  });

  it('retry-with-fresh-id deducts twice: journal entries under IDs never sent, the stock fell by more than was acknowledged', async () => {
    // Stock for everyone: with 50, a retry queued behind the crowd may find the SKU sold out, and
    // how many retries still deduct would depend on timing. With 1000 every 7th deduction's retry does.
    const initial = 1000;
    const k = await prepare(initial);
    service = await retryFreshId({ redis: conn, keys: k, scriptSource: SOURCE });
    const sent = crowd();
    const o = await observe(sent, await fire(service.url, sent), initial);
    const retries = Math.floor(REQUESTS / 7);
    expect(o).toMatchObject({ oks: REQUESTS, unexpected: retries, journalEntries: REQUESTS + retries, deducted: REQUESTS + retries, conservation: true, doubleOk: 0 });
    // The client was told REQUESTS deductions happened; Redis made more, under IDs it never sent.
    expect(o.deducted).toBeGreaterThan(o.oks);
  });

  it('ack-before-script: every request acknowledged, most of them never deducted, and the acks\' stock is not the journal\'s', async () => {
    const k = await prepare();
    service = await ackBeforeScript({ redis: conn, keys: k, scriptSource: SOURCE });
    const sent = crowd();
    const replies = await fire(service.url, sent);
    await service.close(); // waits for the scripts it started
    const o = await observe(sent, replies);
    expect(o.oks).toBe(REQUESTS);
    expect(o.statuses).toEqual({ 200: REQUESTS });
    expect(o.journalEntries).toBe(STOCK);
    expect(o.ackedNotJournaled).toBe(REQUESTS - STOCK);
    expect(o.ackMismatches).toBeGreaterThan(0);
  });

  it('duplicate-as-ok: twins both acknowledged, never a 409, more 200s than deductions', async () => {
    const k = await prepare();
    service = await duplicateAsOk({ redis: conn, keys: k, scriptSource: SOURCE });
    const sent = crowd(true);
    const o = await observe(sent, await fire(service.url, sent));
    expect(o.conservation).toBe(true);
    expect(o.journalEntries).toBe(STOCK);
    expect(o.doubleOk).toBe(STOCK);
    expect(o.statuses[409]).toBeUndefined();
    expect(o.oks).toBe(2 * STOCK);
  });
});
