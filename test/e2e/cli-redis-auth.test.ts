/**
 * Reaching a Redis that needs credentials, with real redis-servers (review defects 16b and 17):
 * a user the ACL refuses INFO gets one line naming the command and what sellout needs (it was exit
 * 70 and a stack trace); the user README documents is enough for a whole run; the password can
 * come from the environment instead of the command line, where `ps` shows it, and appears in no
 * output.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SummaryV1 } from '../../src/summary/summary.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const small = ['--set', 'requests=300', '--set', 'load.connections=2'];
let tmp: string;
let n = 0;
const out = () => join(tmp, `out-${++n}`);
const lines = (text: string) => text.trimEnd().split('\n');

beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'sellout-auth-')); });
afterAll(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

/** Every file under dir, as text. */
function filesUnder(dir: string): { path: string; text: string }[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [{ path, text: readFileSync(path, 'latin1') }];
  });
}

describe('Redis ACL', () => {
  let redis: TestRedis;
  beforeAll(async () => { redis = await startTestRedis(); });
  afterAll(async () => { await redis?.stop(); });

  it('a user refused INFO gets one line naming the command and what sellout needs, exit 3', async () => {
    const password = 'Limited-Pass-91';
    await redis.client.call('ACL', 'SETUSER', 'limited', 'on', `>${password}`, '~*', '+@all', '-info');
    try {
      const dir = out();
      const before = await redis.client.dbsize();
      const r = await runCli(['run', 'scenarios/smoke.yaml', '--redis', `redis://limited:${password}@${redis.server.host}:${redis.server.port}`, '--out', dir]);
      expect(r.code, r.stderr).toBe(3);
      expect(lines(r.stderr)).toHaveLength(1);
      expect(r.stderr).toMatch(
        /^sellout: Redis at redis:\/\/limited:\*\*\*@127\.0\.0\.1:\d+ refused INFO to user "limited" \(NOPERM this user has no permissions to run the 'info' command\); sellout needs PING, INFO, EXISTS, SET, GET, HLEN, HSCAN, UNLINK, SCRIPT LOAD, EVALSHA on keys sellout:\* \(or what the scenario's keys: templates name\), and whatever its script calls \(README, "Redis permissions"\)\n$/,
      );
      expect(r.stdout + r.stderr).not.toContain(password);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at |ready check/i);
      expect(await redis.client.dbsize()).toBe(before);
      expect(readdirSync(tmp)).not.toContain(dir.split('/').at(-1)); // no empty report directory left
    } finally {
      await redis.client.call('ACL', 'DELUSER', 'limited');
    }
  });

  it('the user README documents ("Redis permissions") can run a whole sale', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const setuser = /^ACL SETUSER sellout (.+)$/m.exec(readme)?.[1];
    expect(setuser, 'README has an `ACL SETUSER sellout …` line').toBeDefined();
    const rules = setuser!.split(/\s+/).map((rule) => (rule.startsWith('>') ? '>Doc-Pass-5' : rule));
    await redis.client.call('ACL', 'SETUSER', 'sellout', ...rules);
    try {
      const dir = out();
      const r = await runCli(['run', 'scenarios/smoke.yaml', '--quiet', '--redis', `redis://sellout:Doc-Pass-5@${redis.server.host}:${redis.server.port}`, '--out', dir, ...small]);
      expect(r.code, r.stderr).toBe(0);
      const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as SummaryV1;
      expect(summary.outcomes.ok).toBeGreaterThan(0);
      expect(await redis.client.keys(`sellout:${summary.run.id}:*`)).toEqual([]); // UNLINK was allowed too
    } finally {
      await redis.client.call('ACL', 'DELUSER', 'sellout');
    }
  });
});

describe('the target from the environment', () => {
  const SECRET = 'Env-Secret-7731';
  let redis: TestRedis;
  let url: string;
  beforeAll(async () => {
    redis = await startTestRedis();
    // The helper's client is already authenticated; every new connection needs the password.
    await redis.client.config('SET', 'requirepass', SECRET);
    url = `redis://${redis.server.host}:${redis.server.port}`;
  });
  afterAll(async () => { await redis?.stop(); });

  it('takes the URL from SELLOUT_REDIS_URL and the password from SELLOUT_REDIS_PASSWORD, says so, and writes the password nowhere', async () => {
    const dir = out();
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--out', dir, ...small], { env: { SELLOUT_REDIS_URL: url, SELLOUT_REDIS_PASSWORD: SECRET } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`  target      redis 7`);
    expect(r.stdout).toMatch(new RegExp(`^  target {6}redis \\S+ standalone \\(url, redis://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.server.port}; url from SELLOUT_REDIS_URL, password from SELLOUT_REDIS_PASSWORD\\)$`, 'm'));
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as SummaryV1;
    expect(summary.target).toMatchObject({ kind: 'url', url: `redis://:***@127.0.0.1:${redis.server.port}` });
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    const files = filesUnder(dir);
    expect(files.map((f) => f.path.split('/').at(-1))).toEqual(expect.arrayContaining(['summary.json', 'report.html', '.sellout-report.json', 'junit.xml', 'summary.md', 'latency.hlog']));
    for (const f of files) expect(f.text.includes(SECRET), f.path).toBe(false);
  });

  it('REDIS_URL with REDISCLI_AUTH works too, and --redis wins over the environment', async () => {
    const viaCliVars = await runCli(['run', 'scenarios/smoke.yaml', '--quiet', '--out', out(), ...small], { env: { REDIS_URL: url, REDISCLI_AUTH: SECRET } });
    expect(viaCliVars.code, viaCliVars.stderr).toBe(0);
    expect(viaCliVars.stdout).toContain('; url from REDIS_URL, password from REDISCLI_AUTH)');
    // A password from the environment also completes a --redis URL that has none.
    const flagUrl = await runCli(['run', 'scenarios/smoke.yaml', '--quiet', '--redis', url, '--out', out(), ...small], { env: { SELLOUT_REDIS_PASSWORD: SECRET } });
    expect(flagUrl.code, flagUrl.stderr).toBe(0);
    expect(flagUrl.stdout).toContain(`(url, redis://:***@127.0.0.1:${redis.server.port}; password from SELLOUT_REDIS_PASSWORD)`);
    const flagWins = await runCli(['run', 'scenarios/smoke.yaml', '--redis', 'redis://127.0.0.1:1', '--out', out()], { env: { SELLOUT_REDIS_URL: url, REDIS_URL: url, SELLOUT_REDIS_PASSWORD: SECRET } });
    expect(flagWins.code).toBe(3);
    expect(flagWins.stderr).toMatch(/^sellout: cannot connect to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1: ECONNREFUSED .*\(password from SELLOUT_REDIS_PASSWORD\)/);
    for (const r of [viaCliVars, flagUrl, flagWins]) expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it('a missing or wrong password is one line saying where a password goes, exit 3', async () => {
    const none = await runCli(['run', 'scenarios/smoke.yaml', '--out', out()], { env: { SELLOUT_REDIS_URL: url } });
    expect(none.code).toBe(3);
    expect(none.stderr).toBe(`sellout: cannot connect to Redis at ${url}: NOAUTH (the server requires a password and none was given) (url from SELLOUT_REDIS_URL); give the password in the URL, or in SELLOUT_REDIS_PASSWORD to keep it off the command line\n`);
    const wrong = await runCli(['run', 'scenarios/smoke.yaml', '--out', out()], { env: { SELLOUT_REDIS_URL: url, SELLOUT_REDIS_PASSWORD: 'not-it' } });
    expect(wrong.code).toBe(3);
    expect(lines(wrong.stderr)).toHaveLength(1);
    expect(wrong.stderr).toMatch(/WRONGPASS .*\(url from SELLOUT_REDIS_URL, password from SELLOUT_REDIS_PASSWORD\); check the user name and the password/);
    expect(wrong.stderr).not.toContain('not-it');
  });

  it('tests do not inherit the target variables from the shell running them', async () => {
    const saved = process.env.SELLOUT_REDIS_URL;
    process.env.SELLOUT_REDIS_URL = 'http://inherited.invalid';
    try {
      // Had the variable reached the CLI, it would have been refused first (exit 2 naming it);
      // without it, the next check to fail is --out (a path under a file), before any server starts.
      const file = join(tmp, 'a-file');
      writeFileSync(file, '');
      const r = await runCli(['run', 'scenarios/smoke.yaml', '--out', join(file, 'x')], { timeoutMs: 20_000 });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`sellout: --out ${join(file, 'x')}: expected a directory sellout can create, got a file at ${file}\n`);
    } finally {
      if (saved === undefined) delete process.env.SELLOUT_REDIS_URL;
      else process.env.SELLOUT_REDIS_URL = saved;
    }
  });
});
