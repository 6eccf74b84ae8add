/** A private redis-server per test file (hermetic: restart and cluster tests need their own). */
import { Redis } from 'ioredis';
import { DEFAULT_KEY_TEMPLATES, RunKeys } from '../../src/keys.js';
import { startLocalRedis, type LocalRedis, type LocalRedisOptions } from '../../src/redis/local.js';
import { standaloneShards, type ShardSet } from '../../src/redis/shards.js';

export interface TestRedis {
  readonly server: LocalRedis;
  readonly url: string;
  readonly client: Redis;
  stop(): Promise<void>;
}

export async function startTestRedis(options: LocalRedisOptions = {}): Promise<TestRedis> {
  const server = await startLocalRedis(options);
  const client = new Redis({ host: server.host, port: server.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  client.on('error', () => {});
  await client.connect();
  return {
    server,
    url: `redis://${server.host}:${server.port}`,
    client,
    stop: async () => {
      client.disconnect();
      await server.stop();
    },
  };
}

/** A run's keys (default names) on one server, through `client`: what seedStock, takeSnapshot and removeRunKeys take. */
export function runShards(client: Redis, runId: string, skuCount: number): ShardSet {
  return standaloneShards(client, new RunKeys(DEFAULT_KEY_TEMPLATES, runId), skuCount);
}
