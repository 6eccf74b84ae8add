/**
 * takeSnapshot against a real redis-server: HSCAN in batches, every entry once, odd entries kept as
 * evidence; pipelined across 100,000 SKUs it reads what a plain one-SKU-at-a-time reader reads,
 * and a connection dropped in the middle is asked again.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journalKey, requestIdPrefix, stockKey } from '../../src/keys.js';
import { connectAdmin } from '../../src/redis/index.js';
import { addEntry, dropRepeats, newJournal, takeSnapshot, type Snapshot } from '../../src/verify/snapshot.js';
import { runShards, startTestRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
beforeAll(async () => { redis = await startTestRedis(); });
afterAll(async () => { await redis?.stop(); });

describe('takeSnapshot', () => {
  it('reads a journal bigger than one HSCAN batch, stock per SKU, foreign and unparsable entries', async () => {
    const run = 'snap1';
    const seed = 3;
    const n = 2500; // > SCAN_COUNT and far past listpack size: several HSCAN calls
    const fields: string[] = [];
    for (let i = 0; i < n; i++) {
      const from = 10_000 - i;
      fields.push(`DEC-3-${i}`, JSON.stringify({ action: 'decrease', from, to: from - 1, change: 1, by: `DEC-3-${i}`, timestamp: 1 }));
    }
    await redis.client.hset(journalKey(run, 0), ...fields);
    await redis.client.hset(journalKey(run, 1), 'ORDER-9', '{"from":5,"to":4,"change":1,"by":"ORDER-9"}', 'DEC-3-7000', 'not json');
    await redis.client.set(stockKey(run, 0), String(10_000 - n));
    await redis.client.set(stockKey(run, 1), '4.5');
    // SKU 2 has neither stock nor journal.
    const snap = await takeSnapshot(runShards(redis.client, run, 3), seed);
    expect(snap.journal.count).toBe(n + 2);
    expect(Array.from(snap.journalLength)).toEqual([n, 2, 0]);
    expect(snap.finalRaw).toEqual([String(10_000 - n), '4.5', null]);
    expect(snap.final[0]).toBe(10_000 - n);
    expect(Number.isNaN(snap.final[1]!)).toBe(true);
    const seen = new Uint8Array(n);
    let changes = 0;
    for (let row = 0; row < snap.journal.count; row++) {
      if (snap.journal.sku[row] !== 0) continue;
      const index = snap.journal.index[row]!;
      seen[index]!++;
      expect(snap.journal.from[row]).toBe(10_000 - index);
      expect(snap.journal.byMatches[row]).toBe(1);
      changes += snap.journal.change[row]!;
    }
    expect(seen.every((x) => x === 1)).toBe(true);
    expect(changes).toBe(n);
    expect([...snap.journal.foreign.values()]).toEqual(['ORDER-9']);
    expect([...snap.journal.unparsable.values()]).toEqual(['not json']);
  });
});

describe('takeSnapshot of 100,000 SKUs', () => {
  const run = 'snapmany';
  const seed = 4;
  const SKUS = 100_000;
  /** Journal entries per SKU: mostly a few, some past the first HSCAN page, one past several pages. */
  const entriesOf = (sku: number) => (sku === 7 ? 2500 : sku % 10_000 === 3 ? 150 : sku % 4);
  const entry = (sku: number, i: number) => {
    const id = `DEC-${seed}-${sku * 3000 + i}`;
    const from = 5000 - i;
    // No timestamp: the snapshot keeps only what the checks read (from, to, change, by).
    return [id, JSON.stringify({ action: 'decrease', from, to: from - 1, change: 1, by: id })] as const;
  };
  let total = 0;

  beforeAll(async () => {
    for (let start = 0; start < SKUS; start += 1000) {
      const p = redis.client.pipeline();
      for (let sku = start; sku < start + 1000; sku++) {
        // SKU 11's stock key is missing; SKU 13's is not an integer.
        if (sku !== 11) p.set(stockKey(run, sku), sku === 13 ? 'nan' : String(5000 - entriesOf(sku)));
        const n = entriesOf(sku);
        if (n > 0) p.hset(journalKey(run, sku), ...Array.from({ length: n }, (_, i) => entry(sku, i)).flat());
        total += n;
      }
      await p.exec();
    }
    await redis.client.hset(journalKey(run, 99_999), 'ORDER-1', 'not json');
    total++;
  }, 120_000);
  afterAll(async () => {
    for (let start = 0; start < SKUS; start += 1000) {
      const p = redis.client.pipeline();
      for (let sku = start; sku < start + 1000; sku++) p.unlink(stockKey(run, sku), journalKey(run, sku));
      await p.exec();
    }
  });

  /** One SKU read the plain way: GET, HLEN, HGETALL (fine for a test's small journals). */
  async function reference(client: Redis, sku: number) {
    const [stock, length, hash] = await Promise.all([client.get(stockKey(run, sku)), client.hlen(journalKey(run, sku)), client.hgetall(journalKey(run, sku))]);
    return { stock, length, entries: Object.entries(hash).map(([id, json]) => `${id} ${json}`).sort() };
  }

  /** The same SKU as the snapshot has it. */
  function fromSnapshot(snap: Snapshot, sku: number) {
    const prefix = requestIdPrefix(seed);
    const j = snap.journal;
    const entries: string[] = [];
    for (let row = 0; row < j.count; row++) {
      if (j.sku[row] !== sku) continue;
      const id = j.index[row]! >= 0 ? `${prefix}${j.index[row]}` : j.foreign.get(row)!;
      entries.push(j.unparsable.has(row)
        ? `${id} ${j.unparsable.get(row)}`
        : `${id} ${JSON.stringify({ action: 'decrease', from: j.from[row], to: j.to[row], change: j.change[row], by: j.byMatches[row] ? id : '?' })}`);
    }
    return { stock: snap.finalRaw[sku], length: snap.journalLength[sku], entries: entries.sort() };
  }

  it('reads what a sequential reader reads, on a sample and in total', async () => {
    const snap = await takeSnapshot(runShards(redis.client, run, SKUS), seed);
    expect(snap.journal.count).toBe(total);
    expect(Array.from(snap.journalLength).reduce((a, b) => a + b, 0)).toBe(total);
    const sample = [0, 3, 7, 11, 13, 10_003, 50_003, 99_998, 99_999];
    for (let i = 0; i < 200; i++) sample.push((i * 7919 + 13) % SKUS);
    for (const sku of sample) expect(fromSnapshot(snap, sku), `SKU ${sku}`).toEqual(await reference(redis.client, sku));
    expect(Number.isNaN(snap.final[13]!)).toBe(true);
    expect(snap.final[7]).toBe(2500);
  }, 120_000);

  it('asks a round again when its connection is dropped in the middle, and reads everything once', async () => {
    const endpoint = { host: redis.server.host, port: redis.server.port, db: 0, tls: false };
    // A short command timeout: a read in flight when the connection closed waits for it before it is asked again.
    const admin = await connectAdmin(endpoint, 3000, 1000);
    let reconnects = 0;
    admin.on('reconnecting', () => { reconnects++; });
    try {
      const id = Number(await admin.client('ID'));
      const reading = takeSnapshot(runShards(admin, run, SKUS), seed);
      await new Promise((r) => setTimeout(r, 150));
      await redis.client.call('CLIENT', 'KILL', 'ID', String(id));
      const snap = await reading;
      expect(reconnects).toBeGreaterThan(0);
      expect(snap.journal.count).toBe(total);
      for (const sku of [0, 7, 10_003, 99_999]) expect(fromSnapshot(snap, sku), `SKU ${sku}`).toEqual(await reference(redis.client, sku));
    } finally {
      admin.disconnect();
    }
  }, 120_000);
});

describe('dropRepeats', () => {
  it('keeps the first row of each request ID of the given SKUs, with its evidence, wherever their rows are', () => {
    const prefix = requestIdPrefix(1);
    const j = newJournal(2);
    addEntry(j, 0, 'DEC-1-0', '{"from":3,"to":2,"change":1,"by":"DEC-1-0"}', prefix);
    addEntry(j, 1, 'DEC-1-1', '{"from":9,"to":8,"change":1,"by":"DEC-1-1"}', prefix);
    addEntry(j, 1, 'X', 'oops', prefix);
    addEntry(j, 0, 'DEC-1-0', '{"from":3,"to":2,"change":1,"by":"DEC-1-0"}', prefix); // SKU 0 is not in question: kept
    addEntry(j, 2, 'DEC-1-1', '{"from":5,"to":4,"change":1,"by":"DEC-1-1"}', prefix); // the same ID in another SKU: kept
    addEntry(j, 1, 'DEC-1-1', '{"from":9,"to":8,"change":1,"by":"DEC-1-1"}', prefix);
    addEntry(j, 1, 'X', 'oops', prefix);
    addEntry(j, 1, 'DEC-1-2', '{"from":8,"to":7,"change":1,"by":"DEC-1-2"}', prefix);
    dropRepeats(j, prefix, new Set([1, 2]));
    expect(j.count).toBe(6);
    expect(Array.from(j.sku.subarray(0, j.count))).toEqual([0, 1, 1, 0, 2, 1]);
    expect(Array.from(j.index.subarray(0, j.count))).toEqual([0, 1, -1, 0, 1, 2]);
    expect(Array.from(j.from.subarray(0, j.count))).toEqual([3, 9, NaN, 3, 5, 8]);
    expect([...j.foreign]).toEqual([[2, 'X']]);
    expect([...j.unparsable]).toEqual([[2, 'oops']]);
  });
});
