/**
 * `sellout audit` as a user runs it (the built CLI as a child process) against a private
 * redis-server: the published script comes out unsafe where its flaws are, ours safe on every
 * case, each broken fixture shows the flaw a single call can show, and nothing is left in Redis.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuditReport } from '../../src/audit/report.js';
import { auditCases } from '../../src/audit/cases.js';
import { spawn } from 'node:child_process';
import { BIN, cliEnv, ROOT, runCli, track } from '../helpers/cli.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

let redis: TestRedis;
let outRoot: string;
let n = 0;
beforeAll(async () => {
  redis = await startTestRedis();
  outRoot = mkdtempSync(join(tmpdir(), 'sellout-audit-'));
});
afterAll(async () => {
  await redis?.stop();
  if (outRoot) rmSync(outRoot, { recursive: true, force: true });
});
afterEach(async () => {
  // The audit deletes every key it wrote, whatever the script did to them.
  expect(await redis.client.dbsize()).toBe(0);
});

const ALL = auditCases().map((c) => c.slug);

async function audit(script: string | undefined, url = redis.url) {
  const out = join(outRoot, `audit-${++n}`);
  const result = await runCli(['audit', ...(script ? ['--script', script] : []), '--redis', url, '--out', out]);
  expect(result.stderr).not.toContain('internal error');
  const report = JSON.parse(readFileSync(join(out, 'audit.json'), 'utf8')) as AuditReport;
  const unsafe = Object.fromEntries(report.cases.filter((c) => c.verdict === 'unsafe').map((c) => [c.slug, c.reasons.join('; ')]));
  return { ...result, out, report, unsafe };
}

describe('sellout audit', () => {
  it('lua/seed-deduct.lua: exit 1, unsafe on the negative, zero, fractional, nan and 15-digit-stock cases (and the others its flaws reach)', async () => {
    const r = await audit('lua/seed-deduct.lua');
    expect(r.code).toBe(1);
    expect(r.unsafe['qty-negative']).toBe('raised the stock (10 -> 15)');
    expect(r.unsafe['qty-zero']).toBe('burned the request ID: journaled with nothing deducted');
    expect(r.unsafe['qty-fraction']).toBe('stored a non-integer stock "9.5"; replied 9 but stored "9.5"');
    expect(r.unsafe['qty-nan']).toMatch(/^stored a non-integer stock "-?nan"; changed the stock without a journal entry$/);
    expect(r.unsafe['stock-15-digits']).toBe('stored a non-integer stock "1.2345678901234e+14"; replied 123456789012344 but stored "1.2345678901234e+14"');
    // Every case its flaws reach, and no other: a judge that calls everything unsafe fails here.
    expect(Object.keys(r.unsafe).sort()).toEqual([
      'qty-negative', 'qty-zero', 'qty-fraction', 'qty-exponent', 'qty-space', 'qty-nan', 'qty-neg-inf', 'qty-2p53', 'qty-15-digits', 'stock-fraction', 'stock-15-digits',
    ].sort());
    expect(r.unsafe['qty-neg-inf']).toMatch(/stored a non-integer stock "inf"; changed the stock without a journal entry/);
    expect(r.unsafe['qty-2p53']).toMatch(/^stock fell by 9007199254740991, not by the quantity 9007199254740993/);
    expect(r.report).toMatchObject({ verdict: 'unsafe', exitCode: 1, counts: { cases: ALL.length, unsafe: 11, safe: ALL.length - 11, notRun: 0 } });
    expect(r.report.script.path).toBe('lua/seed-deduct.lua');
    expect(r.report.script.sha1).toMatch(/^[0-9a-f]{40}$/);
    // The table: one row per case, the verdict line last, the action flaw as a note.
    expect(r.stdout).toMatch(/^ +3 {2}quantity -5 +10 -> 15 +15 +yes +UNSAFE: raised the stock \(10 -> 15\)$/m);
    expect(r.stdout).toMatch(/^ {2}note +the journal entry says action "increase" for a decrease \(case 1, 2, /m);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(`UNSAFE: 11 of ${ALL.length} cases left state the script should not have (or a reply the state contradicts)`);
    // The report directory: both files and sellout's marker.
    expect(readFileSync(join(r.out, 'audit.md'), 'utf8')).toContain('| 3 | quantity -5 | 10 -> 15 | 15 | yes | UNSAFE: raised the stock (10 -> 15) |');
    expect(existsSync(join(r.out, '.sellout-report.json'))).toBe(true);
  });

  it('lua/deduct.lua (the default script): exit 0, every case safe, the request ID of 1 MiB journaled but cut in audit.json', async () => {
    const r = await audit(undefined);
    expect(r.code).toBe(0);
    expect(r.unsafe).toEqual({});
    expect(r.report).toMatchObject({ verdict: 'safe', exitCode: 0, counts: { cases: ALL.length, safe: ALL.length, unsafe: 0 } });
    expect(r.report.script.path).toBe('lua/deduct.lua');
    expect(r.report.cases.map((c) => c.slug)).toEqual(ALL);
    const reason = (slug: string) => r.report.cases.find((c) => c.slug === slug)!.reasons.join('; ');
    expect(reason('qty-nan')).toBe('rejected: INVALID_QUANTITY, nothing written');
    expect(reason('stock-15-digits')).toBe('rejected: STOCK_OUT_OF_RANGE, nothing written');
    expect(reason('id-twice')).toBe('deducted 1 (10 -> 9) and journaled it; repeat: rejected: OPERATION_ALREADY_EXECUTED, nothing written');
    const long = r.report.cases.find((c) => c.slug === 'id-1mib')!;
    expect(long.input.requestIdBytes).toBe(1024 * 1024);
    expect(long.calls[0]!.journal.written).toBe('new');
    expect(readFileSync(join(r.out, 'audit.json'), 'utf8').length).toBeLessThan(100_000);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(`SAFE: all ${ALL.length} cases safe`);
  });

  /**
   * What single calls can show of each fixture's flaw. skip-journal drops the entry only for
   * request IDs ending in 7, which none of the audit's deducting cases use: in single calls it
   * looks like lua/deduct.lua, and only a run with many IDs (broken-scripts.test.ts) catches it.
   */
  const FIXTURES: { script: string; unsafe: Record<string, RegExp> }[] = [
    { script: 'false-sold-out', unsafe: { exact: /^false sold-out: INVENTORY_NOT_ENOUGH for 10 with 10 in stock$/ } },
    { script: 'negative-stock', unsafe: { 'over-stock': /^deducted past zero \(2 -> -1\)$/ } },
    { script: 'no-idempotency', unsafe: { 'id-twice': /^repeat: deducted again for a request ID already in the journal \(9 -> 8\); repeat: overwrote the journal entry/ } },
    { script: 'string-compare', unsafe: { valid: /^false sold-out: INVENTORY_NOT_ENOUGH for 3 with 10 in stock$/ } },
    { script: 'wrong-change', unsafe: { valid: /^journal says change 1, stock fell by 3$/, exact: /^journal says change 1, stock fell by 10$/ } },
    {
      script: 'wrong-reply',
      unsafe: { valid: /^replied 10 but stored 7$/, exact: /^replied 10 but stored 0$/, 'id-empty': /^replied 10 but stored 9$/, 'id-1mib': /^replied 10 but stored 9$/, 'id-twice': /^replied 10 but stored 9$/ },
    },
    { script: 'skip-journal', unsafe: {} },
  ];

  for (const fixture of FIXTURES) {
    const shows = Object.keys(fixture.unsafe);
    it(`test/fixtures/broken/${fixture.script}.lua: ${shows.length ? `unsafe on ${shows.join(', ')} only` : 'nothing a single call can see (exit 0)'}`, async () => {
      const r = await audit(join('test/fixtures/broken', `${fixture.script}.lua`));
      expect(r.code).toBe(shows.length > 0 ? 1 : 0);
      expect(Object.keys(r.unsafe).sort()).toEqual(shows.sort());
      for (const [slug, reason] of Object.entries(fixture.unsafe)) expect(r.unsafe[slug]).toMatch(reason);
    });
  }

  it('Ctrl-C: the case running finishes, the keys are deleted, what ran is written, exit 130', async () => {
    // lua/deduct.lua, 150 ms slower per call: the audit takes seconds, time to interrupt it.
    const slow = join(outRoot, 'slow.lua');
    writeFileSync(slow, `local t0 = redis.call('TIME')\nrepeat local t = redis.call('TIME') until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 150000\n${readFileSync(join(ROOT, 'lua/deduct.lua'), 'utf8')}`);
    const out = join(outRoot, 'interrupted');
    const child = track(spawn(process.execPath, [BIN, 'audit', '--script', slow, '--redis', redis.url, '--out', out], { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    let interrupting = false;
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/sellout: audit /.test(stderr) && !interrupting) {
        interrupting = true;
        setTimeout(() => child.kill('SIGINT'), 400);
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('interrupted, stopping after this case');
    const report = JSON.parse(readFileSync(join(out, 'audit.json'), 'utf8')) as AuditReport;
    expect(report).toMatchObject({ verdict: 'interrupted', exitCode: 130 });
    expect(report.cases.length).toBeGreaterThan(0);
    expect(report.notRun.length).toBeGreaterThan(0);
    expect(report.cases.length + report.notRun.length).toBe(ALL.length);
    expect(report.cases.every((c) => c.verdict === 'safe')).toBe(true);
    expect(stdout.trimEnd().split('\n').at(-1)).toMatch(new RegExp(`^INTERRUPTED: ${report.cases.length} of ${ALL.length} cases ran \\(0 unsafe\\); not run: `));
  });

  it('a missing script file: exit 2 in one line, before any Redis or report directory', async () => {
    const out = join(outRoot, 'never');
    const r = await runCli(['audit', '--script', 'lua/nope.lua', '--redis', 'redis://127.0.0.1:1', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`sellout: --script lua/nope.lua: expected a readable Lua file relative to the current directory, got "lua/nope.lua" (tried ${join(ROOT, 'lua', 'nope.lua')}: no such file)\n`);
    expect(r.stdout).toBe('');
    expect(existsSync(out)).toBe(false);
    // Relative to the current directory only: sellout's own lua/deduct.lua does not stand in.
    const elsewhere = await runCli(['audit', '--script', 'lua/deduct.lua', '--redis', 'redis://127.0.0.1:1', '--out', out], { cwd: outRoot });
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toBe(`sellout: --script lua/deduct.lua: expected a readable Lua file relative to the current directory, got "lua/deduct.lua" (tried ${join(outRoot, 'lua', 'deduct.lua')}: no such file)\n`);
    const typo = await runCli(['audit', '--script', 'builtin:dedcut', '--redis', 'redis://127.0.0.1:1', '--out', out]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe('sellout: --script builtin:dedcut: expected one of builtin:deduct, builtin:seed-deduct or a Lua file, got "builtin:dedcut" (did you mean "builtin:deduct"?)\n');
    expect(existsSync(out)).toBe(false);
  });

  it('an --out directory holding another tool\'s files is refused (exit 2), as for run', async () => {
    const out = join(outRoot, 'foreign');
    mkdirSync(out);
    writeFileSync(join(out, 'audit.json'), '{}');
    const r = await runCli(['audit', '--redis', redis.url, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^sellout: --out .*foreign: expected an empty directory or an earlier sellout report, got a directory holding "audit.json" but no \.sellout-report\.json/);
    expect(readFileSync(join(out, 'audit.json'), 'utf8')).toBe('{}');
  });

  it('an unreachable --redis: exit 3 in one line, no report directory left', async () => {
    const out = join(outRoot, 'unreachable');
    const r = await runCli(['audit', '--redis', 'redis://127.0.0.1:1', '--out', out]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^sellout: cannot connect to Redis at redis:\/\/127\.0\.0\.1:1: ECONNREFUSED/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });
});

describe('sellout audit on a Redis Cluster', () => {
  let cluster: TestCluster;
  beforeAll(async () => { cluster = await startTestCluster(); });
  afterAll(async () => { await cluster?.stop(); });

  it('runs each case on the primary owning its keys, safe as on one server, and leaves no key on any primary', async () => {
    const r = await audit('lua/deduct.lua', cluster.url);
    expect(r.code).toBe(0);
    expect(r.report.target.mode).toBe('cluster');
    expect(new Set(r.report.cases.map((c) => c.node)).size).toBeGreaterThan(1);
    for (const c of r.report.cases) expect(c.node).toBe(`${(await cluster.ownerOf(c.keys.stock)).options.host}:${(await cluster.ownerOf(c.keys.stock)).options.port}`);
    for (const node of cluster.nodes) expect(await node.dbsize()).toBe(0);
  });
});
