/** Which side limited a run, from the busiest primary's CPU share (summary.json `server`). */
import { describe, expect, it } from 'vitest';
import { serverSummaryOf } from '../../src/metrics/bottleneck.js';
import type { ShardFigures } from '../../src/summary/summary.js';

const shard = (node: string, serverCpu: number | null, usecPerCall: number | null = 3.2): ShardFigures => ({
  node, slots: 16384, skus: 1, requests: 100, outcomes: { ok: 100, duplicate: 0, sold_out: 0, not_found: 0, invalid: 0, error: 0, unknown: 0 },
  throughput: 100, latency: { ok: null }, serverCpu, usecPerCall,
});

describe('serverSummaryOf', () => {
  it('calls a server at 90% of a core or more the bottleneck', () => {
    expect(serverSummaryOf({ shards: [shard('a:1', 0.98)], model: 'closed' })).toEqual({
      node: 'a:1', cpu: 0.98, usecPerCall: 3.2, limit: 'server', says: 'Redis was 98% busy: the server is the bottleneck',
    });
  });

  it('below that, blames the load generator or the network, unless an open model held its schedule', () => {
    expect(serverSummaryOf({ shards: [shard('a:1', 0.4)], model: 'closed' })).toMatchObject({ limit: 'client', says: 'Redis was 40% busy: the load generator or the network limited this run' });
    expect(serverSummaryOf({ shards: [shard('a:1', 0.2)], model: 'constant-rate', targetRate: 1000, achievedRate: 990 })).toMatchObject({ limit: 'schedule' });
    // An open model that fell behind its schedule with the server idle: the client side.
    expect(serverSummaryOf({ shards: [shard('a:1', 0.2)], model: 'constant-rate', targetRate: 1000, achievedRate: 700 })).toMatchObject({ limit: 'client' });
    // A saturated server is the limit whatever the schedule.
    expect(serverSummaryOf({ shards: [shard('a:1', 0.95)], model: 'constant-rate', targetRate: 1000, achievedRate: 1000 })).toMatchObject({ limit: 'server' });
  });

  it('names the busiest primary of a cluster and skips those that refused INFO; nothing to say when none reported', () => {
    const cluster = serverSummaryOf({ shards: [shard('a:1', 0.3), shard('b:2', null), shard('c:3', 0.92, 4)], model: 'closed' });
    expect(cluster).toEqual({ node: 'c:3', cpu: 0.92, usecPerCall: 4, limit: 'server', says: 'The busiest primary (c:3) was 92% busy: the server is the bottleneck' });
    expect(serverSummaryOf({ shards: [shard('a:1', null)], model: 'closed' })).toBeUndefined();
  });
});
