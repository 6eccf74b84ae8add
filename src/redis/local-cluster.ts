/**
 * The embedded default for a Redis Cluster (`--redis cluster`): `shards` primaries started from
 * redis-server on free loopback ports, each in a temporary directory of its own and behind the
 * same watchdog as the standalone default (local.ts: out of reach of a terminal's Ctrl-C, stopped
 * however sellout exits). Slots are split evenly (CLUSTER ADDSLOTSRANGE), the nodes meet (CLUSTER
 * MEET), and the cluster is ready once every node says `cluster_state:ok` and knows every primary.
 */
import { Redis } from 'ioredis';
import { TargetError } from '../errors.js';
import { freePort, startLocalRedis, type LocalRedis } from './local.js';
import { SLOTS } from './slot.js';

export interface LocalCluster {
  /** The primaries (node i owns slots[i]). */
  readonly nodes: readonly LocalRedis[];
  /** Replicas, `replicas` per primary: replicaNodes[i * replicas + r] replicates nodes[i]. */
  readonly replicaNodes: readonly LocalRedis[];
  /** The slot ranges of node i: [[first, last]]. */
  readonly slots: readonly (readonly [number, number])[];
  stop(): Promise<void>;
}

export interface LocalClusterOptions {
  readonly shards?: number;
  /** Replicas per primary (default 0), as a production cluster (and docker-compose's) has them. */
  readonly replicas?: number;
  /** Extra redis-server arguments for every node. */
  readonly args?: readonly string[];
  /** How long the nodes get to agree (default 20 s). */
  readonly readyTimeoutMs?: number;
}

export const MAX_EMBEDDED_SHARDS = 16;

export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const shards = options.shards ?? 3;
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_EMBEDDED_SHARDS) throw new TargetError(`an embedded cluster has 1 to ${MAX_EMBEDDED_SHARDS} shards, not ${shards}`);
  const replicas = options.replicas ?? 0;
  const nodes: LocalRedis[] = [];
  const replicaNodes: LocalRedis[] = [];
  const busPorts: number[] = [];
  const clients: Redis[] = [];
  const stop = async () => {
    for (const c of clients) c.disconnect();
    await Promise.all([...nodes, ...replicaNodes].map((n) => n.stop()));
  };
  try {
    for (let i = 0; i < shards * (1 + replicas); i++) {
      // The cluster bus needs a second port; by default it is port + 10000, which may be taken.
      const busPort = await freePort();
      busPorts.push(busPort);
      (i < shards ? nodes : replicaNodes).push(await startLocalRedis({
        args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(busPort),
          '--cluster-node-timeout', '5000', '--cluster-require-full-coverage', 'yes', ...(options.args ?? [])],
      }));
    }
    const all = [...nodes, ...replicaNodes];
    for (const node of all) {
      const client = new Redis({ host: node.host, port: node.port, lazyConnect: true, maxRetriesPerRequest: 1, enableReadyCheck: false });
      client.on('error', () => {});
      clients.push(client);
      await client.connect();
    }
    const slots = nodes.map((_, i) => [Math.floor((i * SLOTS) / shards), Math.floor(((i + 1) * SLOTS) / shards) - 1] as const);
    for (let i = 0; i < shards; i++) await clients[i]!.call('CLUSTER', 'ADDSLOTSRANGE', String(slots[i]![0]), String(slots[i]![1]));
    for (let i = 1; i < all.length; i++) await clients[0]!.call('CLUSTER', 'MEET', all[i]!.host, String(all[i]!.port), String(busPorts[i]));
    if (replicas > 0) {
      // A replica can follow its primary once it knows it (gossip after the MEET).
      const ids = await Promise.all(clients.slice(0, shards).map(async (c) => String(await c.call('CLUSTER', 'MYID'))));
      for (let r = 0; r < replicaNodes.length; r++) {
        const client = clients[shards + r]!;
        const primary = ids[Math.floor(r / replicas)]!;
        const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
        while (!String(await client.call('CLUSTER', 'NODES')).includes(primary)) {
          if (Date.now() > deadline) throw new TargetError('the embedded Redis Cluster\'s replicas did not learn of their primaries in time');
          await new Promise((res) => setTimeout(res, 50));
        }
        await client.call('CLUSTER', 'REPLICATE', primary);
      }
    }
    await waitUntilAgreed(clients, shards, options.readyTimeoutMs ?? 20_000);
    for (const c of clients) c.disconnect();
    clients.length = 0;
    return { nodes, replicaNodes, slots, stop };
  } catch (err) {
    await stop();
    if (err instanceof TargetError) throw err;
    throw new TargetError(`the embedded Redis Cluster did not start: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Every node says cluster_state:ok and maps the slots to all `shards` primaries. */
async function waitUntilAgreed(clients: readonly Redis[], shards: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    let agreed = true;
    for (const client of clients) {
      const info = String(await client.call('CLUSTER', 'INFO'));
      const state = /cluster_state:(\w+)/.exec(info)?.[1];
      const known = Number(/cluster_size:(\d+)/.exec(info)?.[1] ?? 0);
      if (state !== 'ok' || known !== shards) {
        agreed = false;
        last = `cluster_state:${state}, cluster_size:${known} of ${shards}`;
        break;
      }
    }
    if (agreed) return;
    if (Date.now() > deadline) throw new TargetError(`the embedded Redis Cluster did not agree within ${timeoutMs} ms (${last})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
