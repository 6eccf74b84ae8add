/**
 * Pins every reply of both scripts on a real redis-server: lua/deduct.lua (ours) and
 * lua/seed-deduct.lua (the published script, flaws included, so users can see them). Redis 7
 * prefixes "ERR " to an all-caps code but not to "current value is not a number": we pin both.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const ours = readFileSync(new URL('../../lua/deduct.lua', import.meta.url), 'utf8');
const seed = readFileSync(new URL('../../lua/seed-deduct.lua', import.meta.url), 'utf8');

let redis: TestRedis;
let n = 0;
beforeAll(async () => { redis = await startTestRedis(); });
afterAll(async () => { await redis?.stop(); });

/** Fresh keys per call; returns the reply (or the error text) and what Redis holds afterwards. */
async function deduct(script: string, stock: string | null, quantity: string, options: { id?: string; journalFirst?: boolean } = {}) {
  const stockKey = `t:${++n}:inv:{${n}}`;
  const journalKey = `t:${n}:journal:{${n}}`;
  const id = options.id ?? `REQ-${n}`;
  if (stock !== null) await redis.client.set(stockKey, stock);
  const call = async () => {
    try {
      return { reply: (await redis.client.eval(script, 2, stockKey, journalKey, quantity, id)) as number };
    } catch (err) {
      return { error: (err as Error).message };
    }
  };
  const first = await call();
  return {
    ...first,
    again: call,
    stock: await redis.client.get(stockKey),
    journal: await redis.client.hgetall(journalKey),
    entry: async () => JSON.parse((await redis.client.hget(journalKey, id)) ?? 'null') as Record<string, unknown> | null,
  };
}

describe('lua/deduct.lua', () => {
  it('deducts, replies the new stock as an integer and journals one decrease', async () => {
    const r = await deduct(ours, '10', '3');
    expect(r.reply).toBe(7);
    expect(r.stock).toBe('7');
    const entry = await r.entry();
    expect(entry).toMatchObject({ action: 'decrease', from: 10, to: 7, change: 3 });
    expect(entry?.['by']).toMatch(/^REQ-/);
    expect(typeof entry?.['timestamp']).toBe('number');
    expect(Math.abs((entry!['timestamp'] as number) - Date.now())).toBeLessThan(60_000);
  });

  it('sells the last unit down to 0', async () => {
    const r = await deduct(ours, '3', '3');
    expect(r.reply).toBe(0);
    expect(r.stock).toBe('0');
  });

  it('rejects a request ID already in the journal, without a second deduction', async () => {
    const r = await deduct(ours, '10', '2');
    const again = await r.again();
    expect(again.error).toBe('ERR OPERATION_ALREADY_EXECUTED');
    expect(Object.keys(r.journal)).toHaveLength(1);
  });

  it('answers KEY_NOT_FOUND for a missing stock key and writes nothing', async () => {
    const r = await deduct(ours, null, '1');
    expect(r.error).toBe('ERR KEY_NOT_FOUND');
    expect(r.stock).toBeNull();
    expect(r.journal).toEqual({});
  });

  it('answers "current value is not a number" for a non-integer stock', async () => {
    for (const stock of ['abc', '9.5', '1e3', '']) {
      const r = await deduct(ours, stock, '1');
      expect(r.error, stock).toBe('current value is not a number');
      expect(r.stock).toBe(stock);
      expect(r.journal).toEqual({});
    }
  });

  it('answers INVENTORY_NOT_ENOUGH when stock < quantity and writes nothing', async () => {
    const r = await deduct(ours, '2', '3');
    expect(r.error).toBe('ERR INVENTORY_NOT_ENOUGH');
    expect(r.stock).toBe('2');
    expect(r.journal).toEqual({});
  });

  it('answers INVALID_QUANTITY for anything but a positive integer, with nothing written', async () => {
    for (const quantity of ['-5', '0', '0.5', 'nan', 'inf', '-inf', 'abc', '', '1e3', '007', ' 1', '123456789012345']) {
      const r = await deduct(ours, '10', quantity);
      expect(r.error, quantity).toBe('ERR INVALID_QUANTITY');
      expect(r.stock, quantity).toBe('10');
      expect(r.journal, quantity).toEqual({});
    }
  });

  it('keeps 14-digit stock exact and refuses wider stock instead of rounding it', async () => {
    const r = await deduct(ours, '99999999999999', '1');
    expect(r.reply).toBe(99999999999998);
    expect(r.stock).toBe('99999999999998');
    expect(await r.entry()).toMatchObject({ from: 99999999999999, to: 99999999999998 });
    const wide = await deduct(ours, '999999999999999', '1');
    expect(wide.error).toBe('ERR STOCK_OUT_OF_RANGE');
    expect(wide.stock).toBe('999999999999999');
  });
});

describe('lua/seed-deduct.lua (the published script, flaws pinned)', () => {
  it('deducts like ours for a positive integer, but journals action "increase" with from/change as strings', async () => {
    const r = await deduct(seed, '10', '3');
    expect(r.reply).toBe(7);
    expect(r.stock).toBe('7');
    expect(await r.entry()).toMatchObject({ action: 'increase', from: '10', to: 7, change: '3' });
  });

  it('has the same duplicate, missing-key, not-a-number and sold-out replies', async () => {
    const dup = await deduct(seed, '10', '1');
    expect((await dup.again()).error).toBe('ERR OPERATION_ALREADY_EXECUTED');
    expect((await deduct(seed, null, '1')).error).toBe('ERR KEY_NOT_FOUND');
    expect((await deduct(seed, 'abc', '1')).error).toBe('current value is not a number');
    expect((await deduct(seed, '2', '3')).error).toBe('ERR INVENTORY_NOT_ENOUGH');
  });

  it('flaw: a negative quantity raises the stock and is journaled', async () => {
    const r = await deduct(seed, '10', '-5');
    expect(r.reply).toBe(15);
    expect(r.stock).toBe('15');
    expect(await r.entry()).toMatchObject({ change: '-5', to: 15 });
  });

  it('flaw: quantity 0 burns the request ID', async () => {
    const r = await deduct(seed, '10', '0');
    expect(r.reply).toBe(10);
    expect(await r.entry()).toMatchObject({ change: '0', to: 10 });
  });

  it('flaw: quantity 0.5 stores a fractional stock and replies a truncated integer', async () => {
    const r = await deduct(seed, '10', '0.5');
    expect(r.reply).toBe(9);
    expect(r.stock).toBe('9.5');
  });

  it('flaw: quantity nan sets the stock to "nan", then fails in cjson with no journal entry (no rollback)', async () => {
    const r = await deduct(seed, '10', 'nan');
    expect(r.error).toMatch(/Cannot serialise number: must not be NaN or Inf/);
    expect(r.stock).toMatch(/nan/);
    expect(r.journal).toEqual({});
  });

  it('flaw: tostring formats with %.14g, so a 15-digit stock is rounded (and grows)', async () => {
    const r = await deduct(seed, '999999999999999', '1');
    expect(r.reply).toBe(999999999999998);
    expect(r.stock).toBe('1e+15');
  });
});
