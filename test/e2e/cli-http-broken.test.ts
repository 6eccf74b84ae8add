/**
 * The sale services that must be caught (test/fixtures/http/: small real HTTP servers, each with
 * one classic mistake) under `sellout run` in HTTP mode, the way a team points sellout at its own
 * service: http.url, its key names in `keys:`, its Redis in --redis. Each run exits 1 naming the
 * invariants the service broke; the reference service under the same scenario passes.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSaleService, type SaleKeys, type SaleService } from '../../src/serve/service.js';
import type { SummaryV1 } from '../../src/summary/summary.js';
import * as ackBeforeScript from '../fixtures/http/ack-before-script.js';
import * as duplicateAsOk from '../fixtures/http/duplicate-as-ok.js';
import type { FixtureOptions } from '../fixtures/http/base.js';
import * as readThenWrite from '../fixtures/http/read-then-write.js';
import * as retryFreshId from '../fixtures/http/retry-fresh-id.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const dir = mkdtempSync(join(tmpdir(), 'sellout-http-broken-'));
const SCRIPT = readFileSync(join(ROOT, 'lua', 'deduct.lua'), 'utf8');
// The team's key names: no <run> (its service does not know sellout's run ID); sellout refuses to
// overwrite existing keys and removes its own afterwards.
const KEYS: SaleKeys = { stock: (sku) => `shop:inv:{${sku}}`, journal: (sku) => `shop:journal:{${sku}}` };
let redis: TestRedis;
let service: Redis;

beforeAll(async () => {
  redis = await startTestRedis();
  service = new Redis(redis.url, { lazyConnect: false });
});
afterAll(async () => {
  service?.disconnect();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A sale of 2 SKUs x 40 units in 1-2 unit orders, 600 requests, 16 in flight on each of 4 connections, 10% twins in flight together. */
async function saleAgainst(start: (o: FixtureOptions) => Promise<SaleService>, name: string) {
  const svc = await start({ redis: service, keys: KEYS, scriptSource: SCRIPT });
  try {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, [
      `name: ${name}`,
      `script: ${join(ROOT, 'lua', 'deduct.lua')}`,
      'skus: {count: 2, stock: 40}',
      'quantity: {1: 0.6, 2: 0.4}',
      'requests: 600',
      'load: {connections: 4, inFlight: 16, workers: 1}',
      'duplicates: {ratio: 0.1, pattern: concurrent}',
      'keys: {stock: "shop:inv:{<sku>}", journal: "shop:journal:{<sku>}"}',
      `http: {url: "${svc.url}/deduct", stockField: stock}`,
      '',
    ].join('\n'));
    const out = join(dir, name);
    const r = await runCli(['run', file, '--redis', redis.url, '--out', out]);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as SummaryV1;
    return { r, summary, failed: summary.invariants.filter((i) => i.status === 'fail').map((i) => i.name) };
  } finally {
    await svc.close();
    // The run removed its keys (shop:*): nothing of it is left for the next.
    expect(await redis.client.keys('shop:*')).toEqual([]);
  }
}

describe('broken sale services under sellout run', () => {
  it('the reference service passes the same sale', async () => {
    const { r, failed, summary } = await saleAgainst((o) => startSaleService(o), 'reference');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(failed).toEqual([]);
    expect(summary.http).toMatchObject({ reference: false, stockField: 'stock', stockFieldMissing: 0 });
  });

  it('read-then-write (GET, SET, no script) oversells: exit 1, conservation and chain fail', async () => {
    const { r, failed } = await saleAgainst(readThenWrite.start, 'read-then-write');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(failed).toEqual(expect.arrayContaining(['chain']));
    expect(r.stdout).toMatch(/FAIL {2}chain/);
  });

  it('retry with a fresh request ID deducts twice: exit 1, journal entries the client never sent', async () => {
    const { r, failed } = await saleAgainst(retryFreshId.start, 'retry-fresh-id');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(failed).toEqual(expect.arrayContaining(['no-unexpected']));
  });

  it('an ack before the script runs: exit 1, acknowledged deductions missing or not as acknowledged', async () => {
    const { r, failed } = await saleAgainst(ackBeforeScript.start, 'ack-before-script');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(failed).toEqual(expect.arrayContaining(['no-lost-ack']));
  });

  it('a duplicate answered 200: exit 1, a request ID acknowledged twice', async () => {
    const { r, failed } = await saleAgainst(duplicateAsOk.start, 'duplicate-as-ok');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(failed).toEqual(expect.arrayContaining(['at-most-once']));
  });
});
