/**
 * `sellout serve` as a user runs it (the built CLI as a child process): it listens on the port
 * it prints, deducts on a private redis-server, drains a request in flight on SIGTERM and exits 0,
 * removes its embedded redis-server, and refuses a taken port or an unfilled <run> in one line.
 */
import { spawn } from 'node:child_process';
import { createServer, connect, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cliEnv, ROOT, runCli, track } from '../helpers/cli.js';
import { get, post } from '../helpers/http.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
beforeAll(async () => { redis = await startTestRedis(); });
afterAll(async () => { await redis?.stop(); });

const LISTENING = /^sellout serve: listening on (http:\/\/127\.0\.0\.1:(\d+)) \(POST \/deduct, GET \/healthz\), script (\S+) sha ([0-9a-f]{12}), redis (redis:\/\/127\.0\.0\.1:(\d+)) \((\w+)\)$/m;

function serve(args: readonly string[]) {
  const child = track(spawn(process.execPath, [BIN, 'serve', ...args], { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] }));
  const output = { stdout: '', stderr: '' };
  child.stdout!.on('data', (d: Buffer) => { output.stdout += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const listening = new Promise<{ url: string; port: number; script: string; redisPort: number; kind: string }>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      output.stderr += d.toString();
      const m = LISTENING.exec(output.stderr);
      if (m) resolve({ url: m[1]!, port: Number(m[2]), script: m[3]!, redisPort: Number(m[6]), kind: m[7]! });
    });
    child.once('close', (code) => reject(new Error(`sellout serve exited (${code}) before listening: ${output.stderr}`)));
  });
  listening.catch(() => {});
  return { child, output, exited, listening };
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(false); });
    socket.once('error', () => resolve(true));
  });
}

describe('sellout serve', () => {
  it('--port 0 on --redis with --run-id: prints the port, deducts, drains the request in flight on SIGTERM and exits 0', async () => {
    const s = serve(['--redis', redis.url, '--port', '0', '--run-id', 'e2e1']);
    const at = await s.listening;
    expect(at).toMatchObject({ script: 'lua/deduct.lua', redisPort: redis.server.port, kind: 'url' });
    expect(at.port).toBeGreaterThan(0);
    await redis.client.set('sellout:e2e1:inv:{10010}', '42');
    expect(await post(at.url, { sku: '10010', quantity: 1, requestId: 'DEC-1-42' })).toMatchObject({ status: 200, body: { stock: 41 } });
    expect(await post(at.url, { sku: '10010', quantity: 1, requestId: 'DEC-1-42' })).toMatchObject({ status: 409 });
    expect(await get(at.url, '/healthz')).toMatchObject({ status: 200 });
    // Hold Redis so a request is in flight when SIGTERM arrives: it must still be answered.
    await redis.client.call('CLIENT', 'PAUSE', '600', 'ALL');
    const pending = post(at.url, { sku: '10010', quantity: 1, requestId: 'DEC-1-43' });
    await new Promise((r) => setTimeout(r, 150));
    s.child.kill('SIGTERM');
    const reply = await pending;
    expect(reply).toMatchObject({ status: 200, body: { stock: 40 } });
    expect(await s.exited).toBe(0);
    expect(s.output.stderr).toMatch(/got SIGTERM, no longer accepting; answering the requests in flight/);
    expect(s.output.stderr).toMatch(/stopped \(1 request\(s\) were in flight, every one answered\)/);
    expect(s.output.stdout).toBe('');
    expect((await redis.client.hkeys('sellout:e2e1:journal:{10010}')).sort()).toEqual(['DEC-1-42', 'DEC-1-43']);
    await redis.client.del('sellout:e2e1:inv:{10010}', 'sellout:e2e1:journal:{10010}');
  });

  it('without --redis: a private redis-server, removed when it stops', async () => {
    const s = serve(['--port', '0', '--keys-stock', 'shop:inv:{<sku>}', '--keys-journal', 'shop:journal:{<sku>}']);
    const at = await s.listening;
    expect(at.kind).toBe('embedded');
    expect(at.redisPort).not.toBe(6379);
    expect(await post(at.url, { sku: '1', quantity: 1, requestId: 'x' })).toMatchObject({ status: 404, body: { error: 'KEY_NOT_FOUND' } });
    s.child.kill('SIGINT');
    expect(await s.exited).toBe(0);
    expect(await refused(at.redisPort)).toBe(true);
    expect(await refused(at.port)).toBe(true);
  });

  it('a taken port: exit 2, one line', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await runCli(['serve', '--redis', redis.url, '--run-id', 'x', '--port', String(port)]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`sellout: --port ${port}: expected a free port, got one in use (EADDRINUSE); choose another with --port\n`);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('a template with <run> and no --run-id: exit 2, one line, before anything starts', async () => {
    const r = await runCli(['serve', '--redis', redis.url, '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^sellout: --keys-stock sellout:<run>:inv:\{<sku>\} \(the default\): expected --run-id ID to fill <run>/);
    const own = await runCli(['serve', '--port', '0', '--keys-stock', 'a:<run>:{<sku>}', '--keys-journal', 'b:{<sku>}']);
    expect(own.code).toBe(2);
    expect(own.stderr).toMatch(/^sellout: --keys-stock a:<run>:\{<sku>\}: expected --run-id/);
    const noSku = await runCli(['serve', '--port', '0', '--keys-stock', 'a', '--keys-journal', 'b:{<sku>}']);
    expect(noSku.code).toBe(2);
    expect(noSku.stderr).toMatch(/^sellout: --keys-stock a: expected a key template with <sku>/);
    const badPort = await runCli(['serve', '--port', '70000', '--run-id', 'x']);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toMatch(/^sellout: --port 70000: expected a port number 0-65535/);
  });

  it('--help names the statuses and says it never seeds', async () => {
    const r = await runCli(['serve', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('never seeds stock');
    expect(r.stdout).toContain('410 {"error": "INVENTORY_NOT_ENOUGH"}');
  });
});
