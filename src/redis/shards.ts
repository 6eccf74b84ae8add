/**
 * The admin side of a run, per shard: one admin connection per primary, and which SKUs each
 * primary holds. Seeding, script loading, the stock samples, the snapshot and cleanup all work
 * shard by shard on the SKUs the shard owns; a standalone server is one shard owning every SKU, so
 * they have one code path for both.
 *
 * A SKU belongs to the shard of its stock key's slot. Its journal is on the same shard, in the
 * same slot, unless the key templates put the two keys in different slots (the preflight refuses
 * that in a cluster unless it is switched off): then the journals are listed per shard apart, and
 * every command names one key only.
 */
import type { Redis } from 'ioredis';
import type { RunKeys } from '../keys.js';
import { connectAdmin, type Target } from './index.js';
import { keySlot } from './slot.js';
import { crossSlotSku, discoverTopology, skuShards, skusByShard, standaloneTopology, type Topology } from './topology.js';

/** What the admin functions need (a ShardAdmins, or one built by hand in a test). */
export interface ShardSet {
  readonly keys: RunKeys;
  readonly skuCount: number;
  readonly topology: Topology;
  /** The admin connection of each shard (index as in `topology.shards`). */
  readonly admins: readonly Redis[];
  /** SKU -> shard holding its stock key. */
  readonly owners: Uint16Array;
  /** Shard -> the SKUs whose stock key it holds, ascending. */
  readonly skus: readonly Uint32Array[];
  /** Shard -> the SKUs whose journal it holds: `skus` itself when `paired`. */
  readonly journalSkus: readonly Uint32Array[];
  /** Every SKU's two keys share a slot, so one command may name both (always, but in a cluster run whose preflight was switched off). */
  readonly paired: boolean;
}

/** One walk over a shard's keys: both keys of each SKU listed (`paired`), or only its stock keys, or only its journals. */
export interface ShardPass {
  readonly skus: Uint32Array;
  readonly stock: boolean;
  readonly journal: boolean;
}

/** The walks that cover shard `shard`'s keys: one naming both keys of each SKU when paired, else one per kind of key. */
export function passesOf(shards: ShardSet, shard: number): ShardPass[] {
  if (shards.paired) return [{ skus: shards.skus[shard]!, stock: true, journal: true }];
  return [{ skus: shards.skus[shard]!, stock: true, journal: false }, { skus: shards.journalSkus[shard]!, stock: false, journal: true }];
}

/** The keys one command names for `sku` in a pass. */
export function passKeys(keys: RunKeys, pass: ShardPass, sku: number): string[] {
  return pass.stock && pass.journal ? [keys.stock(sku), keys.journal(sku)] : [pass.stock ? keys.stock(sku) : keys.journal(sku)];
}

/** `host:port` of a shard, as a suffix for messages (` on 127.0.0.1:7001`), empty for a standalone server. */
export function onShard(shards: Pick<ShardSet, 'topology'>, shard: number): string {
  return shards.topology.cluster ? ` on ${shards.topology.shards[shard]!.node}` : '';
}

export class ShardAdmins implements ShardSet {
  topology: Topology;
  admins: Redis[];
  owners: Uint16Array;
  skus: readonly Uint32Array[];
  journalSkus: readonly Uint32Array[];
  readonly paired: boolean;

  private constructor(
    readonly keys: RunKeys,
    readonly skuCount: number,
    /** The connection sellout was given (target.admin): reused for its shard, never closed here. */
    private readonly home: { readonly admin: Redis; readonly node: string },
    topology: Topology,
    admins: Redis[],
  ) {
    this.topology = topology;
    this.admins = admins;
    // Whether the two keys of every SKU share a slot depends on the names only: found once.
    this.paired = !topology.cluster || crossSlotSku(keys, skuCount) === undefined;
    ({ owners: this.owners, skus: this.skus, journalSkus: this.journalSkus } = layout(topology, keys, skuCount, this.paired));
  }

  /**
   * The run's shards as the target's topology has them: target.admin for the node sellout was
   * pointed at, a new admin connection to each other primary.
   */
  static async open(target: Pick<Target, 'admin' | 'endpoint' | 'topology'>, keys: RunKeys, skuCount: number): Promise<ShardAdmins> {
    const home = { admin: target.admin, node: `${target.endpoint.host}:${target.endpoint.port}` };
    const admins = await connectAll(target.topology, home, new Map());
    return new ShardAdmins(keys, skuCount, home, target.topology, admins);
  }

  /**
   * Reads the slot map again (after the load: a resharding or a failover may have moved slots
   * during the run) and points each SKU at its owner now; connections to primaries still there
   * are kept, new primaries are connected, the others closed. Nothing to do for a standalone server.
   */
  async refresh(): Promise<void> {
    if (!this.topology.cluster) return;
    const topology = await this.discover();
    // Nothing moved (the usual case): keep the table (a million SKUs take a second to place).
    if (sameOwners(this.topology, topology)) return;
    const byNode = new Map(this.topology.shards.map((s, i) => [s.node, this.admins[i]!]));
    const admins = await connectAll(topology, this.home, byNode);
    for (const [node, admin] of byNode) {
      if (admin !== this.home.admin && !topology.shards.some((s) => s.node === node)) admin.disconnect();
    }
    this.topology = topology;
    this.admins = admins;
    ({ owners: this.owners, skus: this.skus, journalSkus: this.journalSkus } = layout(topology, this.keys, this.skuCount, this.paired));
  }

  /** Closes the connections opened here (target.admin is the target's to close). */
  close(): void {
    for (const admin of this.admins) if (admin !== this.home.admin) admin.disconnect();
    this.admins = this.admins.filter((admin) => admin === this.home.admin);
  }

  /** The slot map, from the node sellout was pointed at or, when it does not answer (failed over, gone), from any other primary. */
  private async discover(): Promise<Topology> {
    const candidates = [
      { admin: this.home.admin, endpoint: this.topology.shards.find((s) => s.node === this.home.node)?.endpoint ?? this.topology.shards[0]!.endpoint },
      ...this.topology.shards.map((s, i) => ({ admin: this.admins[i]!, endpoint: s.endpoint })).filter((c) => c.admin !== this.home.admin),
    ];
    let first: unknown;
    for (const { admin, endpoint } of candidates) {
      try {
        return await discoverTopology(admin, endpoint);
      } catch (err) {
        first ??= err;
      }
    }
    throw first;
  }
}

/** A connection per shard: kept from `existing` by node, the home connection for its node, new ones for the rest (all closed again if one fails). */
async function connectAll(topology: Topology, home: { admin: Redis; node: string }, existing: ReadonlyMap<string, Redis>): Promise<Redis[]> {
  const settled = await Promise.allSettled(topology.shards.map(async (shard) => {
    const kept = existing.get(shard.node) ?? (shard.node === home.node ? home.admin : undefined);
    return kept !== undefined ? { admin: kept, opened: false } : { admin: await connectAdmin(shard.endpoint), opened: true };
  }));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    for (const s of settled) if (s.status === 'fulfilled' && s.value.opened) s.value.admin.disconnect();
    throw failed.reason;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<{ admin: Redis }>).value.admin);
}

/** Which shard holds which SKU's keys. */
function layout(topology: Topology, keys: RunKeys, skuCount: number, paired: boolean): Pick<ShardSet, 'owners' | 'skus' | 'journalSkus'> {
  const owners = skuShards(topology, keys, skuCount);
  const skus = skusByShard(topology, owners);
  if (paired) return { owners, skus, journalSkus: skus };
  const journalOwners = new Uint16Array(skuCount);
  for (let sku = 0; sku < skuCount; sku++) journalOwners[sku] = topology.slotOwner[keySlot(keys.journal(sku))]!;
  return { owners, skus, journalSkus: skusByShard(topology, journalOwners) };
}

/** The same primaries, in the same order, owning the same slots. */
function sameOwners(a: Topology, b: Topology): boolean {
  if (a.shards.length !== b.shards.length || a.shards.some((s, i) => s.node !== b.shards[i]!.node)) return false;
  for (let slot = 0; slot < a.slotOwner.length; slot++) if (a.slotOwner[slot] !== b.slotOwner[slot]) return false;
  return true;
}

/** One server, one connection (tests and tools that talk to a standalone server they started). */
export function standaloneShards(admin: Redis, keys: RunKeys, skuCount: number): ShardSet {
  const skus = Uint32Array.from({ length: skuCount }, (_, sku) => sku);
  const endpoint = { host: admin.options.host ?? '127.0.0.1', port: admin.options.port ?? 6379, db: admin.options.db ?? 0, tls: false };
  return {
    keys,
    skuCount,
    topology: standaloneTopology(endpoint),
    admins: [admin],
    owners: new Uint16Array(skuCount),
    skus: [skus],
    journalSkus: [skus],
    paired: true,
  };
}
