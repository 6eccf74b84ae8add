/**
 * readServerStats against a real redis-server: the EVALSHA calls between two readings are exactly
 * the ones sent (INFO commandstats), with their server time and the CPU the server used; a user
 * whose ACL refuses INFO gets no reading rather than a failed run.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readServerStats, serverStatsDelta } from '../../src/redis/server-stats.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
beforeAll(async () => { redis = await startTestRedis(); });
afterAll(async () => { await redis?.stop(); });

// Busy enough to take measurable server time per call.
const SCRIPT = "local n = 0 for i = 1, 2000 do n = n + redis.call('INCR', KEYS[1]) end return n";

describe('readServerStats', () => {
  it('counts the EVALSHA calls made between two readings, their server time and the CPU used', async () => {
    const sha = (await redis.client.script('LOAD', SCRIPT)) as string;
    await redis.client.evalsha(sha, 1, 'stats:warm');
    const before = await readServerStats(redis.client);
    expect(before).toBeDefined();
    expect(before!.evalshaCalls).toBeGreaterThanOrEqual(1);
    const calls = 300;
    const pipeline = redis.client.pipeline();
    for (let i = 0; i < calls; i++) pipeline.evalsha(sha, 1, `stats:{k}${i % 7}`);
    await pipeline.exec();
    const after = await readServerStats(redis.client);
    const delta = serverStatsDelta(before, after)!;
    expect(delta.evalshaCalls).toBe(calls);
    expect(delta.evalshaUsec).toBeGreaterThan(0);
    // 300 x 2000 INCR takes the server tens of milliseconds: its CPU time shows it.
    expect(delta.cpuSeconds).toBeGreaterThan(0);
    expect(delta.wallSeconds).toBeGreaterThan(0);
    expect(delta.cpuSeconds / delta.wallSeconds).toBeLessThan(4);
    await redis.client.del(...Array.from({ length: 7 }, (_, i) => `stats:{k}${i}`), 'stats:warm');
  });

  it('gives nothing when INFO is refused, and no delta across CONFIG RESETSTAT (counters back at zero)', async () => {
    await redis.client.call('ACL', 'SETUSER', 'noinfo', 'on', '>pw', '~*', '+@all', '-info');
    const limited = new Redis({ host: redis.server.host, port: redis.server.port, username: 'noinfo', password: 'pw', lazyConnect: true, maxRetriesPerRequest: 0, enableReadyCheck: false });
    limited.on('error', () => {});
    try {
      await limited.connect();
      expect(await readServerStats(limited)).toBeUndefined();
      expect(serverStatsDelta(undefined, await readServerStats(redis.client))).toBeUndefined();
    } finally {
      limited.disconnect();
    }
    const sha = (await redis.client.script('LOAD', SCRIPT)) as string;
    await redis.client.evalsha(sha, 1, 'stats:reset');
    const before = await readServerStats(redis.client);
    await redis.client.call('CONFIG', 'RESETSTAT');
    const fresh = await readServerStats(redis.client);
    expect(fresh).toMatchObject({ evalshaCalls: 0, evalshaUsec: 0 });
    expect(serverStatsDelta(before, fresh)).toBeUndefined();
    await redis.client.del('stats:reset');
  });
});
