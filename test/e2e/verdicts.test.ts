/**
 * The verdict is right whatever Redis does (issue 8): a server that refuses connections or
 * deductions, deletes the run's keys, restarts, freezes, or runs a script forever is named as the
 * target's problem (exit 3) with what was measured; error replies are listed and fail a default
 * threshold; nothing hangs and nothing is left behind. Every test drives the CLI as a child
 * process against a private, real redis-server.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';
import { startLongRun } from '../helpers/long-run.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { startLocalRedis } from '../../src/redis/local.js';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'sellout-verdicts-')); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

let files = 0;
/** A scenario file in the test's folder; `script` is resolved from the project. */
function scenario(body: string, script = 'lua/deduct.lua'): string {
  const file = join(dir, `s${++files}.yaml`);
  writeFileSync(file, `name: s${files}\nscript: ${ROOT}/${script}\n${body}`);
  return file;
}

async function run(redisUrl: string | undefined, file: string, extra: string[] = [], timeoutMs = 90_000, env: NodeJS.ProcessEnv = {}) {
  const out = join(dir, `out-${++files}`);
  const r = await runCli(['run', file, '--out', out, ...(redisUrl ? ['--redis', redisUrl] : []), ...extra], { timeoutMs, env });
  let summary: any;
  try { summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')); } catch { summary = undefined; }
  return { ...r, summary };
}

async function withRedis<T>(args: string[], body: (redis: TestRedis) => Promise<T>): Promise<T> {
  const redis = await startTestRedis({ args });
  try {
    return await body(redis);
  } finally {
    await redis.stop();
  }
}

const SMALL = 'skus: {count: 2, stock: 1000}\nrequests: 3000\nload: {connections: 8, inFlight: 4}\n';

describe('a server that refuses', () => {
  it('load connections refused at maxclients: exit 3 naming the reply, report written, keys removed (1)', async () => {
    await withRedis(['--maxclients', '20'], async (redis) => {
      const r = await run(redis.url, scenario('skus: {count: 1, stock: 10000}\nrequests: 20000\nload: {connections: 50, inFlight: 8}\n'));
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).not.toMatch(/internal error|TypeError/);
      expect(r.stdout).toMatch(/verdict {5}FAIL: target problem: could not open the 50 load connection\(s\): .*max number of clients reached.* \(exit 3\)/);
      expect(r.summary.verdict.exitCode).toBe(3);
      expect(r.summary.targetLost).toMatch(/max number of clients reached/);
      expect(r.summary.requests).toBe(0);
      expect(await redis.client.dbsize()).toBe(0);
    });
  });

  it('OOM after the first deductions: exit 3 naming OOM, however many ok replies came first; the error replies are listed with counts (2)', async () => {
    const run = await startLongRun(dir, 'oom', { body: 'skus: {count: 1, stock: 100000000}\nduration: 2s\nload: {connections: 2, inFlight: 4}\n' });
    // Deductions flow; now the server is out of memory for every write (noeviction).
    await run.client.config('SET', 'maxmemory', '1');
    const { code, summary, stdout } = await run.finish();
    expect(code, stdout).toBe(3);
    expect(summary.outcomes.ok).toBeGreaterThanOrEqual(100);
    const oom = summary.errorReplies.find((e: { refusal?: string }) => e.refusal === 'OOM');
    expect(oom).toMatchObject({ reply: expect.stringMatching(/^OOM command not allowed/) });
    expect(oom.count).toBe(summary.outcomes.error);
    expect(summary.targetLost).toMatch(/^Redis refused [\d,]+ deduction\(s\) outright: OOM command not allowed/);
    expect(stdout).toMatch(/error reply [\d,]+ x OOM command not allowed.*\(the server refused the command\)/);
    const out = join(dir, 'out-oom');
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toMatch(/### Error replies[\s\S]*OOM command not allowed/);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toMatch(/Error replies[\s\S]*OOM command not allowed/);
  });

  it('an ACL user without EVALSHA: exit 3 naming NOPERM (2)', async () => {
    await withRedis([], async (redis) => {
      await redis.client.call('ACL', 'SETUSER', 'shop', 'on', '>pw', '~*', '+@all', '-evalsha');
      const r = await run(`redis://shop:pw@127.0.0.1:${redis.server.port}`, scenario(SMALL));
      expect(r.code, r.stdout).toBe(3);
      expect(r.summary.errorReplies[0]).toMatchObject({ refusal: 'NOPERM', count: 3000 });
      expect(r.stdout).toMatch(/target problem: Redis refused 3,000 deduction\(s\) outright: NOPERM/);
      expect(r.stdout + r.stderr).not.toContain(':pw@');
    });
  });

  it('error replies the contract does not name fail a default threshold (exit 4), listed with counts; a scenario may allow them (2)', async () => {
    await withRedis([], async (redis) => {
      const file = scenario('skus: {count: 1, stock: 100000}\nrequests: 1000\nload: {connections: 2, inFlight: 4}\n', 'test/fixtures/sometimes-error.lua');
      const r = await run(redis.url, file);
      expect(r.code, r.stdout).toBe(4);
      // Request IDs DEC-1-0 .. DEC-1-999: those ending in 7 are refused by the script.
      expect(r.summary.outcomes.error).toBe(100);
      // Redis 7 puts ERR before an error reply that has no code of its own.
      expect(r.summary.errorReplies).toEqual([{ reply: 'ERR PAYMENT_SERVICE_DOWN', count: 100 }]);
      expect(r.summary.thresholds).toEqual([expect.objectContaining({ name: 'outcomes.error', condition: '== 0', status: 'fail', default: true })]);
      expect(r.stdout).toMatch(/error reply 100 x ERR PAYMENT_SERVICE_DOWN\n/);
      expect(r.stdout).toMatch(/FAIL {2}outcomes\.error == 0: actual 100, limit 0, off by 100; a default threshold: set thresholds\.outcomes\.error in the scenario to allow some/);
      const allowed = await run(redis.url, file, ['--set', 'thresholds={"outcomes.error": "< 20%"}']);
      expect(allowed.code, allowed.stdout).toBe(0);
      expect(allowed.summary.thresholds.map((t: { name: string }) => t.name)).toEqual(['outcomes.error']);
    });
  });
});

describe('keys deleted from outside', () => {
  it('FLUSHALL mid-run: exit 3 naming the keys and the flush, nothing blamed on the script (3)', async () => {
    const run = await startLongRun(dir, 'flushed', { body: 'skus: {count: 2, stock: 100000000}\nduration: 3s\nload: {connections: 2, inFlight: 4}\n' });
    await run.client.flushall();
    const { code, summary, stdout } = await run.finish();
    expect(code, stdout).toBe(3);
    expect(summary.targetLost).toMatch(/2 of 2 SKU\(s\) lost both their stock and journal keys during the run \(e\.g\. sellout:\S+:inv:\{0\}, sellout:\S+:journal:\{0\}/);
    expect(summary.targetLost).toMatch(/FLUSHALL\/FLUSHDB ran 1 time\(s\) during the run/);
    expect(summary.invariants.filter((i: { status: string }) => i.status === 'fail')).toEqual([]);
    expect(stdout).not.toMatch(/stock +0 left/);
  });

  it('a restart without persistence behind a surviving connection: exit 3 naming the restart (3)', async () => {
    const run = await startLongRun(dir, 'restarted', { body: 'skus: {count: 1, stock: 100000000}\nduration: 4s\nload: {connections: 2, inFlight: 4}\n' });
    const port = run.redis!.server.port;
    run.redis!.server.kill('SIGKILL');
    // The same port, an empty dataset: what a crash and restart without persistence looks like.
    const again = await startLocalRedis({ port });
    try {
      const { code, summary } = await run.finish();
      expect(code).toBe(3);
      expect(summary.targetLost).toMatch(/lost both their stock and journal keys during the run .*the server restarted during the run \(its run_id changed\)/);
      expect(summary.invariants.filter((i: { status: string }) => i.status === 'fail')).toEqual([]);
    } finally {
      await again.stop();
    }
  });
});

describe('nothing hangs', () => {
  it('a script that never finishes: BUSY stops the load, SCRIPT KILL frees the server, exit 3 (10)', async () => {
    await withRedis(['--busy-reply-threshold', '200'], async (redis) => {
      const r = await run(redis.url, scenario('skus: {count: 1, stock: 100}\nrequests: 1000\nload: {connections: 2, inFlight: 2}\n', 'test/fixtures/infinite-loop.lua'));
      expect(r.code, r.stdout).toBe(3);
      expect(r.summary.targetLost).toMatch(/^Redis answered BUSY: the script ran longer than the server's busy-reply-threshold \(lua-time-limit\), so sellout stopped the load; sellout sent \d+ SCRIPT KILL\(s\) and the server answers again/);
      // Right away, not after dozens of kills: the server is free and the run's keys are gone.
      expect(await redis.client.ping()).toBe('PONG');
      expect(await redis.client.dbsize()).toBe(0);
      expect(r.summary.requests).toBeLessThan(100);
    });
  });

  it('a server frozen before the run: exit 3 within seconds, one line (8)', async () => {
    await withRedis([], async (redis) => {
      redis.server.kill('SIGSTOP');
      try {
        const started = Date.now();
        const r = await run(redis.url, scenario(SMALL), [], 30_000);
        expect(r.code).toBe(3);
        expect(Date.now() - started).toBeLessThan(15_000);
        expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^sellout: cannot connect to Redis at redis:\/\/127\.0\.0\.1:\d+: no answer within 5000 ms/)]);
      } finally {
        redis.server.kill('SIGCONT');
      }
    });
  });

  it('a server frozen mid-run past every timeout: exit 3 with what was measured, not a PASS (8)', async () => {
    const run = await startLongRun(dir, 'frozen', { body: 'skus: {count: 1, stock: 100000000}\nduration: 2s\ntimeoutMs: 300\nload: {connections: 2, inFlight: 4}\n' });
    run.redis!.server.kill('SIGSTOP');
    const { code, summary, stdout } = await Promise.race([
      run.finish(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('sellout hung on a frozen server')), 60_000)),
    ]).finally(() => run.redis?.server.kill('SIGCONT'));
    expect(code, stdout).toBe(3);
    expect(summary.outcomes.ok).toBeGreaterThanOrEqual(100);
    expect(summary.outcomes.unknown).toBeGreaterThan(0);
    expect(summary.verdict.status).toBe('fail');
  });
});

describe('nothing left behind', () => {
  it('a server timeout shorter than the run: the admin connection reconnects, verifies and removes the keys (13)', async () => {
    await withRedis(['--timeout', '1'], async (redis) => {
      const r = await run(redis.url, scenario('skus: {count: 2, stock: 100000000}\nduration: 3s\nload: {connections: 2, inFlight: 2}\n'));
      expect(r.code, r.stdout).toBe(0);
      expect(r.summary.run.keysKept).toBe(false);
      expect(r.summary.invariants.filter((i: { status: string }) => i.status === 'skipped').map((i: { name: string }) => i.name)).toEqual(['durability']);
      expect(await redis.client.dbsize()).toBe(0);
    });
  });

  it('SIGTERM stops the run like Ctrl-C: verified, keys removed, exit 130 (13)', async () => {
    const run = await startLongRun(dir, 'termed');
    run.child.kill('SIGTERM');
    await run.exited;
    const keys = await run.client.dbsize();
    const { code, summary, stderr } = await run.finish();
    expect(code).toBe(130);
    expect(stderr).toMatch(/got SIGTERM, stopping the load and verifying what ran/);
    expect(keys).toBe(0);
    expect(summary.status).toBe('interrupted');
    expect(summary.invariants.filter((i: { status: string }) => i.status === 'pass')).toHaveLength(11);
  });

  it('two SIGINTs a few ms apart (a timeout wrapper signals twice) are one interrupt: verified, keys removed (13)', async () => {
    const run = await startLongRun(dir, 'twice');
    run.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 5));
    run.child.kill('SIGINT');
    await run.exited;
    const keys = await run.client.dbsize();
    const { code, summary, stderr } = await run.finish();
    expect(code).toBe(130);
    expect(stderr).not.toMatch(/interrupted again/);
    expect(keys).toBe(0);
    expect(summary.invariants.filter((i: { status: string }) => i.status === 'pass')).toHaveLength(11);
  });

  it('a second interrupt skips the verification but still removes the keys and writes the report (13)', async () => {
    const run = await startLongRun(dir, 'hard');
    run.child.kill('SIGINT');
    while (!/verifying what ran/.test(run.output.stderr)) await new Promise((r) => setTimeout(r, 10));
    // Hold the server so the verification cannot finish before the second interrupt lands.
    run.redis!.server.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 600));
    run.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    run.redis!.server.kill('SIGCONT');
    await run.exited;
    const keys = await run.client.dbsize();
    const { code, summary, stderr } = await run.finish();
    expect(code).toBe(130);
    expect(stderr).toMatch(/interrupted again: skipping verification, removing the run's keys/);
    expect(keys).toBe(0);
    expect(summary.status).toBe('interrupted');
    expect(summary.invariants[0].reason).toMatch(/^interrupted again (before|during) verification/);
    expect(summary.outcomes.ok).toBeGreaterThanOrEqual(100);
    expect(summary.run.keysKept).toBe(false);
  });

  it("Ctrl-C to the CLI's process group with the embedded server: exit 130, every invariant checked, no server left (4)", async () => {
    const run = await startLongRun(dir, 'ctrlc', { embedded: true, ownGroup: true });
    // What a terminal does: the signal goes to every process of the foreground group.
    process.kill(-run.child.pid!, 'SIGINT');
    const { code, summary, stdout } = await run.finish();
    expect(code, stdout).toBe(130);
    expect(summary.invariants.map((i: { name: string; status: string }) => `${i.name} ${i.status}`).filter((x: string) => !x.endsWith(' pass'))).toEqual(['durability skipped']);
    expect(stdout).not.toMatch(/could not read the run's keys back/);
    // The embedded server is gone: nothing listens on its port any more.
    const refused = await new Promise<string>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port: run.port });
      socket.once('connect', () => { socket.destroy(); resolve('connected'); });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});

describe('setup errors name the real reply', () => {
  it('a database that does not exist: exit 3 before anything is written (14)', async () => {
    await withRedis([], async (redis) => {
      const r = await run(`${redis.url}/99`, scenario(SMALL));
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/^sellout: cannot connect to Redis at redis:\/\/127\.0\.0\.1:\d+\/99: ERR DB index is out of range/);
      expect(await redis.client.dbsize()).toBe(0);
    });
  });

  it('seeding on a read-only replica names READONLY (18)', async () => {
    await withRedis([], async (primary) => {
      await withRedis(['--replicaof', '127.0.0.1', String(primary.server.port)], async (replica) => {
        const r = await run(replica.url, scenario(SMALL));
        expect(r.code).toBe(3);
        expect(r.stderr).toMatch(/^sellout: Redis refused to create the stock key sellout:\S+:inv:\{0\}: READONLY You can't write against a read only replica\.; point --redis at the primary, not a replica$/m);
        expect(r.stderr).not.toMatch(/appeared while the run was seeding/);
      });
    });
  });

  it('seeding with a user that may not SET names NOPERM (18)', async () => {
    await withRedis([], async (redis) => {
      await redis.client.call('ACL', 'SETUSER', 'reader', 'on', '>pw', '~*', '+@all', '-set');
      const r = await run(`redis://reader:pw@127.0.0.1:${redis.server.port}`, scenario(SMALL));
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/Redis refused to create the stock key sellout:\S+:inv:\{0\}: NOPERM/);
      expect(await redis.client.dbsize()).toBe(0);
    });
  });
});

describe('a crash inside sellout', () => {
  it('a load worker that crashes stops the others at once; what they measured is written, marked crashed, exit 70', async () => {
    await withRedis([], async (redis) => {
      const file = scenario('skus: {count: 2, stock: 100000000}\nrequests: 2000000\nload: {connections: 4, inFlight: 8, workers: 2}\n');
      const r = await run(redis.url, file, [], 90_000, { SELLOUT_TEST_CRASH_WORKER_AFTER: '1000' });
      expect(r.code, r.stderr).toBe(70);
      expect(r.summary.status).toBe('crashed');
      expect(r.summary.verdict.exitCode).toBe(70);
      expect(r.summary.crashed).toMatch(/^1 of 2 load worker\(s\) crashed: test crash after 1000 replies/);
      // The other worker was stopped at once, not left to run its million requests.
      expect(r.summary.requests).toBeGreaterThanOrEqual(1000);
      expect(r.summary.requests).toBeLessThan(1_000_000);
      expect(r.summary.invariants.every((i: { status: string }) => i.status === 'skipped')).toBe(true);
      expect(r.stdout).toMatch(/verdict {5}CRASHED: .*\(exit 70\)/);
      expect(await redis.client.dbsize()).toBe(0);
    });
  });
});

describe('memory is bounded', () => {
  it('a duration run stops at maxRecords before it can exhaust memory, and says so', async () => {
    await withRedis([], async (redis) => {
      const r = await run(redis.url, scenario('skus: {count: 1, stock: 100000000}\nduration: 60s\nmaxRecords: 5000\nload: {connections: 2, inFlight: 4}\n'));
      expect(r.code, r.stdout).toBe(0);
      expect(r.summary.requests).toBe(5000);
      expect(r.summary.durationMs).toBeLessThan(30_000);
      expect(r.summary.capped).toMatch(/^stopped after 5,000 requests, before the planned 60 s: a duration run records every request to verify it and stops at maxRecords \(5,000\)/);
      expect(r.stdout).toMatch(/capped {6}stopped after 5,000 requests/);
    });
  });

  it('a requests run larger than maxRecords is a scenario error', async () => {
    const file = scenario('skus: {count: 1, stock: 10}\nrequests: 20000000\n');
    const r = await runCli(['run', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: requests: expected at most maxRecords (10000000) requests: every request is recorded to verify the run (raise maxRecords if the machine has the memory), got 20000000`);
  });
});

describe('figures that add up', () => {
  it('an open model never drops more than it planned (19)', async () => {
    await withRedis([], async (redis) => {
      const r = await run(redis.url, scenario('skus: {count: 1, stock: 100000000}\nrequests: 3000\nload: {model: constant-rate, rate: 200000, maxInFlight: 1, connections: 1}\n'));
      expect(r.summary.dropped).toBeGreaterThan(0);
      expect(r.summary.requests + r.summary.dropped).toBe(3000);
    });
  });
});
