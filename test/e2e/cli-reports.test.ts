/**
 * The CLI's gate end to end against a private redis-server: a failing threshold exits 4 and says
 * which and by how much, --no-thresholds turns them off, a bad threshold exits 2 before any load,
 * `compare` exits 4 on a regression, and `report` refuses a directory without a summary.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SummaryV1 } from '../../src/summary/summary.js';
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
    expect(r.stdout).toMatch(/^ {4}FAIL {2}latency\.ok\.p99 < 1us: actual [\d.]+ [mu]s, limit 1 us, over by [\d.]+ [mu]s \([\d.]+x the limit\)$/m);
    expect(r.stdout).toContain('    PASS  outcomes.error == 0: actual 0, limit 0, exactly on it');
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('  verdict     FAIL: 1 threshold failed (latency.ok.p99) (exit 4)');
    expect(r.stdout).toMatch(/^sellout smoke: FAIL\n/); // the headline agrees with the exit code
    const summary = readSummary(dir);
    expect(summary.status).toBe('pass'); // the invariants held: only the threshold failed
    expect(summary.verdict).toMatchObject({ status: 'fail', exitCode: 4 });
    expect(summary.thresholds!.map((t) => [t.name, t.status])).toEqual([['latency.ok.p99', 'fail'], ['outcomes.error', 'pass']]);
    expect(summary.environment!.cores).toBeGreaterThan(0);
    expect(readdirSync(dir).sort()).toEqual(['.sellout-report.json', 'junit.xml', 'latency-duplicate.hgrm', 'latency-ok.hgrm', 'latency-sold_out.hgrm', 'latency.hlog', 'report.html', 'skus.csv', 'summary.json', 'summary.md']);
    // Every SKU of the sale, one row each, agreeing with the summary's totals.
    const rows = readFileSync(join(dir, 'skus.csv'), 'utf8').trimEnd().split('\n').slice(1).map((line) => line.split(','));
    expect(rows).toHaveLength(summary.skuTotals!.count);
    expect(rows.reduce((n, r) => n + Number(r[2]), 0)).toBe(summary.skuTotals!.final);
    // The stock lines come from the ok replies (the new stock each time): they start below the
    // seeded 200, never rise, and end where Redis's final stock is (smoke.yaml sells out).
    const finalOf = new Map(rows.map((r) => [Number(r[0]), Number(r[2])]));
    expect(summary.series!.stock).toHaveLength(5);
    for (const { sku, values } of summary.series!.stock) {
      expect(values).toHaveLength(summary.series!.t.length);
      expect(values.every((v, n) => v !== null && v <= 200 && (n === 0 || v <= values[n - 1]!)), JSON.stringify(values)).toBe(true);
      expect(values.at(-1)).toBe(finalOf.get(sku));
    }
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

describe('the report directory', () => {
  it('refuses an --out that is a file or holds other files, before any load (exit 2)', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'mine');
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--redis', redis.url, '--out', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`sellout: --out ${file}: expected a directory, got a file\n`);
    const other = join(tmp, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'mine');
    const r2 = await runCli(['run', 'scenarios/smoke.yaml', '--redis', redis.url, '--out', other]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/expected an empty directory or an earlier sellout report, got a directory holding "notes\.txt"/);
    expect(readFileSync(join(other, 'notes.txt'), 'utf8')).toBe('mine');
    expect(r.stdout + r2.stdout).toBe(''); // nothing ran
  });

  it('reusing an earlier report directory leaves no stale file of the earlier run', async () => {
    const dir = join(tmp, 'reuse');
    expect((await runCli(['run', 'scenarios/smoke.yaml', '--quiet', '--redis', redis.url, '--out', dir, '--set', 'requests=300'])).code).toBe(0);
    expect(readdirSync(dir)).toContain('latency-ok.hgrm');
    // Stock 0: every reply is sold_out, so this run has no latency-ok.hgrm of its own.
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--quiet', '--redis', redis.url, '--out', dir, '--set', 'requests=50', '--set', 'skus.stock=0']);
    expect(r.code).toBe(1); // no-empty-pass: nothing was deducted
    expect(readdirSync(dir).filter((f) => f.endsWith('.hgrm'))).toEqual(['latency-sold_out.hgrm']);
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

  it('refuses two runs of different scenarios (exit 2, listing what changed) unless --allow-different-scenarios', async () => {
    const base = join(tmp, 'off');
    // Runs of smoke.yaml with other thresholds are the same scenario: compared as before.
    const same = await runCli(['compare', join(tmp, 'fail'), base]);
    expect([0, 4], same.stderr).toContain(same.code);
    expect(same.stdout + same.stderr).not.toContain('DIFFERENT SCENARIOS');
    expect(same.stdout).toMatch(/^sellout compare: baseline /);
    // What the adoption issue saw: another scenario's run, "REGRESSION throughput -97.9%".
    const s = readSummary(base);
    const other = {
      ...s,
      throughput: s.throughput * 0.021,
      scenario: { ...s.scenario, name: 'many-skus', scriptSha: 'f'.repeat(40), asRun: s.scenario.asRun.replace(/^( {2}connections:) 8$/m, '$1 16').replace(/^( {2}count:) 5$/m, '$1 1000') },
    };
    const otherFile = join(tmp, 'other-scenario.json');
    writeFileSync(otherFile, JSON.stringify(other));
    const refused = await runCli(['compare', base, otherFile]);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    const lines = refused.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('sellout compare: refused: the two runs ran different scenarios, so their deltas would not mean a regression');
    expect(lines.slice(1, 6)).toEqual([
      '  scenario changes (baseline -> current):',
      '    name: smoke -> many-skus',
      `    script sha: ${s.scenario.scriptSha.slice(0, 12)} -> ffffffffffff (lua/deduct.lua)`,
      '    skus.count: 5 -> 1000',
      '    load.connections: 8 -> 16',
    ]);
    expect(lines.at(-1)).toBe('sellout: compare two runs of the same scenario, or pass --allow-different-scenarios to compare them anyway (exit 2)');
    expect(refused.stderr).not.toContain('REGRESSION');

    const allowed = await runCli(['compare', base, otherFile, '--allow-different-scenarios']);
    expect(allowed.code, allowed.stderr).toBe(4); // compared: the throughput drop is still a regression
    const out = allowed.stdout.split('\n');
    expect(out[0]).toMatch(/^\*\*\* DIFFERENT SCENARIOS: these runs ran different scenarios \(--allow-different-scenarios\)/);
    expect(out).toContain('    skus.count: 5 -> 1000');
    expect(allowed.stdout).toMatch(/^verdict: REGRESSION in throughput \(−97\.9% beyond −5%\)$/m);
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

  it('a damaged summary.json is one line naming the field (exit 2); a damaged latency.hlog only loses the spectrum', async () => {
    const dir = join(tmp, 'damaged');
    mkdirSync(dir);
    const good = readSummary(join(tmp, 'fail')) as unknown as Record<string, unknown>;
    writeFileSync(join(dir, 'summary.json'), JSON.stringify({ ...good, throughput: 'fast' }));
    const compare = await runCli(['compare', join(tmp, 'fail'), dir]);
    expect(compare.code).toBe(2);
    expect(compare.stderr).toMatch(/^sellout: .*damaged\/summary\.json: throughput: expected a number, got "fast"\n$/);
    const { target: _target, ...noTarget } = good;
    writeFileSync(join(dir, 'summary.json'), JSON.stringify(noTarget));
    expect((await runCli(['report', dir])).stderr).toMatch(/summary\.json: target: expected a mapping, got nothing\n$/);

    writeFileSync(join(dir, 'summary.json'), JSON.stringify(good));
    // Cut the first interval line in half: a fixed byte count could land on a line end (interval
    // lines are as long as their histograms' encodings), leaving a short but valid log.
    const hlog = readFileSync(join(tmp, 'fail', 'latency.hlog'), 'utf8').split('\n');
    const first = hlog.findIndex((line) => line.startsWith('Tag='));
    expect(first).toBeGreaterThan(0);
    writeFileSync(join(dir, 'latency.hlog'), [...hlog.slice(0, first), hlog[first]!.slice(0, Math.floor(hlog[first]!.length / 2))].join('\n'));
    const report = await runCli(['report', dir]);
    expect(report.code).toBe(0);
    expect(report.stderr).toMatch(/latency\.hlog: expected an HdrHistogram interval log, got .*: report\.html will have no latency spectrum/);
    expect(readdirSync(dir)).toContain('report.html');
  });
});
