/** The CLI as a child process: Ctrl-C, and the engine's scenario keys' one-line errors. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startLongRun } from '../helpers/long-run.js';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'sellout-engine-cli-')); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const startRun = (name: string, load: string) => startLongRun(dir, name, { load });

describe('sellout run (engine)', () => {
  it('SIGINT stops the workers, still verifies, writes an interrupted summary.json and exits 130', async () => {
    const run = await startRun('long', '{connections: 4, inFlight: 4, workers: 2}');
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
    const run = await startRun('dies', '{connections: 4, inFlight: 4}');
    run.redis!.server.kill('SIGKILL');
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
    const run = await startRun('killed', '{connections: 4, inFlight: 4}');
    // The load connections and sellout's admin connections: a server-side kill of every client.
    await run.client.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    const journal = `sellout:${run.runId}:journal:{0}`;
    const before = Number(await run.client.hlen(journal));
    while (Number(await run.client.hlen(journal)) < before + 200) await new Promise((r) => setTimeout(r, 20));
    run.child.kill('SIGINT');
    await run.exited;
    const keysLeft = await run.client.dbsize();
    const { code, summary, stderr } = await run.finish();
    expect(code, stderr).toBe(130);
    expect(keysLeft).toBe(0);
    expect(summary.targetLost).toBeUndefined();
    expect(summary.reconnects).toBeGreaterThanOrEqual(4);
    for (const reason of summary.connectionErrors) expect(reason).toMatch(/^connection (closed by the server|error: )/);
    expect(summary.invariants.filter((i: { status: string }) => i.status === 'fail')).toEqual([]);
    expect(summary.run.keysKept).toBe(false);
  });

  it('bad engine keys: one line each, naming file, field, expected and got, exit 2', async () => {
    const file = write('bad.yaml', [
      'name: bad',
      'script: builtin:deduct',
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
    const file = write('bad2.yaml', 'name: bad2\nscript: builtin:deduct\nskus: {stock: 10}\nrequests: 10\nload: {rate: 100, workers: 1, connections: 1}\nduplicates: {ratio: 0.1, pattern: cross-worker}\n');
    const r = await runCli(['run', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: load.rate: expected no rate with model closed (it is for constant-rate / ramping-rate), got 100`);
    expect(r.stderr).toContain(`${file}: load.workers: expected at least 2 workers with duplicates pattern cross-worker, got 1`);
    expect(r.stderr).toContain(`${file}: load.connections: expected at least 2 connections with duplicates pattern cross-worker, got 1`);
  });
});
