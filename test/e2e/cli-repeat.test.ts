/**
 * `sellout run --repeat N` as a CI gate uses it: N runs on fresh keys, a report per run, one verdict
 * on the medians with the spread, and a broken script failing the gate whatever the medians say.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

let dir: string;
let redis: TestRedis;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sellout-cli-repeat-'));
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const scenario = (name: string, script = 'lua/deduct.lua') => {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\nscript: ${ROOT}/${script}\nskus: {count: 2, stock: 100}\nrequests: 400\nload: {connections: 2, inFlight: 2}\nduplicates: {ratio: 0.2, pattern: sequential}\nthresholds: {latency.ok.p99: "< 30s", outcomes.ok: "== 200"}\n`);
  return file;
};

describe('sellout run --repeat', () => {
  it('runs N times on fresh keys, writes each report and repeat.json, and gates on the medians (exit 0)', async () => {
    const out = join(dir, 'out-pass');
    const r = await runCli(['run', scenario('rep'), '--repeat', '3', '--redis', redis.url, '--out', out, '--quiet']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['.sellout-report.json', 'repeat.json', 'run-1', 'run-2', 'run-3']);
    const repeated = JSON.parse(readFileSync(join(out, 'repeat.json'), 'utf8'));
    expect(repeated.runs.map((x: { status: string }) => x.status)).toEqual(['pass', 'pass', 'pass']);
    expect(new Set(repeated.runs.map((x: { id: string }) => x.id)).size).toBe(3);
    const ok = repeated.thresholds.find((t: { name: string }) => t.name === 'outcomes.ok');
    expect(ok).toMatchObject({ values: [200, 200, 200], min: 200, median: 200, max: 200, status: 'pass' });
    expect(r.stdout).toMatch(/^run 1 of 3: PASS \(exit 0\); [\d,.]+ replies\/s, ok p99 .* \(report run-1\/\)$/m);
    expect(r.stdout).toMatch(/^ {4}PASS {2}latency\.ok\.p99 < 30s: median .* \[.* \.\. .*\] over 3 run\(s\), limit 30 s$/m);
    expect(r.stdout).toMatch(/verdict {5}PASS \(exit 0\)$/m);
    // Fresh keys each time, all removed.
    expect(await redis.client.dbsize()).toBe(0);
  });

  it('a broken script fails the gate (exit 1) whatever the medians say', async () => {
    const r = await runCli(['run', scenario('rep-broken', 'test/fixtures/broken/no-idempotency.lua'), '--repeat', '2', '--redis', redis.url, '--out', join(dir, 'out-broken'), '--quiet']);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toMatch(/verdict {5}FAIL: 2 run\(s\) failed beyond their thresholds/);
  });

  it('--repeat 0 is a usage error in one line (exit 2), before anything runs', async () => {
    const r = await runCli(['run', scenario('rep-bad'), '--repeat', '0', '--redis', redis.url, '--out', join(dir, 'out-bad')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('sellout: --repeat: expected a number of runs from 1 to 100, got "0"\n');
  });
});
