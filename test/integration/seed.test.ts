import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetError } from '../../src/errors.js';
import { journalKey, stockKey } from '../../src/keys.js';
import { removeRunKeys, seedStock } from '../../src/redis/seed.js';
import { runShards, startTestRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
beforeAll(async () => { redis = await startTestRedis(); });
afterAll(async () => { await redis?.stop(); });

describe('seeding run keys', () => {
  it('creates one stock key per SKU and removes exactly the run\'s keys', async () => {
    await redis.client.set('unrelated', 'x');
    await seedStock(runShards(redis.client, 'r1', 3), 50);
    expect(await redis.client.mget(stockKey('r1', 0), stockKey('r1', 1), stockKey('r1', 2))).toEqual(['50', '50', '50']);
    await redis.client.hset(journalKey('r1', 1), 'id', '{}');
    await removeRunKeys(runShards(redis.client, 'r1', 3));
    expect(await redis.client.keys('*')).toEqual(['unrelated']);
  });

  it('refuses to overwrite an existing stock or journal key and leaves it as it was', async () => {
    await redis.client.set(stockKey('r2', 1), '7');
    await expect(seedStock(runShards(redis.client, 'r2', 3), 50)).rejects.toThrow(TargetError);
    await expect(seedStock(runShards(redis.client, 'r2', 3), 50)).rejects.toThrow(/refusing to overwrite 1 existing key\(s\) such as sellout:r2:inv:\{1\}/);
    expect(await redis.client.get(stockKey('r2', 1))).toBe('7');
    expect(await redis.client.exists(stockKey('r2', 0), stockKey('r2', 2))).toBe(0);

    await redis.client.hset(journalKey('r3', 0), 'x', 'y');
    await expect(seedStock(runShards(redis.client, 'r3', 1), 5)).rejects.toThrow(/sellout:r3:journal:\{0\}/);
    expect(await redis.client.exists(stockKey('r3', 0))).toBe(0);
  });
});
