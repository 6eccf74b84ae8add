/**
 * The embedded redis-server under faults (src/redis/embedded.ts), against real redis-server
 * processes: what each persistence mode keeps through a kill -9 and a restart, pause and resume,
 * safe and unsafe failover, a restart whose port another process holds, and that nothing is left
 * behind — by stop(), and by a sellout that dies with SIGKILL.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { TargetError } from '../../src/errors.js';
import { persistenceArgs, startEmbedded, type EmbeddedServer, type Persistence } from '../../src/redis/embedded.js';
import { openTarget } from '../../src/redis/index.js';

const started: EmbeddedServer[] = [];
const clients: Redis[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

async function embedded(persistence: Persistence, replicas: 0 | 1 = 0): Promise<EmbeddedServer> {
  const server = await startEmbedded({ persistence, replicas });
  started.push(server);
  return server;
}

async function connect(port: number, commandTimeout = 5000): Promise<Redis> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, enableReadyCheck: false, commandTimeout, retryStrategy: () => null, enableOfflineQueue: false });
  client.on('error', () => {});
  clients.push(client);
  await client.connect();
  return client;
}

/** SETs keys `<prefix>:0..n-1`, pipelined, and resolves once every one is acknowledged. */
async function writeKeys(client: Redis, prefix: string, n: number): Promise<void> {
  const pipeline = client.pipeline();
  for (let i = 0; i < n; i++) pipeline.set(`${prefix}:${i}`, String(i));
  const replies = await pipeline.exec();
  expect(replies!.every(([err, reply]) => err === null && reply === 'OK')).toBe(true);
}

async function countKeys(client: Redis, prefix: string, n: number): Promise<number> {
  const pipeline = client.pipeline();
  for (let i = 0; i < n; i++) pipeline.exists(`${prefix}:${i}`);
  return (await pipeline.exec())!.reduce((sum, [, found]) => sum + Number(found), 0);
}

async function info(client: Redis, section: string): Promise<Record<string, string>> {
  return Object.fromEntries((await client.info(section)).split(/\r?\n/).filter((l) => l.includes(':') && !l.startsWith('#')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]));
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose command line names the server's address: the server and any snapshot it forked. */
function processesOn(port: number): string {
  return spawnSync('pgrep', ['-af', `redis.*127\\.0\\.0\\.1:${port}\\b`], { encoding: 'utf8' }).stdout.trim();
}

describe('persistenceArgs', () => {
  it('turns each mode into redis-server arguments, and the server runs with them', async () => {
    expect(persistenceArgs('none')).toEqual(['--save', '', '--appendonly', 'no']);
    expect(persistenceArgs('rdb')).toEqual(['--save', '1 1', '--appendonly', 'no']);
    expect(persistenceArgs('aof-everysec')).toEqual(['--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec']);
    expect(persistenceArgs('aof-always')).toEqual(['--save', '', '--appendonly', 'yes', '--appendfsync', 'always']);
    // What the summary says was found is read back from the server itself.
    const target = await openTarget({ persistence: 'aof-always' });
    try {
      expect(target.persistence).toEqual({ declared: 'aof-always', found: { appendonly: 'yes', appendfsync: 'always', save: '' } });
      expect(target.embedded?.port).toBe(target.endpoint.port);
    } finally {
      await target.close();
    }
    const plain = await openTarget({});
    try {
      expect(plain.persistence).toEqual({ declared: 'none', found: { appendonly: 'no', appendfsync: 'everysec', save: '' } });
      expect(plain.embedded?.replica).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});

describe('kill -9 and restart, per persistence mode', () => {
  it('none: the restarted server is empty', async () => {
    const server = await embedded('none');
    const client = await connect(server.port);
    await writeKeys(client, 'k', 1000);
    const before = server.pid;
    server.kill();
    await server.restart();
    expect(server.pid).not.toBe(before);
    expect(alive(before)).toBe(false);
    const again = await connect(server.port);
    expect(await again.dbsize()).toBe(0);
  });

  it('rdb: what the last snapshot holds survives; what was acknowledged after it is lost', async () => {
    const server = await embedded('rdb');
    const client = await connect(server.port);
    await writeKeys(client, 'saved', 1000);
    // save 1 1: a snapshot follows within about 2 s; wait until it holds every key written.
    await until('a snapshot with every key', async () => {
      const p = await info(client, 'persistence');
      return p['rdb_changes_since_last_save'] === '0' && p['rdb_bgsave_in_progress'] === '0' && p['rdb_last_bgsave_status'] === 'ok';
    });
    // Redis snapshots again only a whole second after the last one: these are acknowledged, not saved.
    await writeKeys(client, 'unsaved', 1000);
    server.kill();
    await server.restart();
    const again = await connect(server.port);
    expect(await countKeys(again, 'saved', 1000)).toBe(1000);
    expect(await countKeys(again, 'unsaved', 1000)).toBe(0);
  });

  for (const mode of ['aof-everysec', 'aof-always'] as const) {
    it(`${mode}: everything acknowledged before the kill survives (the AOF is written before the reply)`, async () => {
      const server = await embedded(mode);
      const client = await connect(server.port);
      await writeKeys(client, 'a', 20_000);
      await client.set('last', 'written just before the kill');
      server.kill();
      await server.restart();
      const again = await connect(server.port);
      expect(await countKeys(again, 'a', 20_000)).toBe(20_000);
      expect(await again.get('last')).toBe('written just before the kill');
    });
  }

  it('a kill of a server already down does nothing; a restart of a running one is refused in one line', async () => {
    const server = await embedded('none');
    const error = await server.restart().then(() => undefined, (err: unknown) => err);
    expect(error).toBeInstanceOf(TargetError);
    expect((error as Error).message).toBe(`cannot restart the embedded redis-server on 127.0.0.1:${server.port}: it is still running (restart follows kill)`);
    server.kill();
    server.kill();
    await server.restart();
    expect(await (await connect(server.port)).ping()).toBe('PONG');
  });

  it('restart when another process holds the port: one-line TargetError after about 10 s, then it starts once the port is free', async () => {
    const server = await embedded('aof-everysec');
    await writeKeys(await connect(server.port), 'k', 100);
    server.kill();
    await until('the port to be free', async () => !alive(server.pid));
    const blocker: Server = createServer();
    await new Promise<void>((done, fail) => { blocker.once('error', fail); blocker.listen(server.port, '127.0.0.1', () => done()); });
    const t0 = Date.now();
    let error: unknown;
    try {
      await server.restart();
    } catch (err) {
      error = err;
    } finally {
      await new Promise((done) => blocker.close(done));
    }
    expect(Date.now() - t0).toBeGreaterThanOrEqual(9_500);
    expect(error).toBeInstanceOf(TargetError);
    expect((error as Error).message).toBe(`cannot restart the embedded redis-server on 127.0.0.1:${server.port}: another process has held the port for 10 s`);
    await server.restart();
    expect(await countKeys(await connect(server.port), 'k', 100)).toBe(100);
  }, 40_000);
});

describe('pause and resume', () => {
  it('a command times out while the server is stopped, and the same connection is answered after SIGCONT', async () => {
    const server = await embedded('none');
    const client = await connect(server.port, 300);
    expect(await client.ping()).toBe('PONG');
    server.pause();
    await expect(client.ping()).rejects.toThrow(/Command timed out/);
    expect(processesOn(server.port)).not.toBe(''); // stopped, not gone
    server.resume();
    expect(await client.set('after', '1')).toBe('OK');
    expect(await client.get('after')).toBe('1');
  });
});

describe('replica and failover', () => {
  it('the replica is in sync when startEmbedded resolves', async () => {
    const server = await embedded('none', 1);
    expect(server.replica).toBeDefined();
    const replica = await connect(server.replica!.port);
    expect((await info(replica, 'replication'))['master_link_status']).toBe('up');
    expect((await info(replica, 'replication'))['master_port']).toBe(String(server.port));
    await writeKeys(await connect(server.port), 'k', 10);
    await until('the write to reach the replica', async () => (await replica.dbsize()) === 10);
  });

  it('safe: no acknowledged write is lost, even with writes in flight, and the roles swap', async () => {
    const server = await embedded('none', 1);
    const oldPort = server.port;
    const replicaPort = server.replica!.port;
    const writer = await connect(oldPort);
    await writeKeys(writer, 'before', 5000);
    // A writer that keeps going through the failover: what it got OK for must be on the new primary.
    const acked: string[] = [];
    let writing = true;
    const loop = (async () => {
      for (let i = 0; writing; i++) {
        try {
          if ((await writer.set(`during:${i}`, '1')) === 'OK') acked.push(`during:${i}`);
        } catch {
          // READONLY once the old primary is a replica, or a timeout while FAILOVER pauses writes.
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    const promoted = await server.failover('safe');
    writing = false;
    await loop;
    expect(promoted).toEqual({ host: '127.0.0.1', port: replicaPort });
    expect(server.port).toBe(replicaPort);
    expect(server.replica?.port).toBe(oldPort);
    const primary = await connect(replicaPort);
    expect(((await primary.call('ROLE')) as unknown[])[0]).toBe('master');
    expect(await countKeys(primary, 'before', 5000)).toBe(5000);
    expect(acked.length).toBeGreaterThan(0);
    const pipeline = primary.pipeline();
    for (const key of acked) pipeline.exists(key);
    const missing = (await pipeline.exec())!.filter(([, found]) => found !== 1).length;
    expect(missing).toBe(0);
    // The old primary now follows the new one, and a new write reaches it.
    const old = await connect(oldPort);
    await until('the old primary to follow the new one', async () => (await info(old, 'replication'))['master_link_status'] === 'up');
    expect((await info(old, 'replication'))['master_port']).toBe(String(replicaPort));
    expect(await primary.set('after', '1')).toBe('OK');
    await until('the write to reach the old primary', async () => (await old.get('after')) === '1');
    // A restart of the new primary keeps it a primary (not a replica of its replica).
    server.kill();
    await server.restart();
    expect(((await (await connect(server.port)).call('ROLE')) as unknown[])[0]).toBe('master');
  });

  it('unsafe: the replica takes writes at once; how many writes acknowledged just before the kill it lacks is counted', async () => {
    const server = await embedded('none', 1);
    const oldPort = server.port;
    const replicaPort = server.replica!.port;
    const oldPid = server.pid;
    const writer = await connect(oldPort);
    // A replica still in its first full sync has none of the writes yet: a kill then loses all of
    // them (seen once on a loaded CI machine), which measures the sync, not the failover.
    const replica = await connect(replicaPort);
    const admin = await connect(oldPort);
    await until('the replica in sync', async () => /master_link_status:up/.test(await replica.info('replication')));
    // 64 writes in flight at all times, so the kill lands among acknowledged, in-flight and unsent writes.
    const acked: number[] = [];
    let next = 0;
    let writing = true;
    const lane = async () => {
      while (writing) {
        const i = next++;
        try {
          if ((await writer.set(`k:${i}`, '1')) === 'OK') acked.push(i);
        } catch {
          return;
        }
      }
    };
    const lanes = Array.from({ length: 64 }, lane);
    await until('a few thousand acknowledged writes', async () => acked.length >= 5000);
    // The kill lands while the writes go on, with the replica reading the stream as it comes (a
    // few KB behind). On a CPU-starved machine the replica may not have read anything yet: REPLICAOF
    // NO ONE then drops its unread stream with the link, and the count measures the scheduler, not
    // the failover (seen twice in CI: every acknowledged write missing).
    await until('the replica reading the stream as it comes', async () => {
      const [primary, follower] = await Promise.all([info(admin, 'replication'), info(replica, 'replication')]);
      return Number(primary['master_repl_offset']) - Number(follower['slave_repl_offset']) < 4096;
    });
    const promoted = await server.failover('unsafe');
    writing = false;
    await Promise.all(lanes);
    expect(promoted).toEqual({ host: '127.0.0.1', port: replicaPort });
    // Killed with -9 before the promotion; a busy machine may reap it a moment later (a zombie still
    // answers kill(pid, 0)), so it gets a few seconds to be gone, not forever.
    await until('the killed primary to be gone', async () => !alive(oldPid), 5000);
    expect(server.replica).toBeUndefined();
    const primary = await connect(replicaPort);
    expect(((await primary.call('ROLE')) as unknown[])[0]).toBe('master');
    expect(await primary.set('after', '1')).toBe('OK');
    const pipeline = primary.pipeline();
    for (const i of acked) pipeline.exists(`k:${i}`);
    const lost = (await pipeline.exec())!.filter(([, found]) => found !== 1).length;
    // Writes sent but never acknowledged (in flight at the kill) that the replica has all the same.
    const unacknowledged = (await primary.dbsize()) - 1 - (acked.length - lost);
    // On one machine the replication stream leaves the primary in the same event-loop pass as the
    // replies, so a kill -9 after the reply finds it in the kernel already: nothing acknowledged is
    // lost here. Across a network (or under a replica's backlog) the window is real; asynchronous
    // replication promises nothing, which is why this is the *unsafe* failover.
    console.log(`unsafe failover: ${acked.length} writes acknowledged before the kill, ${lost} of them missing on the promoted replica; ${unacknowledged} unacknowledged writes reached it`);
    expect(unacknowledged).toBeGreaterThanOrEqual(0);
    // Observed 0 on an idle machine; under load the replica can lag a little, which is exactly what
    // unsafe means: pinned is that it had the bulk of what was acknowledged, and the count is printed.
    expect(lost).toBeLessThan(acked.length / 10);
    await expect(server.failover('unsafe')).rejects.toThrow(/^no replica to fail over to/);
  });
});

describe('nothing is left behind', () => {
  it('stop() ends every process (primary, replica, restarted, killed) and removes the data dirs', async () => {
    const server = await embedded('rdb', 1);
    const dirs = [server.dir, server.replica!.dir];
    const ports = [server.port, server.replica!.port];
    await writeKeys(await connect(server.port), 'k', 1000);
    server.kill();
    await server.restart();
    server.replica!.pause();
    const pids = [...server.pids];
    expect(pids).toHaveLength(3);
    expect(pids.slice(1).every(alive)).toBe(true);
    await server.stop();
    started.splice(started.indexOf(server), 1);
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
    for (const port of ports) expect(processesOn(port)).toBe('');
    for (const dir of dirs) expect(existsSync(dir), dir).toBe(false);
    expect(existsSync(fileURLToPath(new URL('..', `file://${dirs[0]}/`)))).toBe(false);
    await server.stop(); // twice is harmless
  });

  it('a sellout killed with SIGKILL leaves no server (restarted and replica included) and no data dir', async () => {
    const dist = fileURLToPath(new URL('../../dist/src/redis/embedded.js', import.meta.url));
    expect(existsSync(dist), 'build first: npx tsc -p tsconfig.json').toBe(true);
    const script = `
      const { startEmbedded } = await import(${JSON.stringify(dist)});
      const s = await startEmbedded({ persistence: 'rdb', replicas: 1 });
      s.kill();
      await s.restart();
      console.log(JSON.stringify({ pids: s.pids, dirs: [s.dir, s.replica.dir], ports: [s.port, s.replica.port] }));
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    await until('the child to start its servers', async () => out.includes('\n'), 30_000);
    const { pids, dirs, ports } = JSON.parse(out) as { pids: number[]; dirs: string[]; ports: number[] };
    expect(pids.slice(1).every(alive)).toBe(true);
    child.kill('SIGKILL');
    await until('every server to stop and the dirs to go', async () => pids.every((p) => !alive(p)) && dirs.every((d) => !existsSync(d)), 20_000);
    for (const port of ports) expect(processesOn(port)).toBe('');
    expect(existsSync(fileURLToPath(new URL('..', `file://${dirs[0]}/`)))).toBe(false);
  }, 60_000);
});
