/**
 * The hot-path RESP client's memory per connection (issue "The engine at the limit…"): a scenario
 * may open 10,000 connections, and at the old fixed 256 KiB output buffer each that was 2.5 GiB.
 * The output slab starts at 4 KiB and doubles only while a connection pipelines deeply; a reconnect
 * starts it small again. Against a real redis-server, so the connections are real.
 */
import { DEFAULT_KEY_TEMPLATES, RunKeys } from '../../src/keys.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorReplies } from '../../src/load/error-replies.js';
import { DeductClient, Flusher, type ReplyHandler } from '../../src/load/resp.js';
import { Code } from '../../src/outcomes.js';
import { scriptSha } from '../../src/redis/script.js';
import { ROOT } from '../helpers/cli.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const DEDUCT = readFileSync(join(ROOT, 'lua/deduct.lua'), 'utf8');
const KiB = 1024;

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
  await redis.client.script('LOAD', DEDUCT);
});
afterAll(async () => { await redis?.stop(); });

function makeClient(id: number, handler: ReplyHandler, flusher: Flusher, errors: ErrorReplies): DeductClient {
  return new DeductClient(id, {
    endpoint: { host: redis.server.host, port: redis.server.port, db: 0, tls: false },
    keys: new RunKeys(DEFAULT_KEY_TEMPLATES, 'resp-mem'), seed: 1, scriptSha: scriptSha(DEDUCT), scriptSource: DEDUCT,
    errors, reconnectWindowMs: 2000, connectTimeoutMs: 10_000,
  }, handler, flusher, () => 0);
}

async function until(what: string, done: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('output slabs are sized to need (real redis-server)', () => {
  it('2,000 idle connected clients keep a 4 KiB slab each', async () => {
    const handler: ReplyHandler = { onReply() {}, onRedirect() {}, onClosed() {}, onReconnected() {}, onRefused() {} };
    const flusher = new Flusher();
    const errors = new ErrorReplies();
    const before = process.memoryUsage().arrayBuffers;
    const clients = Array.from({ length: 2000 }, (_, i) => makeClient(i, handler, flusher, errors));
    try {
      // In batches: 2,000 connections at once would overflow the server's accept backlog.
      for (let i = 0; i < clients.length; i += 200) await Promise.all(clients.slice(i, i + 200).map((c) => c.connect()));
      expect(clients.every((c) => c.alive)).toBe(true);
      const info = await redis.client.info('clients');
      expect(Number(/connected_clients:(\d+)/.exec(info)?.[1])).toBeGreaterThanOrEqual(2001);
      expect(new Set(clients.map((c) => c.slabBytes))).toEqual(new Set([4 * KiB]));
      // What the process holds in buffers grew by a few KiB per connection (slab, request rings,
      // socket reads), not by the 256 KiB each that 2,000 connections cost before (500 MB).
      const grown = process.memoryUsage().arrayBuffers - before;
      expect(grown / clients.length).toBeLessThan(16 * KiB);
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('a client that pipelines deeply grows its slab, and a reconnect starts it at 4 KiB again', async () => {
    let replies = 0;
    let reconnected = 0;
    const handler: ReplyHandler = {
      onReply(_c, _i, _t, _s, _q, code) { if (code === Code.not_found) replies++; },
      onClosed() {},
      onReconnected() { reconnected++; },
      onRefused() {},
      onRedirect() {},
    };
    const flusher = new Flusher();
    const c = makeClient(0, handler, flusher, new ErrorReplies());
    await c.connect();
    try {
      expect(c.slabBytes).toBe(4 * KiB);
      // 500 deductions (about 165 bytes each) written at once grow 4 KiB by doublings to a size
      // under 256 KiB; 10,000 in one batch need more than that. Each must go back to 4 KiB after a
      // reconnect (a slab of up to 256 KiB used to be kept).
      let sent = 0;
      for (const [depth, low, high] of [[500, 64 * KiB, 256 * KiB], [10_000, 1024 * KiB, Infinity]] as const) {
        // The stock keys do not exist: every reply is KEY_NOT_FOUND, nothing is written to Redis.
        for (let i = 0; i < depth; i++) c.send(sent + i, 0, i % 50, 1, 0, 0);
        const grown = c.slabBytes;
        expect(grown).toBeGreaterThan(low);
        expect(grown).toBeLessThanOrEqual(high);
        flusher.flush();
        sent += depth;
        await until(`${sent} replies`, () => replies === sent);
        expect(c.slabBytes, 'kept while the connection stays up').toBe(grown);
        const reconnects = reconnected;
        await redis.client.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
        await until('the reconnect', () => reconnected === reconnects + 1);
        expect(c.slabBytes, `after pipelining ${depth} deep and a reconnect`).toBe(4 * KiB);
      }
      expect(await redis.client.dbsize()).toBe(0);
    } finally {
      c.close();
    }
  });
});
