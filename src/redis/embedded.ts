/**
 * The embedded redis-server under faults: the default target, started with the scenario's
 * persistence and, with `replicas: 1`, a replica of it; and the mechanics the fault runner drives:
 * kill -9, restart on the same port and data directory, SIGSTOP / SIGCONT, failover.
 *
 * Every redis-server here, the first ones and every restarted one, is a LocalRedis (local.ts): its
 * own process group (a terminal's Ctrl-C does not reach it) behind a watchdog that stops it when
 * sellout exits, however it exits. The data directories live under one temporary directory that a
 * second watchdog (DIR_WATCHDOG) removes once sellout is gone and every server it was told of has
 * stopped, so a run killed with SIGKILL leaves neither a process nor a directory behind.
 *
 * The object startEmbedded returns stands for *the primary*: after a failover its host, port,
 * dir, pid, kill, restart, pause and resume act on the server that took over, and `replica` is the
 * server replicating it now (none after an unsafe failover, which kills the old primary).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { TargetError } from '../errors.js';
import { PERSISTENCE_MODES } from '../summary/summary.js';
import { assertRedisServer, startLocalRedis, type LocalRedis } from './local.js';

export { PERSISTENCE_MODES };
export type Persistence = (typeof PERSISTENCE_MODES)[number];

/**
 * redis-server arguments for a persistence mode (after local.ts's `--save '' --appendonly no`,
 * which they override):
 * - `none`: nothing is written; a restart comes back empty.
 * - `rdb`: `save 1 1`, a snapshot (BGSAVE) every second in which anything changed. Redis's default
 *   (`3600 1 300 100 60 10000`) would snapshot a busy sale once a minute at best, so a kill in a
 *   test of seconds would lose everything or nothing; at one second the loss is the deductions
 *   acknowledged since the last snapshot began (about a second, plus the time a snapshot takes),
 *   which is what RDB alone risks in production, scaled to a test's length. The fork each second
 *   also shows in the latency, as it would there.
 * - `aof-everysec` / `aof-always`: the append-only file with that fsync policy, and no RDB
 *   snapshots besides. Redis appends a write to the AOF before it replies, so a kill -9 of the
 *   process (not of the machine: the OS still holds what was written) loses nothing acknowledged
 *   under either policy; the two differ only when the machine itself goes down.
 */
export function persistenceArgs(p: Persistence): string[] {
  switch (p) {
    case 'none':
      return ['--save', '', '--appendonly', 'no'];
    case 'rdb':
      return ['--save', '1 1', '--appendonly', 'no'];
    case 'aof-everysec':
      return ['--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec'];
    case 'aof-always':
      return ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always'];
  }
}

export interface EmbeddedServer {
  readonly host: string;
  readonly port: number;
  /** The server's data directory (dump.rdb, appendonlydir/). */
  readonly dir: string;
  /** The redis-server process now serving (the last one started; still its pid after kill()). */
  readonly pid: number;
  /** Every redis-server pid ever started under this handle: primary, replica, restarts (for leak checks). */
  readonly pids: readonly number[];
  /** kill -9 the server now (with any snapshot it forked): the watchdog neither restarts it nor hangs; sellout keeps running. */
  kill(): void;
  /**
   * Starts redis-server again on the same port, data dir and arguments (it loads its RDB/AOF).
   * Rejects with a one-line TargetError when it cannot (the server is still running, or its port
   * is taken by another process for 10 s, or it does not start).
   */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT. */
  pause(): void;
  resume(): void;
  /** With replicas: 1, the server replicating this one (same interface), in sync when startEmbedded resolves. */
  readonly replica?: EmbeddedServer;
  /**
   * 'safe': FAILOVER on the primary (it waits for the replica to catch up, then the roles swap).
   * 'unsafe': kill -9 the primary, REPLICAOF NO ONE on the replica. Resolves with the new
   * primary's host/port once it takes writes (role master); rejects with a TargetError.
   */
  failover(mode: 'safe' | 'unsafe'): Promise<{ host: string; port: number }>;
  /** Stops everything (primary, replica, restarted processes) and removes the data dirs. Also after kill. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  readonly persistence: Persistence;
  readonly replicas: 0 | 1;
}

const HOST = '127.0.0.1';
/** How long restart() waits for a port another process holds. */
const PORT_WAIT_MS = 10_000;
/** A restarted server loads its RDB/AOF before it says it is ready: give it longer than a fresh one. */
const RESTART_READY_MS = 60_000;
const SYNC_TIMEOUT_MS = 20_000;
const FAILOVER_TIMEOUT_MS = 10_000;

/**
 * Removes `dir` once sellout has gone (its pipe reached end of file) and every redis-server pid
 * written to the pipe has exited (their own watchdogs stop them within about 5 s; one that saves
 * on shutdown writes into the directory until then), waiting at most 10 s for each.
 */
const DIR_WATCHDOG = [
  'dir=$1',
  'pids=',
  'while read -r p; do pids="$pids $p"; done',
  'for p in $pids; do n=0; while kill -0 "$p" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done; done',
  'rm -rf "$dir"',
].join('\n');

/** The directory watchdog: told of each server started in the directory; `close` removes the directory and ends it. */
class DirGuard {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(readonly dir: string) {
    // detached: its own process group, so a terminal's Ctrl-C does not end it before the servers.
    this.child = spawn('sh', ['-c', DIR_WATCHDOG, 'sellout-dir-watchdog', dir], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    // Errors are not ours to report: without it, the directory is still removed by close().
    this.child.on('error', () => {});
    this.child.stdin!.on('error', () => {});
    this.exited = new Promise((done) => { this.child.once('exit', () => done()); this.child.once('error', () => done()); });
    this.child.unref();
    (this.child.stdin as unknown as { unref?: () => void }).unref?.();
  }

  track(pid: number): void {
    if (this.child.stdin!.writable) this.child.stdin!.write(`${pid}\n`);
  }

  async close(): Promise<void> {
    rmSync(this.dir, { recursive: true, force: true });
    this.child.stdin!.end();
    // Its servers are gone already, so it ends at once; never wait on it for long.
    await held(this.exited, 5000);
  }
}

/** One redis-server "seat": a data directory and a port, and every process started there. */
class Seat {
  readonly started: LocalRedis[] = [];
  /** The port of the server this one replicates; undefined for a primary. */
  replicaOf: number | undefined;
  private running = false;
  private port0 = 0;

  constructor(readonly dir: string, private readonly persistence: Persistence, private readonly guard: DirGuard) {
    mkdirSync(dir, { recursive: true });
  }

  get port(): number { return this.port0; }
  get up(): boolean { return this.running; }
  get current(): LocalRedis | undefined { return this.started.at(-1); }

  private args(): string[] {
    // A replica's full sync starts at once (Redis waits 5 s for more replicas to share a diskless one).
    return [...persistenceArgs(this.persistence), '--repl-diskless-sync-delay', '0',
      ...(this.replicaOf !== undefined ? ['--replicaof', HOST, String(this.replicaOf)] : [])];
  }

  /** Starts a server here: on a free port the first time, then on the same port. */
  async start(): Promise<void> {
    const again = this.started.length > 0;
    const server = await startLocalRedis({
      dir: this.dir,
      args: this.args(),
      ...(again ? { port: this.port0, readyTimeoutMs: RESTART_READY_MS } : {}),
    });
    this.guard.track(server.pid);
    this.started.push(server);
    this.port0 = server.port;
    this.running = true;
    void server.exited.then(() => { if (this.current === server) this.running = false; });
  }

  kill(): void {
    this.current?.crash();
    this.running = false;
  }

  async restart(): Promise<void> {
    const where = `${HOST}:${this.port0}`;
    if (this.running) throw new TargetError(`cannot restart the embedded redis-server on ${where}: it is still running (restart follows kill)`);
    if (this.current) await held(this.current.exited, 10_000);
    const deadline = Date.now() + PORT_WAIT_MS;
    while (!(await portFree(this.port0))) {
      if (Date.now() >= deadline) throw new TargetError(`cannot restart the embedded redis-server on ${where}: another process has held the port for ${PORT_WAIT_MS / 1000} s`);
      await sleep(100);
    }
    try {
      await this.start();
    } catch (err) {
      throw new TargetError(`cannot restart the embedded redis-server on ${where}: ${firstLine(err)}`);
    }
  }

  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    if (this.running) this.current?.kill(signal);
  }

  async stop(): Promise<void> {
    // Its data goes with it: no shutdown save to wait for.
    for (const server of this.started) server.crash();
    await Promise.all(this.started.map((server) => server.stop()));
    this.running = false;
  }
}

export async function startEmbedded(options: EmbeddedOptions): Promise<EmbeddedServer> {
  assertRedisServer(); // before anything is created: there is nothing to start
  const root = mkdtempSync(join(tmpdir(), 'sellout-redis-'));
  const guard = new DirGuard(root);
  const seats: Seat[] = [];
  let stopped: Promise<void> | undefined;
  const stopAll = () => (stopped ??= (async () => {
    await Promise.all(seats.map((seat) => seat.stop()));
    await guard.close();
  })());
  try {
    const first = new Seat(join(root, 'primary'), options.persistence, guard);
    seats.push(first);
    await first.start();
    let second: Seat | undefined;
    if (options.replicas === 1) {
      second = new Seat(join(root, 'replica'), options.persistence, guard);
      second.replicaOf = first.port;
      seats.push(second);
      await second.start();
      await waitInSync(second.port, SYNC_TIMEOUT_MS);
    }
    return new Cluster(seats, first, second, stopAll).primaryView;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The primary/replica pair and the views handed out on it. */
class Cluster {
  readonly primaryView: EmbeddedServer;
  private readonly views = new Map<Seat, EmbeddedServer>();

  constructor(
    private readonly seats: readonly Seat[],
    private primary: Seat,
    private replica: Seat | undefined,
    private readonly stopAll: () => Promise<void>,
  ) {
    const cluster = this;
    this.primaryView = {
      host: HOST,
      get port() { return cluster.primary.port; },
      get dir() { return cluster.primary.dir; },
      get pid() { return cluster.primary.current?.pid ?? 0; },
      get pids() { return cluster.allPids(); },
      kill: () => cluster.primary.kill(),
      restart: () => cluster.primary.restart(),
      pause: () => cluster.primary.signal('SIGSTOP'),
      resume: () => cluster.primary.signal('SIGCONT'),
      get replica() { return cluster.replica === undefined ? undefined : cluster.viewOf(cluster.replica); },
      failover: (mode) => cluster.failover(mode),
      stop: () => cluster.stopAll(),
    };
  }

  private allPids(): number[] {
    return this.seats.flatMap((seat) => seat.started.map((s) => s.pid));
  }

  /** A fixed view of one server (the replica): its own kill/restart/pause; it cannot fail over. */
  private viewOf(seat: Seat): EmbeddedServer {
    let view = this.views.get(seat);
    if (view === undefined) {
      view = {
        host: HOST,
        get port() { return seat.port; },
        dir: seat.dir,
        get pid() { return seat.current?.pid ?? 0; },
        get pids() { return seat.started.map((s) => s.pid); },
        kill: () => seat.kill(),
        restart: () => seat.restart(),
        pause: () => seat.signal('SIGSTOP'),
        resume: () => seat.signal('SIGCONT'),
        replica: undefined,
        failover: () => Promise.reject(new TargetError(`the embedded redis-server on ${HOST}:${seat.port} is a replica: a failover is asked of the primary`)),
        stop: async () => {
          await seat.stop();
          rmSync(seat.dir, { recursive: true, force: true });
        },
      };
      this.views.set(seat, view);
    }
    return view;
  }

  async failover(mode: 'safe' | 'unsafe'): Promise<{ host: string; port: number }> {
    const from = this.primary;
    const to = this.replica;
    if (to === undefined) throw new TargetError('no replica to fail over to: replicas: 1 starts one, and an unsafe failover uses it up');
    if (!to.up) throw new TargetError(`cannot fail over: the replica on ${HOST}:${to.port} is down`);
    if (mode === 'safe') {
      if (!from.up) throw new TargetError(`cannot fail over safely: the primary on ${HOST}:${from.port} is down (mode unsafe promotes the replica without it)`);
      await safeFailover(from.port, to.port);
      from.replicaOf = to.port;
      to.replicaOf = undefined;
      this.primary = to;
      this.replica = from;
    } else {
      from.kill();
      await withClient(to.port, async (client) => {
        await client.call('REPLICAOF', 'NO', 'ONE');
        await waitForRole(client, 'master', FAILOVER_TIMEOUT_MS);
      });
      to.replicaOf = undefined;
      this.primary = to;
      this.replica = undefined;
    }
    return { host: HOST, port: to.port };
  }
}

/** FAILOVER on the primary; resolves once the replica is the primary and the old one follows it. */
async function safeFailover(primaryPort: number, replicaPort: number): Promise<void> {
  await withClient(primaryPort, async (client) => {
    try {
      await client.call('FAILOVER', 'TIMEOUT', String(FAILOVER_TIMEOUT_MS));
    } catch (err) {
      throw new TargetError(`FAILOVER refused by the embedded redis-server on ${HOST}:${primaryPort}: ${firstLine(err)}`);
    }
    const deadline = Date.now() + FAILOVER_TIMEOUT_MS + 5000;
    for (;;) {
      const info = await infoFields(client, 'replication');
      if (info['master_failover_state'] === 'no-failover') {
        if (info['role'] === 'slave') break;
        throw new TargetError(`FAILOVER on the embedded redis-server on ${HOST}:${primaryPort} was aborted: the replica on ${HOST}:${replicaPort} did not catch up within ${FAILOVER_TIMEOUT_MS / 1000} s`);
      }
      if (Date.now() > deadline) throw new TargetError(`FAILOVER on the embedded redis-server on ${HOST}:${primaryPort} did not finish within ${(FAILOVER_TIMEOUT_MS + 5000) / 1000} s (state ${info['master_failover_state']})`);
      await sleep(20);
    }
  });
  await withClient(replicaPort, (client) => waitForRole(client, 'master', FAILOVER_TIMEOUT_MS));
}

/** Resolves once the replica on `port` says master_link_status:up (the initial sync is done). */
async function waitInSync(port: number, timeoutMs: number): Promise<void> {
  await withClient(port, async (client) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await infoFields(client, 'replication');
      if (info['master_link_status'] === 'up') return;
      if (Date.now() > deadline) throw new TargetError(`the embedded replica on ${HOST}:${port} did not sync with its primary within ${timeoutMs / 1000} s (master_link_status:${info['master_link_status'] ?? '?'})`);
      await sleep(20);
    }
  });
}

async function waitForRole(client: Redis, role: 'master', timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = (await client.call('ROLE')) as unknown[];
    if (reply[0] === role) return;
    if (Date.now() > deadline) throw new TargetError(`the embedded redis-server did not become ${role} within ${timeoutMs / 1000} s (role ${String(reply[0])})`);
    await sleep(20);
  }
}

async function withClient<T>(port: number, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, enableReadyCheck: false, connectTimeout: 3000, commandTimeout: 5000, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return await use(client);
  } catch (err) {
    if (err instanceof TargetError) throw err;
    throw new TargetError(`the embedded redis-server on ${HOST}:${port}: ${firstLine(err)}`);
  } finally {
    client.disconnect();
  }
}

async function infoFields(client: Redis, section: string): Promise<Record<string, string>> {
  const fields: Record<string, string> = {};
  for (const line of (await client.info(section)).split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.unref();
    server.once('error', () => done(false));
    server.listen(port, HOST, () => server.close(() => done(true)));
  });
}

/**
 * Waits for `promise` (a watchdog's exit), at most `ms`, holding a timer meanwhile: the watchdogs
 * are unref'd, so without it Node could find nothing left to do and exit mid-wait.
 */
async function held(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((done) => { timer = setTimeout(done, ms); })]);
  clearTimeout(timer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}
