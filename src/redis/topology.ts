/**
 * Which server owns which keys. A standalone server is a topology of one shard owning every slot,
 * so seeding, the hot path, the snapshot and cleanup have one code path for both: each works per
 * shard on the SKUs that shard owns. A Redis Cluster's map comes from CLUSTER SLOTS (primaries
 * only: writes go there), checked before anything is written: the cluster must say
 * `cluster_state:ok` and every slot must have an owner.
 */
import type { Redis } from 'ioredis';
import { TargetError } from '../errors.js';
import type { RunKeys } from '../keys.js';
import { keySlot, SLOTS } from './slot.js';
import { endpointUrl, type RedisEndpoint } from './url.js';

export interface Shard {
  /** `host:port` of the primary, as the cluster announces it. */
  readonly node: string;
  readonly endpoint: RedisEndpoint;
  /** Slot ranges it owns, inclusive: [[0, 5460]]. */
  readonly slots: readonly (readonly [number, number])[];
}

export interface Topology {
  readonly cluster: boolean;
  readonly shards: readonly Shard[];
  /** Slot -> index in `shards` (every slot owned: discoverTopology refuses a map with holes). */
  readonly slotOwner: Uint16Array;
}

export function standaloneTopology(endpoint: RedisEndpoint): Topology {
  return {
    cluster: false,
    shards: [{ node: `${endpoint.host}:${endpoint.port}`, endpoint, slots: [[0, SLOTS - 1]] }],
    slotOwner: new Uint16Array(SLOTS),
  };
}

/** Is the server at the other end of `admin` a cluster node (INFO cluster: cluster_enabled:1)? */
export async function isClusterNode(admin: Redis): Promise<boolean> {
  try {
    return /cluster_enabled:1/.test(await admin.info('cluster'));
  } catch {
    return false;
  }
}

/**
 * The primaries of the cluster `admin` is a node of, and who owns each slot. Every node is reached
 * with the seed endpoint's credentials and TLS settings.
 */
export async function discoverTopology(admin: Redis, seed: RedisEndpoint): Promise<Topology> {
  const where = endpointUrl(seed);
  let state: string | undefined;
  let slots: unknown;
  try {
    state = /cluster_state:(\w+)/.exec(String(await admin.call('CLUSTER', 'INFO')))?.[1];
    slots = await admin.call('CLUSTER', 'SLOTS');
  } catch (err) {
    throw new TargetError(`Redis Cluster node ${where} did not describe its cluster: ${(err as Error).message.split('\n')[0]}`);
  }
  if (state !== 'ok') {
    throw new TargetError(`the Redis Cluster of ${where} is not ready: cluster_state:${state ?? 'unknown'}`, 'wait until CLUSTER INFO says cluster_state:ok (every slot assigned, every primary reachable)');
  }
  return topologyFromSlots(slots, seed);
}

/** CLUSTER SLOTS's reply (`[[start, end, [ip, port, id, …], replica…], …]`) as a topology. */
export function topologyFromSlots(reply: unknown, seed: RedisEndpoint): Topology {
  const where = endpointUrl(seed);
  if (!Array.isArray(reply)) throw new TargetError(`Redis Cluster node ${where} answered CLUSTER SLOTS with something that is not a slot map`);
  const byNode = new Map<string, { endpoint: RedisEndpoint; slots: [number, number][] }>();
  const owner = new Int32Array(SLOTS).fill(-1);
  for (const range of reply) {
    if (!Array.isArray(range) || range.length < 3 || !Array.isArray(range[2])) continue;
    const start = Number(range[0]);
    const end = Number(range[1]);
    const primary = range[2] as unknown[];
    // An empty or unknown IP means "the address you reached me at" (the spec's NULL / "?").
    const rawHost = String(primary[0] ?? '');
    const host = rawHost === '' || rawHost === '?' ? seed.host : rawHost;
    const port = Number(primary[1]);
    const node = `${host}:${port}`;
    let entry = byNode.get(node);
    if (entry === undefined) {
      entry = { endpoint: { ...seed, host, port, db: 0 }, slots: [] };
      byNode.set(node, entry);
    }
    entry.slots.push([start, end]);
  }
  const shards: Shard[] = [...byNode.entries()]
    .map(([node, { endpoint, slots }]) => ({ node, endpoint, slots: slots.sort((a, b) => a[0] - b[0]) }))
    .sort((a, b) => a.slots[0]![0] - b.slots[0]![0]);
  shards.forEach((shard, i) => {
    for (const [start, end] of shard.slots) owner.fill(i, start, end + 1);
  });
  const hole = owner.indexOf(-1);
  if (hole >= 0) {
    let end = hole;
    while (end + 1 < SLOTS && owner[end + 1] === -1) end++;
    throw new TargetError(
      `the Redis Cluster of ${where} has no owner for slot${end > hole ? `s ${hole}-${end}` : ` ${hole}`}`,
      'assign every slot to a primary (CLUSTER ADDSLOTSRANGE, or redis-cli --cluster fix) before a run',
    );
  }
  return { cluster: true, shards, slotOwner: Uint16Array.from(owner) };
}

/** The shard owning each SKU's keys (by its stock key's slot: the preflight checks the journal's is the same). */
export function skuShards(topology: Topology, keys: RunKeys, skuCount: number, slots?: Uint16Array): Uint16Array {
  const shards = new Uint16Array(skuCount);
  if (!topology.cluster) return shards;
  const skuSlot = slots ?? skuSlots(keys, skuCount);
  for (let sku = 0; sku < skuCount; sku++) shards[sku] = topology.slotOwner[skuSlot[sku]!]!;
  return shards;
}

/** The slot of each SKU's stock key (one CRC16 per SKU: a million SKUs take about a second). */
export function skuSlots(keys: RunKeys, skuCount: number): Uint16Array {
  const slots = new Uint16Array(skuCount);
  for (let sku = 0; sku < skuCount; sku++) slots[sku] = keySlot(keys.stock(sku));
  return slots;
}

/** The SKUs each shard owns, in SKU order. */
export function skusByShard(topology: Topology, owners: Uint16Array): Uint32Array[] {
  const counts = new Uint32Array(topology.shards.length);
  for (let sku = 0; sku < owners.length; sku++) counts[owners[sku]!]!++;
  const lists = Array.from(counts, (n) => new Uint32Array(n));
  const filled = new Uint32Array(topology.shards.length);
  for (let sku = 0; sku < owners.length; sku++) {
    const shard = owners[sku]!;
    lists[shard]![filled[shard]!++] = sku;
  }
  return lists;
}

/**
 * A SKU whose stock and journal keys fall in different slots cannot run in a cluster (the script
 * touches both: CROSSSLOT). The first such SKU, to name in the preflight's error.
 */
export function crossSlotSku(keys: RunKeys, skuCount: number): { sku: number; stock: string; journal: string; stockSlot: number; journalSlot: number } | undefined {
  for (let sku = 0; sku < skuCount; sku++) {
    const stock = keys.stock(sku);
    const journal = keys.journal(sku);
    const stockSlot = keySlot(stock);
    const journalSlot = keySlot(journal);
    if (stockSlot !== journalSlot) return { sku, stock, journal, stockSlot, journalSlot };
  }
  return undefined;
}
