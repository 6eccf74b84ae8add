/**
 * The hot-path RESP client against a real redis-server: connection bookkeeping (issue 8, items 6
 * and 15: a connection the server closes is reopened, and one that cannot be reopened is reported
 * closed exactly once, so an executor's count of live connections stays right), the script cache
 * lost mid-pipeline (NOSCRIPT: one reload, every deduction resent in order), and a server refusing
 * the connection setup (AUTH, SELECT) in its own words. The parser itself is unit-tested in
 * test/unit/resp-parser.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { journalKey, stockKey, DEFAULT_KEY_TEMPLATES, RunKeys } from '../../src/keys.js';
import { ErrorReplies } from '../../src/load/error-replies.js';
import { DeductClient, Flusher, type ReplyHandler } from '../../src/load/resp.js';
import { Code, type OutcomeCode } from '../../src/outcomes.js';
import { parseInfo } from '../../src/redis/index.js';
import type { RedisEndpoint } from '../../src/redis/url.js';
import { scriptSha } from '../../src/redis/script.js';
import { ROOT } from '../helpers/cli.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis | undefined;
afterEach(async () => { await redis?.stop(); redis = undefined; });

function recordingHandler() {
  const events: string[] = [];
  const handler: ReplyHandler = {
    onReply: () => { events.push('reply'); },
    onClosed: (_c, reason, reconnecting) => { events.push(reconnecting ? `closing: ${reason}` : `closed: ${reason}`); },
    onReconnected: () => { events.push('reconnected'); },
    onRefused: () => { events.push('refused'); },
    onRedirect: () => { events.push('redirect'); },
  };
  return { events, handler };
}

function client(r: TestRedis, handler: ReplyHandler) {
  const options = {
    endpoint: { host: r.server.host, port: r.server.port, db: 0, tls: false },
    keys: new RunKeys(DEFAULT_KEY_TEMPLATES, 'resp'), seed: 1, scriptSha: '0'.repeat(40), scriptSource: 'return 1',
    errors: new ErrorReplies(), reconnectWindowMs: 300, connectTimeoutMs: 5000,
  };
  return new DeductClient(0, options, handler, new Flusher(), () => 0);
}

describe('DeductClient connections (real redis-server)', () => {
  it('a failed reconnect reports the connection closed once, not twice (6)', async () => {
    redis = await startTestRedis();
    const { events, handler } = recordingHandler();
    const c = client(redis, handler);
    await c.connect();
    await redis.server.stop();
    // A request timed out at the same moment: the worker asks for a restart too.
    await c.restart('no reply within timeoutMs');
    await new Promise((r) => setTimeout(r, 800));
    expect(events.filter((e) => e.startsWith('closed:'))).toHaveLength(1);
    expect(c.alive).toBe(false);
    expect(c.restarting).toBe(false);
    c.close();
  });

  it('a connection the server kills is reopened (15)', async () => {
    redis = await startTestRedis();
    const { events, handler } = recordingHandler();
    const c = client(redis, handler);
    await c.connect();
    await redis.client.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    while (!events.includes('reconnected')) await new Promise((r) => setTimeout(r, 10));
    expect(c.alive).toBe(true);
    expect(c.reconnects).toBe(1);
    expect(events.filter((e) => e.startsWith('closed:'))).toEqual([]);
    c.close();
  });

  it('a server at maxclients fails the connection setup with its own words (1)', async () => {
    // Set once the test's own client is in (and holds the only slot): started with --maxclients 1,
    // the server could still count the start-up readiness probe and refuse that client.
    redis = await startTestRedis();
    await redis.client.config('SET', 'maxclients', '1');
    const { handler } = recordingHandler();
    // The server writes its refusal and closes at once; when the client's setup was already on its
    // way the close can come as a reset that swallows the words (the coordinator then names the
    // cause from INFO stats rejected_connections): either way connect() fails, not a deduction.
    await expect(client(redis, handler).connect()).rejects.toThrow(/^(Redis refused the connection: ERR max number of clients reached|read ECONNRESET|the server closed the connection during setup)$/);
  });
});

const DEDUCT = readFileSync(join(ROOT, 'lua/deduct.lua'), 'utf8');
const RUN = 'resp-it';

interface Reply { index: number; code: OutcomeCode; value: number }

/** A client on the real deduct script, recording replies and events in order. */
function deductClient(r: TestRedis, endpoint: Partial<RedisEndpoint> = {}) {
  const replies: Reply[] = [];
  const events: string[] = [];
  const errors = new ErrorReplies();
  const flusher = new Flusher();
  /** Called after each reply is recorded (a test can send more from it, as an executor does). */
  let afterReply: (reply: Reply) => void = () => {};
  const handler: ReplyHandler = {
    onReply: (_c, index, _twin, _sku, _qty, code, value) => {
      const reply = { index, code, value };
      replies.push(reply);
      events.push(`reply ${index}`);
      afterReply(reply);
    },
    onClosed: (_c, reason, reconnecting) => { events.push(reconnecting ? `closing: ${reason}` : `closed: ${reason}`); },
    onReconnected: () => { events.push('reconnected'); },
    onRefused: (_c, entry) => { events.push(`refused ${entry.refusal}: ${entry.text}`); },
    onRedirect: (_c, entry) => { events.push(`redirect ${entry.text}`); },
  };
  const client = new DeductClient(0, {
    endpoint: { host: r.server.host, port: r.server.port, db: 0, tls: false, ...endpoint },
    keys: new RunKeys(DEFAULT_KEY_TEMPLATES, RUN), seed: 3, scriptSha: scriptSha(DEDUCT), scriptSource: DEDUCT,
    errors, reconnectWindowMs: 300, connectTimeoutMs: 2000,
  }, handler, flusher, () => 0);
  const send = (from: number, to: number, qty: (i: number) => number) => {
    for (let i = from; i < to; i++) client.send(i, 0, 0, qty(i), 0, 0);
    flusher.flush();
  };
  return { client, replies, events, errors, send, onReply: (f: (reply: Reply) => void) => { afterReply = f; } };
}

async function until(what: string, done: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** calls / failed_calls of a command since the last CONFIG RESETSTAT. */
async function commandStats(r: TestRedis, name: string): Promise<{ calls: number; failed: number }> {
  const line = parseInfo(await r.client.info('commandstats'))[`cmdstat_${name}`] ?? '';
  return { calls: Number(/calls=(\d+)/.exec(line)?.[1] ?? 0), failed: Number(/failed_calls=(\d+)/.exec(line)?.[1] ?? 0) };
}

describe('NOSCRIPT: the script cache lost mid-pipeline (real redis-server)', () => {
  const STOCK = 1000;
  const qty = (i: number) => 1 + (i % 3);

  it('after SCRIPT FLUSH: one SCRIPT LOAD, every deduction in flight resent in order and answered ok', async () => {
    redis = await startTestRedis();
    const r = redis;
    await r.client.set(stockKey(RUN, 0), String(STOCK));
    await r.client.script('LOAD', DEDUCT);
    const c = deductClient(r);
    try {
      await c.client.connect();
      // 10 deductions answered with the script cached.
      c.send(0, 10, qty);
      await until('the first 10 replies', () => c.replies.length === 10);
      // Writes pause: the next 20 reach the server and wait there, in flight, while the cache is flushed.
      await r.client.config('RESETSTAT');
      await r.client.client('PAUSE', '10000', 'WRITE');
      c.send(10, 30, qty);
      await until('the pipeline held by the pause', async () => parseInfo(await r.client.info('clients'))['blocked_clients'] === '1');
      await r.client.script('FLUSH');
      // Like a closed-loop executor, the first reply after the flush sends 5 more.
      c.onReply((reply) => { if (reply.index === 10) c.send(30, 35, qty); });
      await r.client.client('UNPAUSE');
      await until('35 replies', () => c.replies.length === 35);

      // Every deduction ok, answered in the order sent, each leaving the stock its predecessors left minus its own.
      let stock = STOCK;
      expect(c.replies).toEqual(Array.from({ length: 35 }, (_, index) => ({ index, code: Code.ok, value: (stock -= qty(index)) })));
      expect(await r.client.get(stockKey(RUN, 0))).toBe(String(stock));
      expect(await r.client.hlen(journalKey(RUN, 0))).toBe(35);
      // The server saw 20 NOSCRIPTs, one reload, then the 20 resends and the 5 new ones.
      expect(await commandStats(r, 'script|load')).toEqual({ calls: 1, failed: 0 });
      expect(await commandStats(r, 'evalsha')).toEqual({ calls: 45, failed: 20 });
      expect(c.errors.list()).toEqual([]);
      expect(c.events.filter((e) => !e.startsWith('reply'))).toEqual([]);
      expect(c.client.inFlight).toBe(0);
    } finally {
      c.client.close();
      await r.client.del(stockKey(RUN, 0), journalKey(RUN, 0));
    }
  });

  it('a second NOSCRIPT for a resend is an error outcome; a refused reload is reported as a refusal', async () => {
    redis = await startTestRedis();
    const r = redis;
    await r.client.set(stockKey(RUN, 0), String(STOCK));
    // A user that may call the script but not load it: the reload fails, the resends get NOSCRIPT again.
    await r.client.call('ACL', 'SETUSER', 'noload', 'on', '>Noload-Pass-3', '~*', '+@all', '-script|load');
    const c = deductClient(r, { username: 'noload', password: 'Noload-Pass-3' });
    try {
      await c.client.connect();
      await r.client.config('RESETSTAT');
      c.send(0, 3, qty);
      await until('3 replies', () => c.replies.length === 3);
      expect(c.replies).toEqual([0, 1, 2].map((index) => ({ index, code: Code.error, value: NaN })));
      const refusal = "refused NOPERM: NOPERM this user has no permissions to run the 'script|load' command";
      expect(c.events).toEqual([refusal, 'reply 0', 'reply 1', 'reply 2']);
      expect(c.errors.list()).toEqual([{ reply: 'NOSCRIPT No matching script. Please use EVAL.', count: 3 }]);
      // One reload tried (refused before it ran), each deduction sent twice, nothing deducted.
      expect((await commandStats(r, 'evalsha')).calls).toBe(6);
      expect(await r.client.get(stockKey(RUN, 0))).toBe(String(STOCK));
      expect(await r.client.exists(journalKey(RUN, 0))).toBe(0);
    } finally {
      c.client.close();
      await r.client.call('ACL', 'DELUSER', 'noload');
      await r.client.del(stockKey(RUN, 0), journalKey(RUN, 0));
    }
  });
});

describe('the connection setup refused (real redis-server)', () => {
  it('AUTH: a wrong password, and none, reject connect() with the server\'s words; the right one connects', async () => {
    redis = await startTestRedis();
    const r = redis;
    await r.client.config('SET', 'requirepass', 'Right-Pass-1');
    await r.client.call('ACL', 'SETUSER', 'alice', 'on', '>Alice-Pass-2', '~*', '+@all');
    try {
      await expect(deductClient(r, { password: 'Wrong-Pass' }).client.connect())
        .rejects.toThrow(/^Redis refused the connection: WRONGPASS invalid username-password pair or user is disabled\.$/);
      await expect(deductClient(r, { username: 'alice', password: 'Wrong-Pass' }).client.connect())
        .rejects.toThrow(/^Redis refused the connection: WRONGPASS invalid username-password pair or user is disabled\.$/);
      await expect(deductClient(r).client.connect()).rejects.toThrow(/^Redis refused the connection: NOAUTH Authentication required\.$/);
      for (const endpoint of [{ password: 'Right-Pass-1' }, { username: 'alice', password: 'Alice-Pass-2' }]) {
        const c = deductClient(r, endpoint);
        await c.client.connect();
        expect(c.client.alive).toBe(true);
        c.client.close();
      }
      // Refused connections are not left open on the server (only the test's own and none other).
      await until('refused connections to close', async () => (await r.client.client('LIST') as string).trim().split('\n').length === 1);
    } finally {
      await r.client.call('ACL', 'DELUSER', 'alice');
    }
  });

  it('SELECT: database 99 rejects connect() with the server\'s words; database 1 is selected', async () => {
    redis = await startTestRedis();
    const r = redis;
    await expect(deductClient(r, { db: 99 }).client.connect()).rejects.toThrow(/^Redis refused the connection: ERR DB index is out of range$/);
    const c = deductClient(r, { db: 1 });
    await c.client.connect();
    const list = (await r.client.client('LIST')) as string;
    expect(list.trim().split('\n').filter((line) => / db=1 /.test(line))).toHaveLength(1);
    c.client.close();
  });
});

describe('a failed reconnect with deductions in flight (real redis-server)', () => {
  it('each deduction in flight is unknown once, and the connection is reported closed once', async () => {
    redis = await startTestRedis();
    const r = redis;
    await r.client.script('LOAD', DEDUCT);
    const c = deductClient(r);
    await c.client.connect();
    // Frozen, the server takes the deductions but never answers; then it dies and stays down.
    r.server.kill('SIGSTOP');
    c.send(0, 3, () => 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    r.server.kill('SIGKILL');
    await until('the connection given up', () => c.events.some((e) => e.startsWith('closed:')));
    await new Promise((resolve) => setTimeout(resolve, 500)); // nothing more comes
    expect(c.replies).toEqual([0, 1, 2].map((index) => ({ index, code: Code.unknown, value: NaN })));
    const closes = c.events.filter((e) => !e.startsWith('reply'));
    expect(closes).toHaveLength(2);
    // A killed server's kernel may reset the connection (unread requests) or close it.
    const lost = /^closing: (connection closed by the server|connection error: read ECONNRESET)$/.exec(closes[0]!);
    expect(lost, closes[0]).not.toBeNull();
    expect(closes[1]).toMatch(new RegExp(`^closed: ${lost![1]}; reconnecting failed: .*ECONNREFUSED`));
    expect(c.client.alive).toBe(false);
    expect(c.client.restarting).toBe(false);
    expect(c.client.inFlight).toBe(0);
    c.client.close();
  });
});

