/**
 * Crashes during a sale, as a user runs them: the shipped crash-restart scenario (kill -9 of the
 * embedded redis-server mid-sale, restarted 500 ms later) under each persistence mode, with the
 * durability results pinned as observed; and a kill with no restart. Every run ends with its
 * measurements written, no hang, and no invariant failing but durability where data was lost.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, startCli } from '../helpers/cli.js';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'sellout-cli-faults-')); });
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

let runs = 0;
async function run(file: string, extra: string[]): Promise<{ code: number | null; summary: any; stdout: string; stderr: string }> {
  const out = join(dir, `out-${++runs}`);
  const r = await runCli(['run', file, '--out', out, ...extra], { timeoutMs: 90_000 });
  return { ...r, summary: JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) };
}

const statuses = (summary: any) => Object.fromEntries(summary.invariants.map((i: { name: string; status: string }) => [i.name, i.status]));
const failing = (summary: any) => summary.invariants.filter((i: { status: string }) => i.status === 'fail').map((i: { name: string }) => i.name);

describe('scenarios/crash-restart.yaml: kill -9 at 2.5 s, restart after 500 ms, per persistence mode', () => {
  it('none: the restart comes back empty: every acknowledgement before the crash is lost with the keys (durability fails, the rest has nothing to judge)', async () => {
    const r = await run(join(ROOT, 'scenarios/crash-restart.yaml'), ['--set', 'persistence=none']);
    expect(r.code, r.stdout).toBe(1);
    expect(r.summary.persistence.declared).toBe('none');
    expect(r.summary.durability).toMatchObject({ persistence: 'none', crashes: 1, skusGone: 4, soldTwice: 0 });
    expect(r.summary.durability.lost.requests).toBeGreaterThan(1000);
    expect(failing(r.summary)).toEqual(['durability']);
    expect(r.summary.invariants.find((i: { name: string }) => i.name === 'conservation').reason).toMatch(/^the crash took every key of 4 of 4 SKU\(s\) \(persistence none\)/);
    // After the restart the sale goes on against an empty server: its deductions find no stock.
    expect(r.summary.outcomes.not_found).toBeGreaterThan(0);
    expect(r.summary.faults[0]).toMatchObject({ action: 'kill', detail: expect.stringMatching(/^killed \(kill -9\), restarted/) });
    expect(r.stdout).toMatch(/FAIL {2}durability {7}[\d,]+ acknowledged deductions \([\d,]+ units\) lost, 0 units sold twice, 4 SKUs with no key left after 1 crash \(kill -9 and restart at 2\.50 s\); persistence none keeps nothing/);
  });

  it('rdb: the restart loads the last snapshot: what came after it is lost, and the sale sells those units again', async () => {
    const r = await run(join(ROOT, 'scenarios/crash-restart.yaml'), ['--set', 'persistence=rdb']);
    expect(r.code, r.stdout).toBe(1);
    expect(r.summary.durability).toMatchObject({ persistence: 'rdb', crashes: 1, skusGone: 0 });
    expect(r.summary.durability.lost.requests).toBeGreaterThan(0);
    // The sale goes on selling the restored stock: lost units are sold again (all of them when the
    // sale sells out before its end, which a loaded machine may not reach), never more than were lost.
    expect(r.summary.durability.soldTwice).toBeGreaterThan(0);
    expect(r.summary.durability.soldTwice).toBeLessThanOrEqual(r.summary.durability.lost.units);
    expect(failing(r.summary)).toEqual(['durability']);
    expect(statuses(r.summary)['conservation']).toBe('pass');
  });

  for (const persistence of ['aof-everysec', 'aof-always']) {
    it(`${persistence}: Redis wrote the AOF before replying, and kill -9 leaves it with the OS: nothing acknowledged is lost (exit 0)`, async () => {
      const r = await run(join(ROOT, 'scenarios/crash-restart.yaml'), ['--set', `persistence=${persistence}`]);
      expect(r.code, r.stdout).toBe(0);
      expect(r.summary.durability).toEqual({ persistence, crashes: 1, lost: { requests: 0, units: 0 }, soldTwice: 0, skusGone: 0 });
      expect(Object.values(statuses(r.summary)).every((s) => s === 'pass')).toBe(true);
      // The errors of the outage (sends with no connection, refused while loading) are inside its window.
      expect(r.summary.outcomes.error).toBeGreaterThan(0);
      expect(r.summary.outcomesOutsideFaults.error).toBe(0);
      expect(r.summary.faults[0].effect.recoveryMs).not.toBeNull();
    });
  }
});

it('a kill with no restart: the load ends with the server down, the report says so (exit 3), nothing hangs', async () => {
  const file = join(dir, 'down.yaml');
  writeFileSync(file, `name: down\nscript: ${ROOT}/lua/deduct.lua\nskus: {count: 2, stock: 100000}\nduration: 3s\nload: {model: constant-rate, rate: 1000, connections: 2}\nfaults:\n  - {at: 1s, action: kill}\ntimeoutMs: 1000\n`);
  const started = Date.now();
  const r = await run(file, []);
  expect(r.code, r.stdout).toBe(3);
  expect(Date.now() - started).toBeLessThan(60_000);
  expect(r.summary.faults[0]).toMatchObject({ action: 'kill', detail: 'killed (kill -9); not restarted' });
  expect(r.summary.outcomes.ok).toBeGreaterThan(0);
  expect(r.summary.targetLost).toMatch(/could not read the run's keys back|dropped every load connection|cannot connect/);
});

it('a restart that fails (its port taken meanwhile): one line in the fault table, the run goes on with the server down and says so (exit 3)', async () => {
  const file = join(dir, 'taken.yaml');
  writeFileSync(file, `name: taken\nscript: ${ROOT}/lua/deduct.lua\nskus: {count: 2, stock: 100000}\nduration: 3s\nload: {model: constant-rate, rate: 1000, connections: 2}\nfaults:\n  - {at: 1s, action: kill, restartAfter: 1s}\ntimeoutMs: 1000\n`);
  const out = join(dir, 'out-taken');
  const { output, exited, seeded } = startCli(['run', file, '--out', out]);
  const { port } = await seeded;
  // Once the server is killed, something else takes its port before the restart.
  const squatter = createServer();
  for (;;) {
    const bound = await new Promise<boolean>((resolve) => {
      squatter.once('error', () => resolve(false));
      squatter.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    expect(await exited, output.stdout + output.stderr).toBe(3);
  } finally {
    squatter.close();
  }
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  expect(summary.faults[0].failed).toMatch(new RegExp(`^cannot restart the embedded redis-server on 127\\.0\\.0\\.1:${port}: `));
  expect(output.stdout).toContain(summary.faults[0].failed);
  expect(summary.targetLost).toBeDefined();
}, 60_000);
