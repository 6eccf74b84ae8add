/**
 * Per-shard figures on a real 3-primary cluster: the topology CLUSTER SLOTS gives, the SKU -> shard
 * table from the keys' slots, and each primary's INFO readings. What sellout counts per shard must
 * be what each server counted itself (cmdstat_evalsha), as memtier's tests check its counts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_KEY_TEMPLATES, RunKeys } from '../../src/keys.js';
import { newRecords, reserveRow } from '../../src/metrics/records.js';
import { shardFigures } from '../../src/metrics/shards.js';
import { readServerStats } from '../../src/redis/server-stats.js';
import { discoverTopology, skuShards } from '../../src/redis/topology.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

let cluster: TestCluster;
beforeAll(async () => { cluster = await startTestCluster(); });
afterAll(async () => { await cluster?.stop(); });

const SCRIPT = "return redis.call('INCR', KEYS[1])";

describe('shardFigures on a cluster', () => {
  it('counts per shard what each primary counted, with its slots, SKUs, CPU and usec per EVALSHA', async () => {
    const topology = await discoverTopology(cluster.nodes[0]!, { host: '127.0.0.1', port: cluster.cluster.nodes[0]!.port, db: 0, tls: false });
    expect(topology.shards).toHaveLength(3);
    const keys = new RunKeys(DEFAULT_KEY_TEMPLATES, 'shardfig');
    const skuCount = 30;
    const owners = skuShards(topology, keys, skuCount);
    // The test's clients in topology order (node i of the helper owns cluster.slots[i]).
    const byShard = topology.shards.map((s) => cluster.nodes[cluster.cluster.nodes.findIndex((n) => `${n.host}:${n.port}` === s.node)]!);
    const shas = await Promise.all(byShard.map((c) => c.script('LOAD', SCRIPT) as Promise<string>));
    const before = await Promise.all(byShard.map(readServerStats));

    // SKU 0 is hot: 200 requests; every other SKU 5.
    const records = newRecords(16);
    const t0 = performance.now();
    for (let sku = 0; sku < skuCount; sku++) {
      const shard = owners[sku]!;
      for (let i = 0; i < (sku === 0 ? 200 : 5); i++) {
        const sentUs = (performance.now() - t0) * 1000;
        await byShard[shard]!.evalsha(shas[shard]!, 1, keys.stock(sku));
        const row = reserveRow(records);
        records.index[row] = row;
        records.sku[row] = sku;
        records.quantity[row] = 1;
        records.outcome[row] = 0;
        records.sentUs[row] = sentUs;
        records.repliedUs[row] = (performance.now() - t0) * 1000;
      }
    }
    const durationMs = performance.now() - t0;
    const after = await Promise.all(byShard.map(readServerStats));

    const f = await shardFigures({ records, skuShard: owners, topology, durationMs, intervals: Math.ceil(durationMs / 1000), intervalMs: 1000, serverBefore: before, serverAfter: after });
    expect(f.shards.map((s) => s.slots).reduce((a, b) => a + b)).toBe(16384);
    expect(f.shards.map((s) => s.skus)).toEqual([0, 1, 2].map((i) => owners.filter((o) => o === i).length));
    expect(f.shards.map((s) => s.requests).reduce((a, b) => a + b)).toBe(records.count);
    // Each primary counted the EVALSHAs its SKUs got.
    after.forEach((a, i) => expect(a!.evalshaCalls - before[i]!.evalshaCalls).toBe(f.shards[i]!.requests));
    for (const s of f.shards) {
      expect(s.usecPerCall).toBeGreaterThan(0);
      expect(s.serverCpu).toBeGreaterThanOrEqual(0);
      expect(s.latency.ok!.p50).toBeGreaterThan(0);
    }
    // SKU 0's 200 of 345 requests put its shard far above 1.5x a third.
    const hot = owners[0]!;
    expect(f.hottestShardShare).toBeCloseTo(f.shards[hot]!.requests / records.count, 4);
    expect(f.warnings).toHaveLength(1);
    expect(f.warnings[0]).toContain(`shard ${topology.shards[hot]!.node} took `);
    expect(f.warnings[0]).toContain('its busiest SKUs: SKU 0 (58%)');
    await Promise.all(Array.from({ length: skuCount }, (_, sku) => byShard[owners[sku]!]!.del(keys.stock(sku))));
  });
});
