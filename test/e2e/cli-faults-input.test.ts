/**
 * The fault keys through the CLI: a scenario with bad faults is every problem at once, exit 2; a
 * fault that needs the embedded redis-server, asked of a --redis URL, is exit 2 before anything is
 * opened (`--redis` points at a closed port: a check made too late would exit 3); and a run's
 * summary.json says which persistence was declared and what the server runs with.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';

const NOWHERE = 'redis://127.0.0.1:1';
let tmp: string;

beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'sellout-faults-cli-')); });
afterAll(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

function write(name: string, text: string): string {
  const file = join(tmp, name);
  writeFileSync(file, text);
  return file;
}

const scenario = (extra: string) => `name: faults\nscript: ${ROOT}/lua/deduct.lua\nskus: {count: 1, stock: 10}\nduration: 5s\n${extra}`;

describe('fault keys on the command line', () => {
  it('every mistake in the faults at once, one line each, exit 2, nothing run', async () => {
    const file = write('bad.yaml', scenario('persistence: aof\nfaults:\n  - {at: 1s, action: kil}\n  - {at: 2s, action: pause, duration: 2s}\n  - {at: 3s, action: kill, restartAfter: -1s}\n  - {at: 6s, action: failover}\n'));
    const r = await runCli(['run', file, '--redis', NOWHERE, '--out', join(tmp, 'out')]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toBe(
      `${file}: persistence: expected one of none, rdb, aof-everysec, aof-always, got "aof"\n` +
        `${file}: faults.0.action: expected one of kill, pause, client-pause, script-flush, client-kill, failover (did you mean "kill"?), got "kil"\n` +
        `${file}: faults.2.restartAfter: expected a duration, not a negative one, like "0ms" (restart at once) or "2s" (leave restartAfter out to keep the server down), got "-1s"\n` +
        `${file}: faults.3.at: expected a time before the end of the run (duration 5s), got "6s"\n` +
        `${file}: faults.3.action: expected replicas: 1 with action failover (it promotes the replica of the embedded redis-server; replicas is 0), got "failover"\n` +
        'sellout: 5 problem(s) in the scenario; nothing was run\n',
    );
  });

  it('a kill asked of a --redis URL is exit 2 before connecting, naming the fault and why, never the password', async () => {
    const file = write('kill.yaml', scenario('faults: [{at: 1s, action: kill, restartAfter: 1s}, {at: 3s, action: script-flush}]\n'));
    const r = await runCli(['run', file, '--redis', 'redis://u:Hunter2@127.0.0.1:1', '--out', join(tmp, 'out')]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^\S*kill\.yaml: faults\.0: expected a fault this target can take \(kill needs the embedded redis-server, the default without --redis: kill -9 and restart act on a redis-server process sellout started\), got kill at 1s with a Redis URL \(--redis, SELLOUT_REDIS_URL or REDIS_URL: a server sellout did not start\)\n/);
    expect(r.stderr).not.toMatch(/cannot connect|Hunter2/);
    // The same from the environment.
    const env = await runCli(['run', file, '--out', join(tmp, 'out')], { env: { SELLOUT_REDIS_URL: NOWHERE } });
    expect(env.code, env.stderr).toBe(2);
    expect(env.stderr).toMatch(/faults\.0: expected a fault this target can take/);
  });

  it('summary.json says what persistence was declared and what the embedded server runs with', async () => {
    const out = join(tmp, 'rdb');
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--set', 'persistence=rdb', '--set', 'requests=200', '--set', 'load.rate=2000', '--quiet', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { persistence: unknown; scenario: { asRun: string } };
    expect(summary.persistence).toEqual({ declared: 'rdb', found: { appendonly: 'no', appendfsync: 'everysec', save: '1 1' } });
    expect(summary.scenario.asRun).toContain('persistence: rdb\n');
  });
});
