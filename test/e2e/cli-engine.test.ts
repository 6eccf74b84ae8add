/** The CLI as a child process: Ctrl-C, and the engine's scenario keys' one-line errors. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, runCli } from '../helpers/cli.js';
import { startTestRedis } from '../helpers/redis.js';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'sellout-engine-cli-')); });
afterAll(() => {});

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/**
 * Starts `sellout run` on a 60 s scenario against a private redis-server and resolves once
 * deductions are flowing (the journal has 100 entries): a fixed sleep is not enough on a loaded
 * machine, where the workers may not have started yet.
 */
async function startLongRun(name: string, load: string) {
  const file = write(`${name}.yaml`, `name: ${name}\nscript: ${ROOT}/lua/deduct.lua\nskus: {count: 2, stock: 100000000}\nduration: 60s\nload: ${load}\n`);
  const out = join(dir, `out-${name}`);
  const redis = await startTestRedis();
  const child = spawn(process.execPath, [BIN, 'run', file, '--out', out, '--redis', redis.url], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => { output.stdout += d.toString(); });
  const seeded = new Promise<string>((resolve) => {
    child.stderr.on('data', (d: Buffer) => {
      output.stderr += d.toString();
      const runId = new RegExp(`run (\\S+) on ${name}: seeding`).exec(output.stderr)?.[1];
      if (runId) resolve(runId);
    });
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const runId = await seeded;
  while (Number(await redis.client.hlen(`sellout:${runId}:journal:{0}`)) < 100) await new Promise((r) => setTimeout(r, 20));
  const handle = {
    child,
    redis,
    runId,
    keysLeft: -1,
    /** Waits for the CLI to exit; `before` runs on the server before it is stopped. */
    finish: async (before?: () => Promise<number>) => {
      const code = await exited;
      if (before) handle.keysLeft = await before();
      await redis.stop();
      return { code, summary: JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')), ...output };
    },
  };
  return handle;
}

describe('sellout run (engine)', () => {
  it('SIGINT stops the workers, still verifies, writes an interrupted summary.json and exits 130', async () => {
    const run = await startLongRun('long', '{connections: 4, inFlight: 4, workers: 2}');
    run.child.kill('SIGINT');
    const { code, summary, stdout, stderr } = await run.finish();
    expect(code).toBe(130);
    expect(stderr).toContain('interrupted');
    expect(summary.status).toBe('interrupted');
    expect(summary.requests).toBeGreaterThan(0);
    expect(summary.outcomes.ok).toBe(summary.requests);
    const notPassing = summary.invariants.filter((i: { status: string }) => i.status !== 'pass').map((i: { name: string; status: string }) => `${i.name} ${i.status}`);
    expect(notPassing).toEqual(['durability skipped']);
    expect(summary.series.t.length).toBeGreaterThan(0);
    expect(stdout).toContain('INTERRUPTED');
  });

  it('Redis dying mid-run: what was measured is still written, nothing is blamed on the script, exit 3', async () => {
    const run = await startLongRun('dies', '{connections: 4, inFlight: 4}');
    run.redis.server.kill('SIGKILL');
    const { code, summary, stdout, stderr } = await run.finish();
    expect(code, stderr).toBe(3);
    expect(summary.status).toBe('fail');
    expect(summary.verdict.exitCode).toBe(3);
    expect(summary.targetLost).toMatch(/could not read the run's keys back from Redis/);
    expect(summary.outcomes.ok).toBeGreaterThanOrEqual(100);
    expect(summary.outcomes.unknown).toBeGreaterThan(0);
    expect(summary.invariants.map((i: { status: string }) => i.status)).toEqual(new Array(12).fill('skipped'));
    expect(stdout).toMatch(/invariants {2}NOT CHECKED: could not read the run's keys back/);
    expect(stdout).not.toMatch(/internal error/);
  });

  it('every connection killed mid-run (CLIENT KILL TYPE normal): all are reopened, the run verifies and removes its keys', async () => {
    const run = await startLongRun('killed', '{connections: 4, inFlight: 4}');
    // The load connections and sellout's admin connections: a server-side kill of every client.
    await run.redis.client.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    const journal = `sellout:${run.runId}:journal:{0}`;
    const before = Number(await run.redis.client.hlen(journal));
    while (Number(await run.redis.client.hlen(journal)) < before + 200) await new Promise((r) => setTimeout(r, 20));
    run.child.kill('SIGINT');
    const keysAfter = async () => (await run.redis.client.keys(`sellout:${run.runId}:*`)).length;
    const { code, summary, stderr } = await run.finish(keysAfter);
    expect(code, stderr).toBe(130);
    expect(summary.targetLost).toBeUndefined();
    expect(summary.reconnects).toBeGreaterThanOrEqual(4);
    for (const reason of summary.connectionErrors) expect(reason).toMatch(/^connection (closed by the server|error: )/);
    expect(summary.invariants.filter((i: { status: string }) => i.status === 'fail')).toEqual([]);
    expect(summary.run.keysKept).toBe(false);
    expect(run.keysLeft).toBe(0);
  });

  it('bad engine keys: one line each, naming file, field, expected and got, exit 2', async () => {
    const file = write('bad.yaml', [
      'name: bad',
      'skus: {stock: 10}',
      'requests: 10',
      'load: {model: constant-rate, stages: [{duration: 1s, target: 5}], maxInFlight: 0}',
      'duplicates: {ratio: 0.5, pattern: delayed}',
    ].join('\n'));
    const r = await runCli(['run', file]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toContain(`${file}: load.maxInFlight: expected a positive integer, got 0`);
    expect(lines.at(-1)).toMatch(/^sellout: \d+ problem\(s\) in the scenario; nothing was run$/);
    expect(r.stderr).toContain(`${file}: load.rate: expected a rate in requests per second (required by model constant-rate), got nothing`);
    expect(r.stderr).toContain(`${file}: load.stages: expected no stages with model constant-rate (it is for ramping-rate), got a list`);
    expect(r.stderr).toContain(`${file}: duplicates.delayMs: expected a delay in milliseconds (required by pattern delayed), got nothing`);
  });

  it('closed model rejects open-model keys, and cross-worker needs two workers', async () => {
    const file = write('bad2.yaml', 'name: bad2\nskus: {stock: 10}\nrequests: 10\nload: {rate: 100, workers: 1, connections: 1}\nduplicates: {ratio: 0.1, pattern: cross-worker}\n');
    const r = await runCli(['run', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: load.rate: expected no rate with model closed (it is for constant-rate / ramping-rate), got 100`);
    expect(r.stderr).toContain(`${file}: load.workers: expected at least 2 workers with duplicates pattern cross-worker, got 1`);
    expect(r.stderr).toContain(`${file}: load.connections: expected at least 2 connections with duplicates pattern cross-worker, got 1`);
  });
});
