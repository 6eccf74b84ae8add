/**
 * The admin side of a run against a real 3-primary Redis Cluster: seeding, script loading, the
 * stock samples, the snapshot, cleanup and the server marks work per shard, each key on the
 * primary that owns its slot, with the default key names and a team's own; after slots move,
 * refresh() reads every key where it is now.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { TargetError } from '../../src/errors.js';
import { DEFAULT_KEY_TEMPLATES, RunKeys, type KeyTemplates } from '../../src/keys.js';
import { readStock } from '../../src/load/sampler.js';
import { marksChanged, openTarget, serverMarks, type Target } from '../../src/redis/index.js';
import { loadScript, scriptSha } from '../../src/redis/script.js';
import { removeRunKeys, seedStock } from '../../src/redis/seed.js';
import { ShardAdmins } from '../../src/redis/shards.js';
import { keySlot } from '../../src/redis/slot.js';
import { takeSnapshot } from '../../src/verify/snapshot.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

let cluster: TestCluster;
let target: Target;
beforeAll(async () => {
  cluster = await startTestCluster();
  target = await openTarget({ redis: cluster.url });
});
afterAll(async () => {
  await target?.close();
  await cluster?.stop();
});

const SKUS = 30;
const SHOP: KeyTemplates = { stock: 'shop:{<sku>}:stock', journal: 'shop:{<sku>}:journal' };

/** The run's shards, closed after `body`. */
async function withShards<T>(keys: RunKeys, body: (shards: ShardAdmins) => Promise<T>, skus = SKUS): Promise<T> {
  const shards = await ShardAdmins.open(target, keys, skus);
  try {
    return await body(shards);
  } finally {
    shards.close();
  }
}

/** Every key on every primary (the tests' keys are few). */
async function allKeys(): Promise<string[]> {
  return (await Promise.all(cluster.nodes.map((n) => n.keys('*')))).flat().sort();
}

function entry(id: string, from: number): string {
  return JSON.stringify({ action: 'decrease', from, to: from - 1, change: 1, by: id, timestamp: 1 });
}

describe.each([
  ['the default key names', DEFAULT_KEY_TEMPLATES],
  ['a team\'s own key names', SHOP],
])('seeding, snapshot and cleanup per shard, with %s', (_name, templates) => {
  it('puts each SKU\'s stock on the primary that owns it, reads back journals written on every shard, and leaves no key on any primary', async () => {
    const keys = new RunKeys(templates, `run-${templates.stock.length}`);
    await withShards(keys, async (shards) => {
      expect(shards.topology.shards).toHaveLength(3);
      await seedStock(shards, 9);
      const owners = new Set<Redis>();
      for (let sku = 0; sku < SKUS; sku++) {
        const owner = await cluster.ownerOf(keys.stock(sku));
        owners.add(owner);
        expect(await owner.get(keys.stock(sku)), `SKU ${sku}`).toBe('9');
        // The owner is the shard the run thinks it is.
        expect(cluster.nodes[shards.owners[sku]!], `SKU ${sku}`).toBe(owner);
      }
      expect(owners.size).toBe(3); // the SKUs spread over every shard
      expect(await allKeys()).toHaveLength(SKUS);

      // Journals and deductions written on each SKU's owner, as the script would.
      for (let sku = 0; sku < SKUS; sku++) {
        const owner = await cluster.ownerOf(keys.journal(sku));
        const ids = Array.from({ length: sku % 3 }, (_, i) => `DEC-7-${sku * 10 + i}`);
        if (ids.length > 0) await owner.hset(keys.journal(sku), ...ids.flatMap((id, i) => [id, entry(id, 9 - i)]));
        await owner.set(keys.stock(sku), String(9 - ids.length));
      }
      const snap = await takeSnapshot(shards, 7);
      expect(snap.finalRaw).toEqual(Array.from({ length: SKUS }, (_, sku) => String(9 - (sku % 3))));
      expect(Array.from(snap.journalLength)).toEqual(Array.from({ length: SKUS }, (_, sku) => sku % 3));
      expect(snap.journal.count).toBe(SKUS); // 0 + 1 + 2 per three SKUs
      for (let row = 0; row < snap.journal.count; row++) {
        const sku = snap.journal.sku[row]!;
        expect(Math.floor(snap.journal.index[row]! / 10), `row ${row}`).toBe(sku);
        expect(snap.journal.byMatches[row]).toBe(1);
      }

      expect(await removeRunKeys(shards)).toEqual({ keysLeft: 0 });
      expect(await allKeys()).toEqual([]);
    });
  });
});

describe('refusing to overwrite', () => {
  it('refuses when a key of the run exists on any shard, names it, and writes nothing on any primary', async () => {
    const keys = new RunKeys(DEFAULT_KEY_TEMPLATES, 'refuse');
    // A SKU owned by a shard other than the node sellout was pointed at.
    let sku = 0;
    while ((await cluster.ownerOf(keys.journal(sku))) === cluster.nodes[0]) sku++;
    const owner = await cluster.ownerOf(keys.journal(sku));
    await owner.hset(keys.journal(sku), 'someone', 'else');
    try {
      await withShards(keys, async (shards) => {
        const seeding = seedStock(shards, 5);
        await expect(seeding).rejects.toThrow(TargetError);
        await expect(seeding).rejects.toThrow(`refusing to overwrite 1 existing key(s) such as ${keys.journal(sku)}: sellout only writes keys it creates`);
      });
      expect(await allKeys()).toEqual([keys.journal(sku)]);
      expect(await owner.hgetall(keys.journal(sku))).toEqual({ someone: 'else' });
    } finally {
      await owner.unlink(keys.journal(sku));
    }
  });
});

describe('the script and the stock samples', () => {
  it('loads the script on every primary', async () => {
    const source = `return ${Date.now()}`;
    await withShards(new RunKeys(DEFAULT_KEY_TEMPLATES, 'script'), async (shards) => {
      const loaded = await loadScript(shards.admins, source, 'inline.lua');
      expect(loaded.sha).toBe(scriptSha(source));
    });
    for (const node of cluster.nodes) expect(await node.script('EXISTS', scriptSha(source))).toEqual([1]);
    for (const node of cluster.nodes) await node.script('FLUSH');
  });

  it('reads sampled stock per shard (an MGET across slots would fail with CROSSSLOT)', async () => {
    const keys = new RunKeys(DEFAULT_KEY_TEMPLATES, 'sample');
    await withShards(keys, async (shards) => {
      await seedStock(shards, 4);
      try {
        const last = await cluster.ownerOf(keys.stock(SKUS - 1));
        await last.set(keys.stock(SKUS - 1), '1');
        const expected = Array.from({ length: SKUS }, (_, sku) => (sku === SKUS - 1 ? 1 : 4));
        expect(await readStock(shards, SKUS)).toEqual(expected);
        await expect(target.admin.mget(keys.stock(0), keys.stock(1))).rejects.toThrow(/CROSSSLOT|MOVED/);
      } finally {
        await removeRunKeys(shards);
      }
    });
  });

  it('a FLUSHALL on any one primary shows in the server marks', async () => {
    await withShards(new RunKeys(DEFAULT_KEY_TEMPLATES, 'marks'), async (shards) => {
      const before = await serverMarks(shards);
      expect([...before.nodes.keys()]).toEqual(shards.topology.shards.map((s) => s.node));
      expect(marksChanged(before, await serverMarks(shards))).toEqual([]);
      await cluster.nodes[2]!.flushall();
      expect(marksChanged(before, await serverMarks(shards))).toEqual(['FLUSHALL/FLUSHDB ran 1 time(s) during the run']);
    });
  });
});

describe('a naming whose two keys fall in different slots (preflight off)', () => {
  it('is seeded, read back and removed key by key, each key on its own owner', async () => {
    const keys = new RunKeys({ stock: 'clc:inventory:<sku>', journal: 'clc:inventory:stream:<sku>' }, 'split');
    await withShards(keys, async (shards) => {
      expect(shards.paired).toBe(false);
      await seedStock(shards, 3);
      for (let sku = 0; sku < SKUS; sku++) {
        expect(await (await cluster.ownerOf(keys.stock(sku))).get(keys.stock(sku))).toBe('3');
        await (await cluster.ownerOf(keys.journal(sku))).hset(keys.journal(sku), `DEC-1-${sku}`, entry(`DEC-1-${sku}`, 3));
      }
      const snap = await takeSnapshot(shards, 1);
      expect(snap.finalRaw).toEqual(Array(SKUS).fill('3'));
      expect(Array.from(snap.journalLength)).toEqual(Array(SKUS).fill(1));
      expect(Array.from(snap.journal.index.subarray(0, snap.journal.count)).sort((a, b) => a - b)).toEqual(Array.from({ length: SKUS }, (_, i) => i));
      expect(await removeRunKeys(shards)).toEqual({ keysLeft: 0 });
      expect(await allKeys()).toEqual([]);
    });
  });
});

describe('refresh after slots moved during the run', () => {
  it('reads every key where it is now, and removes it there', async () => {
    const keys = new RunKeys(SHOP, 'moved');
    await withShards(keys, async (shards) => {
      await seedStock(shards, 6);
      // Move SKU 0's slot to another primary, keys and all (what a resharding does).
      const slot = keySlot(keys.stock(0));
      const from = await cluster.ownerOf(keys.stock(0));
      const to = cluster.nodes.find((n) => n !== from)!;
      await from.hset(keys.journal(0), 'DEC-2-0', entry('DEC-2-0', 6));
      await from.set(keys.stock(0), '5');
      const [fromId, toId] = await Promise.all([from.call('CLUSTER', 'MYID'), to.call('CLUSTER', 'MYID')]) as string[];
      await to.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', fromId!);
      await from.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', toId!);
      await from.call('MIGRATE', to.options.host!, String(to.options.port), '', '0', '5000', 'KEYS', keys.stock(0), keys.journal(0));
      for (const node of [to, from, ...cluster.nodes.filter((n) => n !== from && n !== to)]) await node.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', toId!);
      const ownerBefore = shards.owners[0]!;
      // Until refresh, the run still points SKU 0 at its old owner, which now answers MOVED.
      await expect(takeSnapshot(shards, 2)).rejects.toThrow(/MOVED/);

      await shards.refresh();
      expect(cluster.nodes[shards.owners[0]!]).toBe(to);
      expect(shards.owners[0]).not.toBe(ownerBefore);
      expect(shards.admins).toHaveLength(3);
      const snap = await takeSnapshot(shards, 2);
      expect(snap.finalRaw[0]).toBe('5');
      expect(snap.journalLength[0]).toBe(1);
      expect(snap.finalRaw.slice(1)).toEqual(Array(SKUS - 1).fill('6'));
      expect(await removeRunKeys(shards)).toEqual({ keysLeft: 0 });
      expect(await allKeys()).toEqual([]);
    });
  });
});
