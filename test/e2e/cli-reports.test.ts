/**
 * The CLI's gate end to end against a private redis-server: a failing threshold exits 4 and says
 * which and by how much, --no-thresholds turns them off, a bad threshold exits 2 before any load,
 * `compare` exits 4 on a regression, and `report` refuses a directory without a summary.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SummaryV1 } from '../../src/report/summary.js';
import { runCli } from '../helpers/cli.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
let tmp: string;
const readSummary = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as SummaryV1;

beforeAll(async () => {
  redis = await startTestRedis();
  tmp = mkdtempSync(join(tmpdir(), 'sellout-cli-'));
});
afterAll(async () => {
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('sellout run with thresholds', () => {
  it('exits 4 naming the failed threshold and by how much, and writes every output', async () => {
    const dir = join(tmp, 'fail');
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--redis', redis.url, '--out', dir, '--set', 'thresholds={"latency.ok.p99":"< 1us","outcomes.error":"== 0"}']);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).toMatch(/^ {4}FAIL {2}latency\.ok\.p99 < 1us: actual [\d.]+ ms, limit 1 us, over by [\d.]+ ms \([\d.]+x the limit\)$/m);
    expect(r.stdout).toContain('    PASS  outcomes.error == 0: actual 0, limit 0, exactly on it');
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('  verdict     FAIL: 1 threshold failed (latency.ok.p99) (exit 4)');
    const summary = readSummary(dir);
    expect(summary.status).toBe('pass'); // the invariants held: only the threshold failed
    expect(summary.verdict).toMatchObject({ status: 'fail', exitCode: 4 });
    expect(summary.thresholds!.map((t) => [t.name, t.status])).toEqual([['latency.ok.p99', 'fail'], ['outcomes.error', 'pass']]);
    expect(summary.environment!.cores).toBeGreaterThan(0);
    expect(readdirSync(dir).sort()).toEqual(['junit.xml', 'latency-duplicate.hgrm', 'latency-ok.hgrm', 'latency-sold_out.hgrm', 'latency.hlog', 'report.html', 'summary.json', 'summary.md']);
  });

  it('--no-thresholds turns them off: exit 0 and no threshold results', async () => {
    const dir = join(tmp, 'off');
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--quiet', '--no-thresholds', '--redis', redis.url, '--out', dir, '--set', 'thresholds={"latency.ok.p99":"< 1us"}']);
    expect(r.code, r.stderr).toBe(0);
    expect(readSummary(dir).thresholds).toBeUndefined();
    expect(r.stdout).not.toContain('thresholds');
  });

  it('a malformed threshold stops the run before any load with one line, exit 2', async () => {
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--redis', redis.url, '--out', join(tmp, 'bad'), '--set', 'thresholds={"latency.ok.p99":"< 5 parsecs"}']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'scenarios/smoke.yaml: thresholds.latency.ok.p99: expected a condition on a duration with a unit, like "< 5ms" (operators <, <=, >, >=, ==, !=; units us, ms, s), got "< 5 parsecs" (from --set)\n' +
        'sellout: 1 problem(s) in the scenario; nothing was run\n',
    );
  });
});

describe('sellout compare and report', () => {
  it('compares two report directories: 0 without a regression, 4 with one, 2 for a bad tolerance', async () => {
    const base = join(tmp, 'off');
    const same = await runCli(['compare', base, join(base, 'summary.json')]);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toContain('verdict: OK (no regression beyond tolerance)');
    const slower = { ...readSummary(base), throughput: readSummary(base).throughput / 2 };
    const slowerFile = join(tmp, 'slower.json');
    writeFileSync(slowerFile, JSON.stringify(slower));
    const worse = await runCli(['compare', base, slowerFile]);
    expect(worse.code).toBe(4);
    expect(worse.stdout, worse.stdout).toMatch(/^throughput .*\(−50\.0%\) +−5% +REGRESSION$/m);
    expect(worse.stdout).toContain('verdict: REGRESSION in throughput (−50.0% beyond −5%)');
    const loose = await runCli(['compare', base, slowerFile, '--tolerance', 'throughput=60%']);
    expect(loose.code).toBe(0);
    const bad = await runCli(['compare', base, slowerFile, '--tolerance', 'throughput=lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('sellout: --tolerance throughput: expected a percentage like 10%, a number, or off, got "lots"\n');
  });

  it('report refuses a directory without summary.json (exit 2) and re-renders one that has it', async () => {
    const missing = await runCli(['report', join(tmp, 'nothing-here')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^sellout: .*nothing-here\/summary\.json: expected a summary\.json or a report directory holding one, got no such file\n$/);
    const dir = join(tmp, 'fail');
    rmSync(join(dir, 'report.html'));
    const again = await runCli(['report', dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain('FAIL: 1 threshold failed (latency.ok.p99)');
  });
});
