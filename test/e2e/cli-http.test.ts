/**
 * HTTP mode as a user runs it: `sellout run` loading a sale service over HTTP (sellout's reference
 * service, started for the run on a real redis-server), the invariants read back from that Redis,
 * and every mistake in an `http:` section one line each, exit 2; an unreachable service exit 3.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SummaryV1 } from '../../src/summary/summary.js';
import { ROOT, runCli, startCli } from '../helpers/cli.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const dir = mkdtempSync(join(tmpdir(), 'sellout-http-'));
let redis: TestRedis;
beforeAll(async () => { redis = await startTestRedis(); });
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const summaryOf = (out: string) => JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as SummaryV1;

describe('sellout run in HTTP mode', () => {
  it('runs http-smoke.yaml through the reference service with no setup, and proves the invariants from its Redis', async () => {
    const out = join(dir, 'smoke');
    const r = await runCli(['run', 'scenarios/http-smoke.yaml', '--out', out]);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const s = summaryOf(out);
    expect(s.http).toMatchObject({ reference: true, stockField: 'stock', stockFieldMissing: 0 });
    expect(s.http!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/deduct$/);
    expect(r.stdout).toContain(`  service     ${s.http!.url} (sellout's reference service, on the target above)`);
    expect(s.requests).toBe(3000);
    expect(s.outcomes.ok).toBe(s.skuTotals!.journal);
    expect(s.outcomes.duplicate).toBeGreaterThan(0);
    expect(s.outcomes.sold_out).toBeGreaterThan(0);
    for (const inv of s.invariants) expect(inv.status, inv.name).toBe(inv.name === 'durability' ? 'skipped' : 'pass');
  });

  it('a closed model on a user\'s Redis: the service\'s replies carry the new stock, every key removed afterwards', async () => {
    const out = join(dir, 'closed');
    const r = await runCli(['run', 'scenarios/http-smoke.yaml', '--redis', redis.url, '--out', out, '--quiet',
      '--set', 'load={connections: 4, inFlight: 4}', '--set', 'requests=2000', '--set', 'duplicates.pattern=cross-worker', '--set', 'load.workers=2']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const s = summaryOf(out);
    expect(s.load).toMatchObject({ model: 'closed', connections: 4, inFlight: 4, workers: 2 });
    expect(s.invariants.find((i) => i.name === 'no-lost-ack')!.status).toBe('pass');
    expect(await redis.client.keys('sellout:*')).toEqual([]);
  });

  it('the reference service passes 20 runs in a row (closed model, twins in flight together)', async () => {
    const out = join(dir, 'twenty');
    const r = await runCli(['run', 'scenarios/http-smoke.yaml', '--repeat', '20', '--quiet', '--out', out,
      '--set', 'load={connections: 4, inFlight: 4}', '--set', 'requests=400', '--set', 'skus.stock=30'], { timeoutMs: 170_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const repeat = JSON.parse(readFileSync(join(out, 'repeat.json'), 'utf8')) as { runs: { status: string; exitCode: number }[] };
    expect(repeat.runs).toHaveLength(20);
    for (const run of repeat.runs) expect(run).toMatchObject({ status: 'pass', exitCode: 0 });
    // Every run sold out its SKUs through the service: the boundaries a broken service gets wrong were reached.
    const last = summaryOf(join(out, 'run-20'));
    expect(last.skuTotals).toMatchObject({ soldOut: 5, failing: 0 });
  }, 180_000);

  it('a stockField the 200 bodies do not carry is counted and reported, not a crash', async () => {
    const out = join(dir, 'no-field');
    const r = await runCli(['run', 'scenarios/http-smoke.yaml', '--redis', redis.url, '--out', out, '--set', 'requests=300', '--set', 'load={connections: 2, inFlight: 2}', '--set', 'http.stockField=price']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const s = summaryOf(out);
    expect(s.http).toMatchObject({ stockField: 'price', stockFieldMissing: s.outcomes.ok });
    expect(s.outcomes.ok).toBeGreaterThan(0);
    expect(r.stdout).toContain(`  warning     ${s.outcomes.ok.toLocaleString('en-US')} ok replies had no "price" field in the body: their replied stock was not checked`);
  });

  it('a service that never answers: every request in flight at timeoutMs is unknown, the connections reopen, the run is reported', async () => {
    // Accepts connections, reads requests, answers nothing.
    const silent = createServer((socket) => { socket.on('data', () => {}); socket.on('error', () => {}); });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const out = join(dir, 'silent');
      const r = await runCli(['run', 'scenarios/http-smoke.yaml', '--redis', redis.url, '--out', out, '--quiet',
        '--set', `http.url=http://127.0.0.1:${port}/deduct`, '--set', 'requests=40', '--set', 'load={connections: 2, inFlight: 2}', '--set', 'timeoutMs=300']);
      const s = summaryOf(out);
      expect(s.outcomes.unknown, r.stdout + r.stderr).toBe(40);
      expect(s.outcomes.ok).toBe(0);
      expect(s.reconnects).toBeGreaterThan(0);
      // Nothing reached the script: every unknown is absent from the journal, and nothing is claimed.
      expect(s.skuTotals).toMatchObject({ journal: 0, failing: 0 });
      expect(await redis.client.keys('sellout:*')).toEqual([]);
    } finally {
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('Ctrl-C to the process group stops the load, verifies what ran, stops the reference service and exits 130', async () => {
    const out = join(dir, 'interrupted');
    const cli = startCli(['run', 'scenarios/http-smoke.yaml', '--out', out, '--set', 'requests=', '--set', 'duration=60s', '--set', 'skus.stock=100000'], { detached: true });
    await cli.seeded;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    process.kill(-cli.child.pid!, 'SIGINT');
    expect(await cli.exited).toBe(130);
    const s = summaryOf(out);
    expect(s.status).toBe('interrupted');
    expect(s.requests).toBeGreaterThan(100);
    expect(s.invariants.filter((i) => i.status === 'fail')).toEqual([]);
    expect(cli.output.stdout).toContain('INTERRUPTED');
  }, 60_000);

  it('every mistake in an http: section is one line, all at once, exit 2', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, `name: bad\nscript: ${join(ROOT, 'lua', 'deduct.lua')}\nskus: {count: 1, stock: 5}\nrequests: 10\nhttp:\n  url: ftp://shop/deduct\n  body: '{"sku": "<sku>", "q": <qty>}'\n  outcomes: {200: ok, OK: duplicate, 409: fine}\n  method: DELETE\n`);
    const r = await runCli(['run', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual(expect.arrayContaining([
      `${file}: http.url: expected an http:// or https:// URL like http://127.0.0.1:8080/deduct, got "ftp://shop/deduct"`,
      expect.stringMatching(/http\.body: expected a body template with <id> in it/),
      expect.stringMatching(/http\.body: expected only the placeholders <sku>, <quantity>, <id>, not <qty>/),
      expect.stringMatching(/http\.outcomes\.OK: expected an HTTP status code from 100 to 599/),
      expect.stringMatching(/http\.outcomes\.409: expected one of ok, duplicate, sold_out, not_found, invalid, error, unknown, got "fine"/),
      expect.stringMatching(/http\.method: expected one of POST, PUT, PATCH, GET/),
    ]));
    expect(lines.at(-1)).toMatch(/problem\(s\) in the scenario; nothing was run/);
  });

  it('a service that is not there is one line, exit 3, before anything is written', async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const url = `http://127.0.0.1:${port}/deduct`;
    const r = await runCli(['run', 'scenarios/http-smoke.yaml', '--redis', redis.url, '--set', `http.url=${url}`, '--out', join(dir, 'never')], { timeoutMs: 45_000 });
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`http.url ${url}: the sale service is not reachable (ECONNREFUSED); start it, or leave http.url out for sellout's reference service`);
    expect(await redis.client.keys('sellout:*')).toEqual([]);
  });
});
