/**
 * What the CLI refuses before writing a key, with real servers: the published script's naming
 * (`clc:inventory:<sku>` / `clc:inventory:stream:<sku>`, no common hash tag) against a Redis
 * Cluster is one line naming CROSSSLOT, the SKU, both keys and both slots, exit 2, with no key on
 * any node; a `cluster:` section with a standalone server is one line naming the conflict, exit 2.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySlot } from '../../src/redis/slot.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

let tmp: string;
beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'sellout-preflight-')); });
afterAll(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

const lines = (text: string) => text.trimEnd().split('\n');

function scenario(name: string, extra: string): string {
  const file = join(tmp, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\nscript: ${ROOT}/lua/seed-deduct.lua\nskus: {count: 20, stock: 10}\nrequests: 100\nload: {connections: 2}\n${extra}`);
  return file;
}

describe('the preflight against a Redis Cluster', () => {
  let cluster: TestCluster;
  beforeAll(async () => { cluster = await startTestCluster(); });
  afterAll(async () => { await cluster?.stop(); });

  const dbsizes = () => Promise.all(cluster.nodes.map((n) => n.dbsize()));

  it('the published naming is one line naming CROSSSLOT, the SKU, both keys and both slots, exit 2, and no key is written on any node', async () => {
    const file = scenario('published', 'keys: {stock: "clc:inventory:<sku>", journal: "clc:inventory:stream:<sku>"}\n');
    const out = join(tmp, 'published-out');
    const r = await runCli(['run', file, '--redis', cluster.url, '--out', out]);
    expect(r.code, r.stderr).toBe(2);
    const [problem, ...rest] = lines(r.stderr);
    const stockSlot = keySlot('clc:inventory:0');
    const journalSlot = keySlot('clc:inventory:stream:0');
    expect(stockSlot).not.toBe(journalSlot);
    expect(problem).toBe(
      `${file}: keys: SKU 0's stock key clc:inventory:0 (slot ${stockSlot}) and journal key clc:inventory:stream:0 (slot ${journalSlot}) are in different slots, ` +
        'so every deduction would fail with CROSSSLOT: put the SKU in braces, like clc:inventory:{<sku>} and clc:inventory:stream:{<sku>} (or --set preflight=false to watch the errors arrive)',
    );
    expect(rest).toEqual(['sellout: 1 problem(s) in the scenario; nothing was run']);
    expect(r.stderr).not.toMatch(/seeding|internal error|\n\s+at /);
    expect(await dbsizes()).toEqual([0, 0, 0]);
    expect(readdirSync(tmp)).not.toContain('published-out'); // no empty report directory left behind
  });

  it('a naming given with --set is checked the same way, and the fix it suggests follows that naming', async () => {
    const file = scenario('braced', '');
    const refused = await runCli(['run', file, '--redis', cluster.url, '--out', join(tmp, 'set-out'), '--set', 'keys.stock=shop:<sku>:stock', '--set', 'keys.journal=shop:<sku>:journal']);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/^\S+: keys: SKU 0's stock key shop:0:stock \(slot \d+\) and journal key shop:0:journal \(slot \d+\) are in different slots, so every deduction would fail with CROSSSLOT: put the SKU in braces, like shop:\{<sku>\}:stock and shop:\{<sku>\}:journal /);
    expect(await dbsizes()).toEqual([0, 0, 0]);
  });
});

describe('a cluster section with a standalone server', () => {
  let redis: TestRedis;
  beforeAll(async () => { redis = await startTestRedis(); });
  afterAll(async () => { await redis?.stop(); });

  it('a --redis URL of a standalone server is one line naming the conflict, exit 2, nothing written', async () => {
    const file = scenario('sized', 'cluster: {shards: 5}\n');
    const r = await runCli(['run', file, '--redis', redis.url, '--out', join(tmp, 'sized-out')]);
    expect(r.code, r.stderr).toBe(2);
    expect(lines(r.stderr)).toEqual([
      `${file}: cluster.shards: expected no cluster section with a standalone server (it sizes the embedded cluster of --redis cluster), got 5 shards with ${redis.url}, a standalone server`,
      'sellout: 1 problem(s) in the scenario; nothing was run',
    ]);
    expect(await redis.client.dbsize()).toBe(0);
  });

  it('the embedded default redis-server is standalone: the same refusal', async () => {
    const file = scenario('embedded', 'cluster: {shards: 2}\n');
    const r = await runCli(['run', file, '--out', join(tmp, 'embedded-out')]);
    expect(r.code, r.stderr).toBe(2);
    expect(lines(r.stderr)[0]).toBe(`${file}: cluster.shards: expected no cluster section with a standalone server (it sizes the embedded cluster of --redis cluster), got 2 shards with the embedded redis-server (standalone: use --redis cluster for a cluster)`);
  });
});
