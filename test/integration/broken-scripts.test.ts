/**
 * The verifier must catch a broken script: each fixture in test/fixtures/broken/ has one flaw, and
 * `sellout run` with it must exit 1 with exactly the invariants that flaw breaks failing (and the
 * others passing, so a check that fails on everything cannot hide here). The correct scripts on the
 * same scenario must exit 0. One shared private redis-server keeps this fast (keys are per run).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SummaryV1 } from '../../src/summary/summary.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

const SCENARIO = join(ROOT, 'test/fixtures/broken-sale.yaml');

let redis: TestRedis;
let cluster: TestCluster;
let outRoot: string;
beforeAll(async () => {
  redis = await startTestRedis();
  cluster = await startTestCluster();
  outRoot = mkdtempSync(join(tmpdir(), 'sellout-broken-'));
});
afterAll(async () => {
  await redis?.stop();
  await cluster?.stop();
  if (outRoot) rmSync(outRoot, { recursive: true, force: true });
});

/** Every case runs on one server and on a 3-primary cluster: routing must not hide a flaw. */
const TARGETS = [
  { name: 'a standalone server', url: () => redis.url, extra: [] as string[] },
  // Connections are per primary there: half as many give each SKU (its two live on two shards) the
  // same requests in flight as on one server, so the retries land where the cases expect them.
  { name: 'a Redis Cluster', url: () => cluster.url, extra: ['--set', 'load.connections=2'] },
];

async function run(script: string, extra: string[] = [], url = redis.url): Promise<{ code: number | null; failed: string[]; summary: SummaryV1; stdout: string }> {
  const out = join(outRoot, `${script.replace(/\W+/g, '-')}-${url.replace(/\W+/g, '-')}`);
  const result = await runCli(['run', SCENARIO, '--script', join(ROOT, script), '--redis', url, '--out', out, '--quiet', ...extra]);
  expect(result.stderr).not.toContain('internal error');
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as SummaryV1;
  const failed = summary.invariants.filter((i) => i.status === 'fail').map((i) => i.name);
  return { code: result.code, failed, summary, stdout: result.stdout };
}

const cases: { script: string; extra?: string[]; fails: string[]; evidence: RegExp }[] = [
  {
    script: 'no-idempotency',
    fails: ['conservation', 'chain', 'no-lost-ack', 'at-most-once'],
    evidence: /request DEC-7-\d+ got ok 2 times \(first stock \d+\): it was deducted more than once/,
  },
  {
    // Only quantity 3 from a stock of 10: 10 -> 7 -> 4 -> 1 -> -2, whatever the interleaving.
    script: 'negative-stock',
    extra: ['--set', 'quantity=3', '--set', 'skus.stock=10'],
    fails: ['well-formed'],
    evidence: /SKU \d: final stock -2 is below 0: oversold by 2 units/,
  },
  {
    // Without retries, so a skipped entry is not also retried into a double deduction.
    script: 'skip-journal',
    extra: ['--set', 'duplicates.ratio=0'],
    fails: ['conservation', 'chain', 'no-lost-ack'],
    evidence: /request DEC-7-\d*7 got ok \(stock \d+\) but has no journal entry/,
  },
  {
    script: 'wrong-change',
    fails: ['well-formed', 'conservation', 'no-lost-ack', 'no-unexpected'],
    evidence: /request DEC-7-\d+ deducted [23] \(ok, stock \d+\) but its journal entry records change 1/,
  },
  {
    script: 'wrong-reply',
    fails: ['no-lost-ack'],
    evidence: /request DEC-7-\d+ got ok \(stock \d+\) but its journal entry says the stock went to \d+/,
  },
  {
    script: 'false-sold-out',
    fails: ['no-undersell'],
    evidence: /request DEC-7-\d+ for \d units? of SKU \d was answered sold_out, but SKU \d still has \d+ in stock/,
  },
  {
    // The sale sells out anyway, so the final stock proves nothing: the real-time half must catch it.
    script: 'string-compare',
    fails: ['no-undersell'],
    evidence: /request DEC-7-\d+ for \d units? of SKU \d was answered sold_out, but request DEC-7-\d+, sent [\d.]+ ms after that reply, deducted from a stock of \d+/,
  },
];

for (const target of TARGETS) describe(`sellout run with a broken script on ${target.name}`, () => {
  for (const { script, extra = [], fails, evidence } of cases) {
    it(`${script}.lua fails exactly ${fails.join(', ')}`, async () => {
      const { code, failed, summary, stdout } = await run(`test/fixtures/broken/${script}.lua`, [...target.extra, ...extra], target.url());
      expect(code).toBe(1);
      expect(summary.status).toBe('fail');
      expect(failed).toEqual(fails);
      const examples = summary.invariants.filter((i) => i.status === 'fail').flatMap((i) => i.examples);
      expect(examples.some((e) => evidence.test(e))).toBe(true);
      // The console names each failure and shows its first piece of evidence.
      for (const name of fails) expect(stdout).toMatch(new RegExp(`FAIL  ${name}\\b`));
      expect(stdout).toMatch(/e\.g\. /);
      // Only durability may be skipped (no faults yet); everything else passed.
      const skippedNames = summary.invariants.filter((i) => i.status === 'skipped').map((i) => i.name);
      expect(skippedNames).toEqual(['durability']);
    });
  }

  it('a correct but slow script: timeouts are unknown outcomes, found in the journal as recovered, not failures', async () => {
    // IDs ending in 13 take 300 ms in the script; with a 30 ms timeout they (and what queues behind them) end
    // unknown: timeouts are noticed by a 50 ms timer, and 300 ms leaves room for it to run late on a busy machine.
    const { code, failed, summary } = await run('test/fixtures/slow-deduct.lua', [...target.extra, '--set', 'timeoutMs=30'], target.url());
    expect(failed).toEqual([]);
    expect(code).toBe(0);
    expect(summary.outcomes.unknown).toBeGreaterThan(0);
    const bounds = summary.invariants.find((i) => i.name === 'bounds')!;
    expect(bounds.recovered!.count).toBeGreaterThan(0);
    expect(bounds.recovered!.ids).toContain('DEC-7-13');
    const unexpected = summary.invariants.find((i) => i.name === 'no-unexpected')!;
    expect(unexpected.actual).toContain(`(${bounds.recovered!.count} recovered from unknown outcomes)`);
  });

  for (const script of ['lua/deduct.lua', 'lua/seed-deduct.lua']) {
    it(`${script} passes the same scenario (exit 0)`, async () => {
      const { code, failed, summary } = await run(script, target.extra, target.url());
      expect(failed).toEqual([]);
      expect(code).toBe(0);
      expect(summary.invariants).toHaveLength(12);
      expect(summary.outcomes.ok).toBeGreaterThan(0);
      expect(summary.outcomes.sold_out).toBeGreaterThan(0);
    });
  }
});
