/**
 * `sellout run --tls-ca FILE` end to end against a redis-server that speaks only TLS (no plain
 * port), with a CA and a server certificate made by openssl at test time: the admin connection
 * (ioredis) and every load connection (the RESP client) verify the server against that CA. Without
 * it the certificate is refused in one line (exit 3); a bad --tls-ca is one line too (exit 2).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startLocalRedis, type LocalRedis } from '../../src/redis/local.js';
import type { SummaryV1 } from '../../src/summary/summary.js';
import { runCli } from '../helpers/cli.js';

const small = ['--quiet', '--set', 'requests=300', '--set', 'load.connections=2', '--set', 'load.workers=1'];
let tmp: string;
let server: LocalRedis | undefined;
let url: string;
let n = 0;
const out = () => join(tmp, `out-${++n}`);
const lines = (text: string) => text.trimEnd().split('\n');
const file = (name: string) => join(tmp, name);

function openssl(...args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: tmp, encoding: 'utf8' });
  if (r.error) throw new Error(`openssl is needed to make the test certificates: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed: ${r.stderr.trim().split('\n').at(-1)}`);
}

/** A self-signed CA: `<name>.pem` and `<name>.key`. */
function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', `/CN=sellout test ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', `${name}.key`, '-out', `${name}.pem`);
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'sellout-tls-'));
  makeCa('ca');
  makeCa('other-ca');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr');
  writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'server.ext', '-out', 'server.pem');
  const port = await freePort();
  // --port 0 after startLocalRedis's own --port: no plain-text listener, TLS only.
  const args = ['--port', '0', '--tls-port', String(port), '--tls-cert-file', file('server.pem'), '--tls-key-file', file('server.key'),
    '--tls-ca-cert-file', file('ca.pem'), '--tls-auth-clients', 'no'];
  try {
    server = await startLocalRedis({ port, args });
  } catch (err) {
    throw new Error(`redis-server cannot serve TLS here (built without TLS?): ${(err as Error).message}`);
  }
  url = `rediss://127.0.0.1:${port}`;
});
afterAll(async () => {
  await server?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A TLS admin connection to the test server, trusting the test CA. */
async function withAdmin<T>(f: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ host: '127.0.0.1', port: server!.port, tls: { ca: readFileSync(file('ca.pem'), 'utf8') }, lazyConnect: true, maxRetriesPerRequest: 0 });
  redis.on('error', () => {});
  await redis.connect();
  try {
    return await f(redis);
  } finally {
    redis.disconnect();
  }
}

describe('sellout run against a TLS-only redis-server', () => {
  it('with --tls-ca: the sale runs over TLS, every invariant holds, exit 0', async () => {
    const dir = out();
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--redis', url, '--tls-ca', file('ca.pem'), '--out', dir, ...small]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as SummaryV1;
    expect(summary.target.url).toBe(url);
    expect(summary.outcomes.ok).toBeGreaterThan(0);
    expect(summary.outcomes.unknown).toBe(0);
    for (const inv of summary.invariants) expect(inv.status, inv.name).toBe(inv.name === 'durability' ? 'skipped' : 'pass');
    // The server has no plain port: every deduction it ran came over TLS.
    const stats = await withAdmin((redis) => redis.info('commandstats'));
    expect(Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0)).toBeGreaterThanOrEqual(300);
    expect(await withAdmin((redis) => redis.dbsize())).toBe(0); // the run's keys were removed
  });

  it('sellout audit --tls-ca: every case runs over TLS, lua/deduct.lua safe, exit 0, no key left', async () => {
    const dir = out();
    const r = await runCli(['audit', '--redis', url, '--tls-ca', file('ca.pem'), '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(dir, 'audit.json'), 'utf8')) as { target: { url: string }; counts: { unsafe: number; safe: number } };
    expect(report.target.url).toBe(url);
    expect(report.counts).toMatchObject({ unsafe: 0, safe: 21 });
    expect(await withAdmin((redis) => redis.dbsize())).toBe(0);
  });

  it('without --tls-ca: the certificate is refused in one line naming --tls-ca, exit 3', async () => {
    const dir = out();
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--redis', url, '--out', dir, ...small]);
    expect(r.code, r.stderr).toBe(3);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^sellout: cannot connect to Redis at rediss://127\\.0\\.0\\.1:${server!.port}: SELF_SIGNED_CERT_IN_CHAIN \\(self[- ]signed certificate in certificate chain\\); the server's certificate is not signed by a CA this machine trusts: give that CA's PEM file with --tls-ca FILE\\n$`));
    expect(existsSync(dir)).toBe(false);
  });

  it('with a CA that did not sign the server\'s certificate: one line, exit 3', async () => {
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--redis', url, '--tls-ca', file('other-ca.pem'), '--out', out(), ...small]);
    expect(r.code, r.stderr).toBe(3);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/certificate.*; the CA given with --tls-ca did not sign the server's certificate\n$/);
  });
});

describe('--tls-ca mistakes are one line, exit 2, before anything runs', () => {
  const cases: { name: string; args: () => string[]; message: RegExp }[] = [
    { name: 'a missing file', args: () => ['--redis', url, '--tls-ca', file('nope.pem')], message: /^sellout: --tls-ca \S+nope\.pem: cannot read it \(no such file\)$/ },
    { name: 'a directory', args: () => ['--redis', url, '--tls-ca', tmp], message: /^sellout: --tls-ca \S+: cannot read it \(it is a directory\)$/ },
    { name: 'a file that is not PEM', args: () => ['--redis', url, '--tls-ca', file('server.ext')], message: /^sellout: --tls-ca \S+server\.ext: expected a PEM certificate \(-----BEGIN CERTIFICATE-----\), found none$/ },
    { name: 'a redis:// URL', args: () => ['--redis', url.replace('rediss:', 'redis:'), '--tls-ca', file('ca.pem')], message: /^sellout: --tls-ca needs a TLS target \(a rediss:\/\/ URL\), got a redis:\/\/ URL; give the server as --redis rediss:\/\/host:port$/ },
    { name: 'no --redis (the embedded server)', args: () => ['--tls-ca', file('ca.pem')], message: /^sellout: --tls-ca needs a TLS target \(a rediss:\/\/ URL\), got the embedded redis-server \(no --redis\); give the server as --redis rediss:\/\/host:port$/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const dir = out();
      const r = await runCli(['run', 'scenarios/smoke.yaml', ...c.args(), '--out', dir, ...small]);
      expect(r.code, r.stderr).toBe(2);
      expect(lines(r.stderr)).toHaveLength(1);
      expect(r.stderr.trimEnd()).toMatch(c.message);
      expect(r.stdout).toBe('');
      expect(existsSync(dir)).toBe(false);
    });
  }
});
