/**
 * The load engine against a real 3-primary Redis Cluster: requests go to the primary owning their
 * SKU's slot, and a slot moved during the load (IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE) is
 * followed through its ASK and MOVED redirects without losing a request's outcome.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { driveLoad, type LoadResult } from '../../src/load/coordinator.js';
import { initHistograms } from '../../src/metrics/histogram.js';
import { parseScenario, type Scenario } from '../../src/scenario/load.js';
import { DEFAULT_KEY_TEMPLATES, RunKeys } from '../../src/keys.js';
import { connectAdmin } from '../../src/redis/index.js';
import { scriptSha } from '../../src/redis/script.js';
import { keySlot } from '../../src/redis/slot.js';
import { discoverTopology, skuShards, type Topology } from '../../src/redis/topology.js';
import { ROOT } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { migrateSlot } from '../helpers/migrate.js';
import { maxOutstanding } from '../helpers/concurrency.js';
import { freePort } from '../../src/redis/local.js';

let cluster: TestCluster;
let admin: Redis;
let runs = 0;

beforeAll(async () => {
  await initHistograms();
  cluster = await startTestCluster();
  admin = await connectAdmin({ host: '127.0.0.1', port: cluster.cluster.nodes[0]!.port, db: 0, tls: false });
});
afterAll(async () => {
  admin?.disconnect();
  await cluster?.stop();
});

function scenario(yaml: string): Scenario {
  return parseScenario(`name: t\nscript: ../lua/deduct.lua\nseed: 5\n${yaml}`, `${ROOT}/test/t.yaml`, { cwd: ROOT });
}

async function topologyNow(): Promise<Topology> {
  return discoverTopology(admin, { host: '127.0.0.1', port: cluster.cluster.nodes[0]!.port, db: 0, tls: false });
}

/** Seeds each SKU on its owner, loads the script everywhere, drives the load; `during` runs meanwhile. */
async function drive(s: Scenario, during?: (keys: RunKeys, topology: Topology) => Promise<void>, signal?: AbortSignal): Promise<{ load: LoadResult; keys: RunKeys }> {
  const runId = `c${++runs}`;
  const keys = new RunKeys(DEFAULT_KEY_TEMPLATES, runId);
  const topology = await topologyNow();
  const owners = skuShards(topology, keys, s.skus.count);
  for (let sku = 0; sku < s.skus.count; sku++) await cluster.nodes[owners[sku]!]!.set(keys.stock(sku), String(s.skus.stock), 'NX');
  for (const node of cluster.nodes) await node.script('LOAD', s.scriptSource);
  const [load] = await Promise.all([
    driveLoad({ scenario: s, topology, keys, runId, scriptSha: scriptSha(s.scriptSource), ...(signal ? { signal } : {}) }),
    during?.(keys, topology),
  ]);
  for (const h of [...load.histograms, ...(load.histogramsRaw ?? [])]) h.destroy();
  return { load, keys };
}

/** Journal entries and units sold per shard, read from each SKU's owner now. */
async function readBack(s: Scenario, keys: RunKeys): Promise<{ journal: number[]; sold: number }> {
  const owners = skuShards(await topologyNow(), keys, s.skus.count);
  const journal = cluster.nodes.map(() => 0);
  let sold = 0;
  for (let sku = 0; sku < s.skus.count; sku++) {
    const node = cluster.nodes[owners[sku]!]!;
    journal[owners[sku]!]! += await node.hlen(keys.journal(sku));
    sold += s.skus.stock - Number(await node.get(keys.stock(sku)));
  }
  return { journal, sold };
}

describe('the engine on a Redis Cluster', () => {
  for (const load of ['{connections: 4, inFlight: 4}', '{model: constant-rate, rate: 5000, connections: 4}']) {
    it(`sends each deduction to its SKU's primary: every shard serves, nothing oversold (${load})`, async () => {
      const s = scenario(`skus: {count: 30, stock: 50}\nrequests: 3000\nload: ${load}\nduplicates: {ratio: 0.1}`);
      const { load: result, keys } = await drive(s);
      expect(result.counts.error + result.counts.unknown).toBe(0);
      expect(result.counts.ok).toBe(1500);
      expect(result.redirects).toEqual({ moved: 0, ask: 0, tryagain: 0 });
      const back = await readBack(s, keys);
      expect(back.sold).toBe(1500);
      expect(back.journal.reduce((a, b) => a + b, 0)).toBe(1500);
      // 30 SKUs spread over three primaries: each holds some of the journal.
      expect(back.journal.every((n) => n > 0)).toBe(true);
      if (load.startsWith('{connections')) {
        // connections x inFlight per primary, never more.
        const owners = skuShards(await topologyNow(), keys, s.skus.count);
        for (let shard = 0; shard < 3; shard++) expect(maxOutstanding(result.records, (row) => owners[result.records.sku[row]!] === shard)).toBe(16);
      }
    });
  }

  for (const load of ['{connections: 4, inFlight: 4}', '{model: constant-rate, rate: 4000, connections: 4}']) {
    it(`follows a slot moved during the load through ASK and MOVED without losing an outcome (${load})`, async () => {
      const s = scenario(`skus: {count: 6, stock: 10000000}\nduration: 2s\nload: ${load}\nduplicates: {ratio: 0.1}`);
      const { load: result, keys } = await drive(s, async (keys, topology) => {
        await new Promise((r) => setTimeout(r, 600));
        const from = topology.slotOwner[keySlot(keys.stock(0))]!;
        expect(await migrateSlot(cluster.nodes, keySlot(keys.stock(0)), from, (from + 1) % 3, { pauseMs: 100 })).toBeGreaterThanOrEqual(2);
      });
      expect(result.routeProblems).toEqual([]);
      expect(result.counts.error + result.counts.unknown).toBe(0);
      // Requests that met the slot half-moved were sent on with ASKING; after the move, MOVED.
      expect(result.redirects.ask).toBeGreaterThan(0);
      expect(result.redirects.moved).toBeGreaterThan(0);
      const back = await readBack(s, keys);
      // Every acknowledged deduction is in the journal, on whichever primary owns the SKU now.
      expect(back.journal.reduce((a, b) => a + b, 0)).toBe(result.counts.ok);
      expect(back.sold).toBe(result.counts.ok);
    });
  }

  it('a MOVED to an address that refuses connections: those deductions are errors, and the run names the node', async () => {
    // The load lasts until half a second after the move, however long gossip takes on a loaded machine.
    const s = scenario('skus: {count: 3, stock: 10000000}\nduration: 60s\nload: {connections: 2, inFlight: 2}');
    const stop = new AbortController();
    let bogus = '';
    const { load: result } = await drive(s, async (keys, topology) => {
      await new Promise((r) => setTimeout(r, 400));
      const from = topology.slotOwner[keySlot(keys.stock(0))]!;
      const to = (from + 1) % 3;
      // The new owner announces a port nothing listens on: the cluster sends clients there.
      const port = await freePort();
      bogus = `127.0.0.1:${port}`;
      await cluster.nodes[to]!.config('SET', 'cluster-announce-port', String(port));
      // Gossip carries the new address to the other primaries.
      while (!String(await cluster.nodes[from]!.call('CLUSTER', 'NODES')).includes(bogus)) await new Promise((r) => setTimeout(r, 50));
      await migrateSlot(cluster.nodes, keySlot(keys.stock(0)), from, to);
      await new Promise((r) => setTimeout(r, 500));
      stop.abort();
    }, stop.signal);
    for (const node of cluster.nodes) await node.config('SET', 'cluster-announce-port', '0');
    // The next test must find every primary where it listens again.
    while ((await Promise.all(cluster.nodes.map(async (n) => String(await n.call('CLUSTER', 'NODES'))))).some((text) => text.includes(bogus))) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(result.routeProblems.join('\n')).toContain(`to ${bogus}, which sellout could not connect to`);
    expect(result.counts.error).toBeGreaterThan(0);
    expect(result.counts.unknown).toBe(0);
  });

  it("TRYAGAIN while a SKU's two keys are split across the move: resent after a pause, nothing lost", async () => {
    const s = scenario('skus: {count: 3, stock: 10000000}\nduration: 2s\nload: {connections: 2, inFlight: 2}');
    const { load: result, keys } = await drive(s, async (keys, topology) => {
      await new Promise((r) => setTimeout(r, 600));
      const from = topology.slotOwner[keySlot(keys.stock(0))]!;
      await migrateSlot(cluster.nodes, keySlot(keys.stock(0)), from, (from + 1) % 3, { pauseMs: 150, oneKeyAtATime: true });
    });
    expect(result.routeProblems).toEqual([]);
    expect(result.redirects.tryagain).toBeGreaterThan(0);
    expect(result.counts.error).toBe(0);
    expect(result.counts.unknown).toBe(0);
    const back = await readBack(s, keys);
    expect(back.journal.reduce((a, b) => a + b, 0)).toBe(result.counts.ok);
    expect(back.sold).toBe(result.counts.ok);
  });
});
