/**
 * The hot-path RESP client's connection bookkeeping against a real redis-server (issue 8, items 6
 * and 15): a connection the server closes is reopened, and one that cannot be reopened is reported
 * closed exactly once, so an executor's count of live connections stays right.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorReplies } from '../../src/load/error-replies.js';
import { DeductClient, Flusher, type ReplyHandler } from '../../src/load/resp.js';
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
  };
  return { events, handler };
}

function client(r: TestRedis, handler: ReplyHandler) {
  const options = {
    endpoint: { host: r.server.host, port: r.server.port, db: 0, tls: false },
    runId: 'resp', seed: 1, scriptSha: '0'.repeat(40), scriptSource: 'return 1',
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

  it('a server at maxclients fails the connection setup, not the first deduction (1)', async () => {
    redis = await startTestRedis({ args: ['--maxclients', '1'] });
    const { handler } = recordingHandler();
    // The test's own client holds the only slot. The server writes its refusal and closes at
    // once; when the setup was already on its way, the close comes as a reset that can swallow
    // the words (the coordinator then names the cause from INFO stats rejected_connections).
    await expect(client(redis, handler).connect()).rejects.toThrow(/^(Redis refused the connection: ERR max number of clients reached|read ECONNRESET|the server closed the connection during setup)$/);
  });
});
