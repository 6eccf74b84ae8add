/** A private 3-primary Redis Cluster per test file, on loopback (src/redis/local-cluster.ts). */
import { Redis } from 'ioredis';
import { startLocalCluster, type LocalCluster, type LocalClusterOptions } from '../../src/redis/local-cluster.js';

export interface TestCluster {
  readonly cluster: LocalCluster;
  /** `redis://127.0.0.1:<port of node 0>`: what a user passes as --redis. */
  readonly url: string;
  /** One plain client per primary (node i owns cluster.slots[i]). */
  readonly nodes: readonly Redis[];
  /** The client of the primary that owns `key` now. */
  ownerOf(key: string): Promise<Redis>;
  stop(): Promise<void>;
}

export async function startTestCluster(options: LocalClusterOptions = {}): Promise<TestCluster> {
  const cluster = await startLocalCluster(options);
  const nodes = cluster.nodes.map((n) => {
    const client = new Redis({ host: n.host, port: n.port, lazyConnect: true, maxRetriesPerRequest: 0 });
    client.on('error', () => {});
    return client;
  });
  await Promise.all(nodes.map((c) => c.connect()));
  return {
    cluster,
    url: `redis://${cluster.nodes[0]!.host}:${cluster.nodes[0]!.port}`,
    nodes,
    ownerOf: async (key) => {
      const slot = Number(await nodes[0]!.call('CLUSTER', 'KEYSLOT', key));
      const ranges = (await nodes[0]!.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
      const port = ranges.find(([a, b]) => slot >= a && slot <= b)![2][1];
      return nodes[cluster.nodes.findIndex((n) => n.port === port)]!;
    },
    stop: async () => {
      for (const c of nodes) c.disconnect();
      await cluster.stop();
    },
  };
}
