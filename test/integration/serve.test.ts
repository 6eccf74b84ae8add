/**
 * The reference sale service (src/serve/service.ts) against a private redis-server: every status
 * of the table, the script reloaded after SCRIPT FLUSH, 503 when Redis is gone, the body limits,
 * keep-alive with pipelining, and close() draining a request in flight.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES, startSaleService, type SaleKeys, type SaleService } from '../../src/serve/service.js';
import { outcomeOfReply } from '../../src/serve/outcome.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { get, pipelined, post, rawPost } from '../helpers/http.js';

const SOURCE = readFileSync(new URL('../../lua/deduct.lua', import.meta.url), 'utf8');
const keys: SaleKeys = { stock: (sku) => `t:inv:{${sku}}`, journal: (sku) => `t:journal:{${sku}}` };

let redis: TestRedis;
let conn: Redis;
let service: SaleService;

function serviceConnection(port: number): Redis {
  const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 2000, retryStrategy: () => 200 });
  c.on('error', () => {});
  return c;
}

beforeAll(async () => {
  redis = await startTestRedis();
  conn = serviceConnection(redis.server.port);
  await conn.connect();
  service = await startSaleService({ redis: conn, scriptSource: SOURCE, keys, port: 0 });
});
afterAll(async () => {
  await service?.close();
  conn?.disconnect();
  await redis?.stop();
});
afterEach(async () => {
  await redis.client.flushall();
});

describe('POST /deduct', () => {
  it('200 {"stock": 41}, then 409 for the same request ID, 410 when sold out, 404 KEY_NOT_FOUND for an unknown SKU', async () => {
    await redis.client.set(keys.stock('10010'), '42');
    const ok = await post(service.url, { sku: '10010', quantity: 1, requestId: 'DEC-1-42' });
    expect(ok).toMatchObject({ status: 200, body: { stock: 41 } });
    expect(ok.headers.get('content-type')).toBe('application/json');
    expect(await post(service.url, { sku: '10010', quantity: 1, requestId: 'DEC-1-42' })).toMatchObject({ status: 409, body: { error: 'OPERATION_ALREADY_EXECUTED' } });
    expect(await post(service.url, { sku: '10010', quantity: 42, requestId: 'DEC-1-43' })).toMatchObject({ status: 410, body: { error: 'INVENTORY_NOT_ENOUGH' } });
    const missing = await post(service.url, { sku: '777', quantity: 1, requestId: 'DEC-1-44' });
    expect(missing).toMatchObject({ status: 404, body: { error: 'KEY_NOT_FOUND' } });
    expect(outcomeOfReply(missing.status, JSON.stringify(missing.body))).toBe('not_found');
    expect(await redis.client.get(keys.stock('10010'))).toBe('41');
    expect(await redis.client.hkeys(keys.journal('10010'))).toEqual(['DEC-1-42']);
  });

  it('a numeric SKU is its decimal text; a quantity given as a string is passed on as it is', async () => {
    await redis.client.set(keys.stock('10010'), '5');
    expect(await post(service.url, { sku: 10010, quantity: '2', requestId: 'a' })).toMatchObject({ status: 200, body: { stock: 3 } });
  });

  it('400 INVALID_QUANTITY for what the script refuses (0, negative, fractional, text), nothing written', async () => {
    await redis.client.set(keys.stock('1'), '10');
    for (const [i, quantity] of [0, -1, 1.5, 'abc', '1e3'].entries()) {
      const r = await post(service.url, { sku: '1', quantity, requestId: `q-${i}` });
      expect(r, JSON.stringify(quantity)).toMatchObject({ status: 400, body: { error: 'INVALID_QUANTITY' } });
      expect(outcomeOfReply(r.status, '')).toBe('invalid');
    }
    expect(await redis.client.get(keys.stock('1'))).toBe('10');
    expect(await redis.client.exists(keys.journal('1'))).toBe(0);
  });

  it('400 BAD_REQUEST (outcome invalid) for bad JSON, a missing field, a bad SKU or request ID, each saying what', async () => {
    const cases: [unknown, RegExp][] = [
      ['{"sku": "1", ', /not JSON/],
      ['[1]', /JSON object/],
      [{ quantity: 1, requestId: 'x' }, /^sku: missing$/],
      [{ sku: '1', requestId: 'x' }, /^quantity: missing$/],
      [{ sku: '1', quantity: 1 }, /^requestId: missing$/],
      [{ sku: 'a b', quantity: 1, requestId: 'x' }, /^sku: expected 1-64 characters/],
      [{ sku: 'x'.repeat(65), quantity: 1, requestId: 'x' }, /^sku: expected/],
      [{ sku: '1', quantity: null, requestId: 'x' }, /^quantity: expected a number, got null$/],
      [{ sku: '1', quantity: 1, requestId: '' }, /^requestId: expected a string of 1-128/],
      [{ sku: '1', quantity: 1, requestId: 'x'.repeat(129) }, /^requestId: expected/],
      [{ sku: '1', quantity: 1, requestId: 7 }, /^requestId: expected/],
    ];
    for (const [body, detail] of cases) {
      const r = await post(service.url, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error).toBe('BAD_REQUEST');
      expect(r.body.detail).toMatch(detail);
    }
    expect(await redis.client.dbsize()).toBe(0);
  });

  it('413 for a body over 16 KiB (declared or streamed); the connection still serves the next request', async () => {
    await redis.client.set(keys.stock('1'), '10');
    const big = JSON.stringify({ sku: '1', quantity: 1, requestId: 'x', pad: 'p'.repeat(MAX_BODY_BYTES) });
    expect(await post(service.url, big)).toMatchObject({ status: 413, body: { error: 'PAYLOAD_TOO_LARGE' } });
    const chunked = `POST /deduct HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${(MAX_BODY_BYTES + 10).toString(16)}\r\n${'p'.repeat(MAX_BODY_BYTES + 10)}\r\n0\r\n\r\n`;
    const replies = await pipelined(service.port, chunked + rawPost(JSON.stringify({ sku: '1', quantity: 1, requestId: 'after' })), 2);
    expect(replies.map((r) => r.status)).toEqual([413, 200]);
    expect(JSON.parse(replies[1]!.body)).toEqual({ stock: 9 });
  });

  it('500 with the error\'s first line for any other error (the stock key holds a hash), 400 STOCK_NOT_A_NUMBER for a stock of text', async () => {
    await redis.client.hset(keys.stock('h'), 'a', '1');
    const r = await post(service.url, { sku: 'h', quantity: 1, requestId: 'x' });
    expect(r.status).toBe(500);
    expect(r.body.error).toMatch(/^WRONGTYPE/);
    expect(String(r.body.error)).not.toContain('\n');
    await redis.client.set(keys.stock('t'), 'ten');
    expect(await post(service.url, { sku: 't', quantity: 1, requestId: 'y' })).toMatchObject({ status: 400, body: { error: 'STOCK_NOT_A_NUMBER' } });
  });

  it('SCRIPT FLUSH: the next request gets NOSCRIPT, loads the script and still deducts', async () => {
    await redis.client.set(keys.stock('1'), '10');
    await redis.client.script('FLUSH');
    const replies = await Promise.all([1, 2, 3].map((i) => post(service.url, { sku: '1', quantity: 1, requestId: `f-${i}` })));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await redis.client.get(keys.stock('1'))).toBe('7');
  });
});

describe('routes', () => {
  it('GET /healthz 200; an unknown path 404 NOT_FOUND (not KEY_NOT_FOUND: outcome error); a wrong method 405', async () => {
    expect(await get(service.url, '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    const unknown = await post(service.url, { sku: '1', quantity: 1, requestId: 'x' }, '/deduct/x');
    expect(unknown).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
    expect(outcomeOfReply(unknown.status, JSON.stringify(unknown.body))).toBe('error');
    const wrong = await get(service.url, '/deduct');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });

  it('keep-alive: three requests pipelined on one socket are answered in order', async () => {
    await redis.client.set(keys.stock('A'), '100');
    const raw = [
      rawPost(JSON.stringify({ sku: 'A', quantity: 1, requestId: 'p1' })),
      rawPost(JSON.stringify({ sku: 'B', quantity: 1, requestId: 'p2' })),
      rawPost(JSON.stringify({ sku: 'A', quantity: 2, requestId: 'p3' })),
    ].join('');
    const replies = await pipelined(service.port, raw, 3);
    expect(replies.map((r) => [r.status, JSON.parse(r.body)])).toEqual([[200, { stock: 99 }], [404, { error: 'KEY_NOT_FOUND' }], [200, { stock: 97 }]]);
  });
});

describe('Redis gone', () => {
  it('503 REDIS_UNAVAILABLE when the server is stopped, and /healthz says so', async () => {
    const other = await startTestRedis();
    const c = serviceConnection(other.server.port);
    await c.connect();
    const s = await startSaleService({ redis: c, scriptSource: SOURCE, keys, port: 0 });
    try {
      await other.client.set(keys.stock('1'), '5');
      expect((await post(s.url, { sku: '1', quantity: 1, requestId: 'a' })).status).toBe(200);
      await other.stop();
      const r = await post(s.url, { sku: '1', quantity: 1, requestId: 'b' });
      expect(r).toMatchObject({ status: 503, body: { error: 'REDIS_UNAVAILABLE' } });
      expect(outcomeOfReply(r.status, '')).toBe('error');
      expect((await get(s.url, '/healthz')).status).toBe(503);
    } finally {
      await s.close();
      c.disconnect();
      await other.stop();
    }
  });
});

describe('close()', () => {
  it('stops accepting, waits for the request in flight (Redis paused), answers it, then resolves', async () => {
    const s = await startSaleService({ redis: conn, scriptSource: SOURCE, keys, port: 0 });
    await redis.client.set(keys.stock('1'), '5');
    await redis.client.call('CLIENT', 'PAUSE', '500', 'ALL');
    const started = Date.now();
    const pending = post(s.url, { sku: '1', quantity: 1, requestId: 'slow' });
    while (s.inFlight() === 0) await new Promise((r) => setTimeout(r, 5));
    let closedAt = 0;
    const closing = s.close().then(() => { closedAt = Date.now(); });
    await new Promise((r) => setTimeout(r, 50));
    // No new connection once closing.
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
    expect(closedAt).toBe(0);
    const reply = await pending;
    await closing;
    expect(reply).toMatchObject({ status: 200, body: { stock: 4 } });
    expect(reply.headers.get('connection')).toBe('close');
    expect(closedAt - started).toBeGreaterThanOrEqual(400);
    expect(s.inFlight()).toBe(0);
    expect(await redis.client.get(keys.stock('1'))).toBe('4');
  });
  it('three requests pipelined on one socket when close() starts: every one is deducted and answered, only the last says connection: close', async () => {
    const s = await startSaleService({ redis: conn, scriptSource: SOURCE, keys, port: 0 });
    await redis.client.set(keys.stock('1'), '10');
    await redis.client.call('CLIENT', 'PAUSE', '300', 'ALL');
    const raw = [1, 2, 3].map((i) => rawPost(JSON.stringify({ sku: '1', quantity: 1, requestId: `pd-${i}` }))).join('');
    const replies = pipelined(s.port, raw, 3);
    while (s.inFlight() < 3) await new Promise((r) => setTimeout(r, 5));
    await s.close();
    const got = await replies;
    expect(got.map((r) => [r.status, JSON.parse(r.body)])).toEqual([[200, { stock: 9 }], [200, { stock: 8 }], [200, { stock: 7 }]]);
    expect(got.map((r) => /^connection: close$/im.test(r.head))).toEqual([false, false, true]);
    expect(s.inFlight()).toBe(0);
  });

  it('a connection the client drops with requests pending does not hold close() up', async () => {
    const s = await startSaleService({ redis: conn, scriptSource: SOURCE, keys, port: 0 });
    await redis.client.set(keys.stock('1'), '10');
    await redis.client.call('CLIENT', 'PAUSE', '300', 'ALL');
    const { connect } = await import('node:net');
    const socket = connect(s.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write([1, 2].map((i) => rawPost(JSON.stringify({ sku: '1', quantity: 1, requestId: `gone-${i}` }))).join(''));
    while (s.inFlight() < 2) await new Promise((r) => setTimeout(r, 5));
    socket.destroy();
    await s.close();
    expect(s.inFlight()).toBe(0);
  });
});
