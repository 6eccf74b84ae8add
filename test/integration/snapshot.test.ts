/** takeSnapshot against a real redis-server: HSCAN in batches, every entry once, odd entries kept as evidence. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journalKey, requestIdPrefix, stockKey } from '../../src/keys.js';
import { addEntry, dropRepeats, newJournal, takeSnapshot } from '../../src/verify/snapshot.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

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
    const snap = await takeSnapshot(redis.client, run, 3, seed);
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
