/**
 * `sellout run` against Redis Cluster, as a user runs it: the embedded cluster (`--redis cluster`)
 * and a cluster given by URL. A clean sale spreads over the shards with per-shard counts adding up,
 * a slot moved during the run is followed (redirects counted, every invariant passing), the
 * published script's own key naming runs once its SKU is braced, bad targets are one line each
 * (exit 3), and no server or directory is left behind, also after Ctrl-C to the process group.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySlot } from '../../src/redis/slot.js';
import { ROOT, runCli, startCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { migrateSlot } from '../helpers/migrate.js';
import { freePort } from '../../src/redis/local.js';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'sellout-cli-cluster-')); });
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

let files = 0;
function scenarioFile(body: string, script = `${ROOT}/lua/deduct.lua`): string {
  const name = `c${++files}`;
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\nscript: ${script}\n${body}`);
  return file;
}

function summaryOf(out: string): any {
  return JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
}

function failing(summary: any): string[] {
  return summary.invariants.filter((i: { status: string }) => i.status === 'fail').map((i: { name: string; actual: string }) => `${i.name}: ${i.actual}`);
}

function refused(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve('connected'); });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** The embedded cluster's nodes (port and data directory), asked of node 0 while the run is on. */
async function embeddedNodes(port: number): Promise<{ port: number; dir: string }[]> {
  const first = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  first.on('error', () => {});
  await first.connect();
  const slots = (await first.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  first.disconnect();
  const nodes: { port: number; dir: string }[] = [];
  for (const [, , [, nodePort]] of slots) {
    const client = new Redis({ host: '127.0.0.1', port: nodePort, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    await client.connect();
    const [, nodeDir] = (await client.config('GET', 'dir')) as [string, string];
    client.disconnect();
    nodes.push({ port: nodePort, dir: nodeDir });
  }
  return nodes;
}

describe('the embedded cluster (--redis cluster)', () => {
  it('a clean sale spreads over three shards, per-shard counts add up, and nothing is left behind', async () => {
    const out = join(dir, 'out-embedded');
    const file = scenarioFile('skus: {count: 30, stock: 40}\nrequests: 2000\nload: {connections: 4, inFlight: 4}\nduplicates: {ratio: 0.1}\n');
    const r = await runCli(['run', file, '--redis', 'cluster', '--out', out]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const summary = summaryOf(out);
    expect(summary.target.mode).toBe('cluster');
    expect(failing(summary)).toEqual([]);
    expect(summary.shards).toHaveLength(3);
    expect(summary.shards.reduce((n: number, s: { requests: number }) => n + s.requests, 0)).toBe(summary.requests);
    expect(summary.shards.reduce((n: number, s: { outcomes: { ok: number } }) => n + s.outcomes.ok, 0)).toBe(summary.outcomes.ok);
    expect(summary.shards.every((s: { requests: number; skus: number }) => s.requests > 0 && s.skus > 0)).toBe(true);
    expect(summary.redirects).toEqual({ moved: 0, ask: 0, tryagain: 0 });
    expect(r.stdout).toMatch(/shard/i);
    // The nodes went away with their directories.
    const port = Number(/redis:\/\/127\.0\.0\.1:(\d+)/.exec(r.stderr + r.stdout)?.[1]);
    expect(port).toBeGreaterThan(0);
    expect(await refused(port)).toBe('ECONNREFUSED');
  });

  it("Ctrl-C to the process group: exit 130, verified, every node and directory gone (cluster.shards sizes it)", async () => {
    const out = join(dir, 'out-ctrlc');
    const file = scenarioFile('skus: {count: 6, stock: 100000000}\nduration: 60s\nload: {connections: 2, inFlight: 4}\n');
    const { child, output, exited, seeded } = startCli(['run', file, '--redis', 'cluster', '--set', 'cluster.shards=2', '--out', out], { detached: true });
    const { port } = await seeded;
    const nodes = await embeddedNodes(port);
    expect(nodes).toHaveLength(2);
    expect(nodes.every((n) => existsSync(n.dir))).toBe(true);
    // Deductions are flowing before the interrupt.
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(-child.pid!, 'SIGINT');
    const code = await exited;
    expect(code, output.stdout + output.stderr).toBe(130);
    const summary = summaryOf(out);
    expect(summary.status).toBe('interrupted');
    expect(summary.outcomes.ok).toBeGreaterThan(0);
    expect(failing(summary)).toEqual([]);
    expect(summary.invariants.filter((i: { status: string }) => i.status === 'skipped').map((i: { name: string }) => i.name)).toEqual(['durability']);
    for (const n of nodes) {
      expect(await refused(n.port)).toBe('ECONNREFUSED');
      expect(existsSync(n.dir)).toBe(false);
    }
  });
});

describe('a cluster given by URL', () => {
  let cluster: TestCluster;
  beforeAll(async () => { cluster = await startTestCluster(); });
  afterAll(async () => { await cluster?.stop(); });

  it('a slot moved during the run: redirects counted in summary.json, every invariant passes, no key left', async () => {
    const out = join(dir, 'out-migrate');
    const file = scenarioFile('skus: {count: 6, stock: 100000000}\nduration: 3s\nload: {connections: 2, inFlight: 4}\nduplicates: {ratio: 0.1}\n');
    const { output, exited, seeded } = startCli(['run', file, '--redis', cluster.url, '--out', out]);
    const { runId } = await seeded;
    const stock = `sellout:${runId}:inv:{0}`;
    const owner = await cluster.ownerOf(`sellout:${runId}:journal:{0}`);
    while (Number(await owner.hlen(`sellout:${runId}:journal:{0}`)) < 100) await new Promise((r) => setTimeout(r, 20));
    const from = cluster.nodes.indexOf(owner);
    await migrateSlot(cluster.nodes, keySlot(stock), from, (from + 1) % 3, { pauseMs: 100 });
    expect(await exited, output.stdout + output.stderr).toBe(0);
    const summary = summaryOf(out);
    expect(failing(summary)).toEqual([]);
    expect(summary.redirects.moved + summary.redirects.ask).toBeGreaterThan(0);
    for (const node of cluster.nodes) expect(await node.keys(`sellout:${runId}:*`)).toEqual([]);
  });

  it('a hot SKU piles onto its shard: the console names it, and shard thresholds gate on it (exit 4)', async () => {
    const out = join(dir, 'out-hot');
    const file = scenarioFile([
      'skus: {count: 30, stock: 1000000, selection: {type: hot, share: 0.9}}',
      'requests: 3000',
      'load: {connections: 2, inFlight: 4}',
      'thresholds: {hottestShardShare: "< 0.5", shards.max.latency.ok.p99: "< 10s"}',
      '',
    ].join('\n'));
    const r = await runCli(['run', file, '--redis', cluster.url, '--out', out]);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stdout).toMatch(/warning\s+shard 127\.0\.0\.1:\d+ took \d+% of the requests, [\d.]+x its fair share of 33%; its busiest SKUs: SKU 0 /);
    const summary = summaryOf(out);
    expect(summary.hottestShardShare).toBeGreaterThan(0.9);
    const gate = Object.fromEntries(summary.thresholds.map((t: { name: string; status: string }) => [t.name, t.status]));
    expect(gate).toMatchObject({ hottestShardShare: 'fail', 'shards.max.latency.ok.p99': 'pass' });
  });

  it('the published script with its own key naming runs once the SKU is braced', async () => {
    const out = join(dir, 'out-published');
    const file = scenarioFile(
      'keys: {stock: "clc:inventory:{<sku>}", journal: "clc:inventory:stream:{<sku>}"}\nskus: {count: 12, stock: 50}\nrequests: 1000\nload: {connections: 2, inFlight: 4}\n',
      `${ROOT}/lua/seed-deduct.lua`,
    );
    const r = await runCli(['run', file, '--redis', cluster.url, '--out', out]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const summary = summaryOf(out);
    expect(summary.outcomes.ok).toBe(600);
    expect(summary.shards.filter((s: { requests: number }) => s.requests > 0).length).toBe(3);
    for (const node of cluster.nodes) expect(await node.keys('clc:inventory:*')).toEqual([]);
  });
});

describe('bad cluster targets: one line, exit 3, nothing left behind', () => {
  it('an unreachable seed node', async () => {
    const file = scenarioFile('skus: {count: 3, stock: 10}\nrequests: 10\n');
    const r = await runCli(['run', file, '--redis', 'redis://127.0.0.1:1', '--out', join(dir, 'out-unreachable')]);
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('sellout:'))).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot connect to Redis at redis:\/\/127\.0\.0\.1:1: ECONNREFUSED/);
  });

  it('a MOVED to an address that refuses connections: exit 3 naming the node', async () => {
    const cluster = await startTestCluster();
    try {
      const out = join(dir, 'out-bogus');
      const file = scenarioFile('skus: {count: 3, stock: 100000000}\nduration: 4s\nload: {connections: 2, inFlight: 2}\n');
      const { output, exited, seeded } = startCli(['run', file, '--redis', cluster.url, '--out', out]);
      const { runId } = await seeded;
      const journal = `sellout:${runId}:journal:{0}`;
      const owner = await cluster.ownerOf(journal);
      while (Number(await owner.hlen(journal)) < 100) await new Promise((r) => setTimeout(r, 20));
      const from = cluster.nodes.indexOf(owner);
      const to = (from + 1) % 3;
      // The new owner announces a port nothing listens on: the cluster redirects clients there.
      const port = await freePort();
      await cluster.nodes[to]!.config('SET', 'cluster-announce-port', String(port));
      while (!String(await owner.call('CLUSTER', 'NODES')).includes(`127.0.0.1:${port}`)) await new Promise((r) => setTimeout(r, 50));
      await migrateSlot(cluster.nodes, keySlot(journal), from, to);
      expect(await exited, output.stdout + output.stderr).toBe(3);
      expect(output.stdout).toContain(`the cluster redirected deductions to 127.0.0.1:${port}, which sellout could not connect to: connect ECONNREFUSED`);
      const summary = summaryOf(out);
      expect(summary.outcomes.error).toBeGreaterThan(0);
      expect(summary.targetLost).toContain(`127.0.0.1:${port}`);
    } finally {
      await cluster.stop();
    }
  });

  it('a cluster whose state is not ok, and one with a slot nobody owns', async () => {
    const cluster = await startTestCluster({ args: ['--cluster-require-full-coverage', 'no'] });
    try {
      const file = scenarioFile('skus: {count: 3, stock: 10}\nrequests: 10\n');
      // Slot 100 unassigned: with full coverage not required the cluster still says ok.
      await cluster.nodes[0]!.call('CLUSTER', 'DELSLOTS', '100');
      let r = await runCli(['run', file, '--redis', cluster.url, '--out', join(dir, 'out-hole')]);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/^sellout: the Redis Cluster of redis:\/\/127\.0\.0\.1:\d+ has no owner for slot 100; assign every slot to a primary/m);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      await cluster.nodes[0]!.call('CLUSTER', 'ADDSLOTS', '100');
      // A node that says cluster_state:fail (its peers unknown to it after a reset).
      await cluster.nodes[2]!.call('CLUSTER', 'RESET', 'HARD');
      await cluster.nodes[2]!.call('CLUSTER', 'ADDSLOTSRANGE', '0', '10');
      await cluster.nodes[2]!.config('SET', 'cluster-require-full-coverage', 'yes');
      r = await runCli(['run', file, '--redis', `redis://127.0.0.1:${cluster.cluster.nodes[2]!.port}`, '--out', join(dir, 'out-fail')]);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/^sellout: the Redis Cluster of redis:\/\/127\.0\.0\.1:\d+ is not ready: cluster_state:fail/m);
      for (const node of cluster.nodes) expect(await node.dbsize()).toBe(0);
    } finally {
      await cluster.stop();
    }
  });
});

describe('a cluster with replicas (as docker-compose\'s cluster profile has them)', () => {
  it('drives the primaries only and passes', async () => {
    const cluster = await startTestCluster({ replicas: 1 });
    try {
      const out = join(dir, 'out-replicas');
      const file = scenarioFile('skus: {count: 30, stock: 20}\nrequests: 1000\nload: {connections: 2, inFlight: 2}\n');
      const r = await runCli(['run', file, '--redis', cluster.url, '--out', out]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const summary = summaryOf(out);
      expect(summary.shards.map((s: { node: string }) => s.node).sort()).toEqual(cluster.cluster.nodes.map((n) => `127.0.0.1:${n.port}`).sort());
      expect(failing(summary)).toEqual([]);
    } finally {
      await cluster.stop();
    }
  });
});
