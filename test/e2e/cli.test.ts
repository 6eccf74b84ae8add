/** The CLI as a user runs it: a child process, real redis-servers, exit codes from DESIGN.md §8. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sinceStart } from '../../src/report/console.js';
import { runCli } from '../helpers/cli.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

/** Report directories of this file's runs, removed when it ends. */
const outs: string[] = [];
const out = () => {
  const dir = mkdtempSync(join(tmpdir(), 'sellout-out-'));
  outs.push(dir);
  return dir;
};
afterAll(() => { for (const dir of outs) rmSync(dir, { recursive: true, force: true }); });
const small = ['--set', 'requests=600', '--set', 'load.connections=4'];

describe('sellout run', () => {
  let redis: TestRedis;
  beforeAll(async () => { redis = await startTestRedis(); });
  afterAll(async () => { await redis?.stop(); });

  it('runs the smoke scenario on an embedded redis-server, prints a summary, writes summary.json, exits 0', async () => {
    const dir = out();
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--out', dir]);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sellout smoke: PASS/);
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    expect(summary.version).toBe(1);
    expect(summary.status).toBe('pass');
    expect(summary.target.kind).toBe('embedded');
    expect(summary.requests).toBe(3000);
    expect(Object.values(summary.outcomes).reduce((a: number, b) => a + (b as number), 0)).toBe(3000);
    expect(summary.outcomes.sold_out).toBeGreaterThan(0);
    expect(summary.outcomes.duplicate).toBeGreaterThan(0);
    expect(summary.latency.ok.p50).toBeGreaterThan(0);
    expect(summary.latency.ok.p99).toBeGreaterThanOrEqual(summary.latency.ok.p50);
    const skus = summary.skus as { initial: number; final: number; journal: number }[];
    expect(skus.reduce((n, s) => n + s.journal, 0)).toBe(summary.outcomes.ok);
    for (const inv of summary.invariants) expect(inv.status, inv.name).toBe(inv.name === 'durability' ? 'skipped' : 'pass');
    expect(summary.invariants).toHaveLength(12);
    // When each SKU sold out, in the console (five SKUs: one table in sell-out order) and summary.json.
    const ranks = summary.skuRanks as { soldOut: number; firstSoldOut: { sku: number; soldOutMs: number; requests: number; ok: number }[] };
    expect(ranks.soldOut).toBe(5);
    expect(r.stdout).toMatch(/sold out {4}5 of 5 SKUs during the run: the first at \d+\.\d+ m?s, the last at \d+\.\d+ m?s/);
    const table = r.stdout.slice(r.stdout.indexOf('every SKU, by sell-out time')).split('\n').slice(2, 7).map((l) => l.trim().split(/\s{2,}/));
    expect(table.map((cells) => Number(cells[0]))).toEqual(ranks.firstSoldOut.map((k) => k.sku));
    expect(table.map((cells) => cells[1])).toEqual(ranks.firstSoldOut.map((k) => sinceStart(k.soldOutMs)));
    expect(ranks.firstSoldOut.reduce((n, k) => n + k.requests, 0)).toBe(3000);
    expect(ranks.firstSoldOut.reduce((n, k) => n + k.ok, 0)).toBe(summary.outcomes.ok);
    // 1,000/s is far below what the embedded server holds: it says so, and which side set the pace.
    expect(summary.server.cpu).toBeLessThan(0.9);
    expect(['schedule', 'client']).toContain(summary.server.limit);
    expect(r.stdout).toContain(`  server      ${summary.server.says} (${summary.server.cpu.toFixed(2)} CPU s per s`);
  });

  it('runs the published seed script too (correct for positive integer quantities)', async () => {
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--script', 'lua/seed-deduct.lua', '--redis', redis.url, '--out', out(), ...small]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^  script      lua\/seed-deduct\.lua \(sha [0-9a-f]{12}\)$/m);
  });

  it('lists every mistake of a bad scenario, one line each, and exits 2 without a stack trace', async () => {
    const r = await runCli(['run', 'test/fixtures/bad-scenario.yaml']);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines.at(-1)).toBe('sellout: 12 problem(s) in the scenario; nothing was run');
    expect(lines).toHaveLength(13);
    for (const line of lines.slice(0, -1)) expect(line).toMatch(/^test\/fixtures\/bad-scenario\.yaml: [\w.()]+: expected .+, got .+$/);
    for (const field of ['name', 'skus.count', 'skus.stock', 'skus.selection.exponent', 'skus.colour', 'quantity.two', 'load.model', 'load.connections', 'duplicates.ratio', 'timeoutMs', 'requests', 'script']) {
      expect(r.stderr, field).toContain(`: ${field}: expected`);
    }
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 with one line for a bad --set and for an unknown flag', async () => {
    const bad = await runCli(['run', 'scenarios/smoke.yaml', '--set', 'load.inFlight']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    const flag = await runCli(['run', 'scenarios/smoke.yaml', '--bogus']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/unknown option '--bogus'/);
  });

  it('exits 3 with one line when Redis cannot be reached, hiding the password', async () => {
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--redis', 'redis://user:hunter2@127.0.0.1:1']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^sellout: cannot connect to Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:1: ECONNREFUSED/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toContain('hunter2');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('--redis docker says within seconds that no container runtime answers, and what to use instead', async () => {
    const started = Date.now();
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--redis', 'docker'], { env: { DOCKER_HOST: 'unix:///nonexistent/docker.sock' } });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^sellout: --redis docker: no container runtime answered at unix:\/\/\/nonexistent\/docker\.sock/);
    expect(r.stderr).toMatch(/; start Docker.*drop --redis to use the embedded redis-server/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('tells how to install redis-server when none is on PATH and no --redis is given', async () => {
    const r = await runCli(['run', 'scenarios/smoke.yaml'], { env: { PATH: '/nonexistent' } });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no redis-server binary on PATH/);
    expect(r.stderr).toMatch(/apt-get install -y redis-server.*brew install redis.*--redis/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('leaves unrelated keys untouched and removes its own keys (unless --keep)', async () => {
    const c = redis.client;
    await c.flushall();
    await c.set('shop:inv:{10010}', '77');
    await c.hset('shop:journal:{10010}', 'DEC-42-1', '{"by":"DEC-42-1"}');
    await c.set('sellout:other-run:inv:{0}', '5');
    const before = await c.dbsize();
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--redis', redis.url, '--out', out(), ...small]);
    expect(r.code).toBe(0);
    expect(await c.get('shop:inv:{10010}')).toBe('77');
    expect(await c.hgetall('shop:journal:{10010}')).toEqual({ 'DEC-42-1': '{"by":"DEC-42-1"}' });
    expect(await c.get('sellout:other-run:inv:{0}')).toBe('5');
    expect(await c.dbsize()).toBe(before);

    const dir = out();
    const kept = await runCli(['run', 'scenarios/smoke.yaml', '--redis', redis.url, '--out', dir, '--keep', ...small]);
    expect(kept.code).toBe(0);
    const run = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')).run;
    const runId = run.id as string;
    const keys = await c.keys(`sellout:${runId}:*`);
    expect(keys.sort()).toEqual([0, 1, 2, 3, 4].flatMap((s) => [`sellout:${runId}:inv:{${s}}`, `sellout:${runId}:journal:{${s}}`]).sort());
    // It says which keys it kept and how many, and how to remove them.
    expect(run.kept).toEqual({ pattern: `sellout:${runId}:*`, count: 10 });
    expect(kept.stdout).toContain(`keys kept   10 key(s) sellout:${runId}:* are still in Redis (--keep); remove them with: redis-cli --scan --pattern 'sellout:${runId}:*' | xargs redis-cli unlink`);
    await c.unlink(...keys);
  });
});
