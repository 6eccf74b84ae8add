/**
 * Opens the Redis a run talks to: a URL, a container, or (by default) a private redis-server.
 * Returns the endpoint for load connections, an admin client for setup and verification, and
 * what the server says it is. Failures are TargetErrors (exit 3) in one line.
 */
import { Redis, ReplyError } from 'ioredis';
import { trackReconnects } from './retry.js';
import { TargetError, UsageError } from '../errors.js';
import { startContainerRedis } from './container.js';
import { persistenceArgs, startEmbedded, type EmbeddedServer, type Persistence } from './embedded.js';
import { startLocalCluster } from './local-cluster.js';
import { discoverTopology, isClusterNode, standaloneTopology, type Topology } from './topology.js';
import { checkTlsCaTarget, endpointUrl, parseRedisUrl, type RedisEndpoint } from './url.js';
import type { PersistenceInfo, TargetInfo, TargetKind } from '../summary/summary.js';

export interface Target {
  /** The server sellout was pointed at (in a cluster: the node it learned the topology from). */
  readonly endpoint: RedisEndpoint;
  /** An admin connection to `endpoint`. */
  readonly admin: Redis;
  readonly info: TargetInfo;
  /** Who owns which slots when the run starts (a standalone server: one shard owning all). */
  readonly topology: Topology;
  /** The embedded redis-server (the default target) for faults to act on; undefined for a URL, a container or a cluster. */
  readonly embedded?: EmbeddedServer;
  /** The persistence the scenario declared, and what the server says it runs with (best effort). */
  readonly persistence: PersistenceInfo;
  close(): Promise<void>;
}

export interface OpenTargetOptions {
  /** `redis://…`, `rediss://…`, `docker`, `cluster` (an embedded cluster), or undefined for the embedded redis-server. */
  readonly redis?: string | undefined;
  /** Primaries of the embedded cluster (`redis: 'cluster'`; default 3). */
  readonly shards?: number | undefined;
  readonly connectTimeoutMs?: number;
  /** PEM text of the CA that signed a `rediss://` server's certificate (`--tls-ca FILE`); a usage error for any other target. */
  readonly tlsCa?: string | undefined;
  /**
   * The scenario's persistence (default none): how the servers sellout starts (the embedded one,
   * the embedded cluster's, a container) persist; for a URL, only what the summary says was declared.
   */
  readonly persistence?: Persistence | undefined;
  /** 1: the embedded redis-server gets a replica (failover faults). The embedded default only (src/scenario/faults.ts checks). */
  readonly replicas?: 0 | 1 | undefined;
}

export async function openTarget(options: OpenTargetOptions = {}): Promise<Target> {
  let endpoint: RedisEndpoint;
  let kind: TargetKind;
  let stopServer: () => Promise<void> = async () => {};
  let embedded: EmbeddedServer | undefined;
  const persistence = options.persistence ?? 'none';
  if (options.tlsCa !== undefined) checkTlsCaTarget(options.redis);
  if ((options.replicas ?? 0) !== 0 && options.redis !== undefined) {
    throw new UsageError(`replicas: ${options.replicas} starts a replica of the embedded redis-server only, not of --redis ${options.redis === 'docker' || options.redis === 'cluster' ? options.redis : 'URL'}`);
  }
  if (options.redis === undefined) {
    embedded = await startEmbedded({ persistence, replicas: options.replicas ?? 0 });
    endpoint = { host: embedded.host, port: embedded.port, db: 0, tls: false };
    kind = 'embedded';
    stopServer = embedded.stop;
  } else if (options.redis === 'cluster') {
    const cluster = await startLocalCluster({ shards: options.shards ?? 3, args: persistenceArgs(persistence) });
    const first = cluster.nodes[0]!;
    endpoint = { host: first.host, port: first.port, db: 0, tls: false };
    kind = 'embedded';
    stopServer = cluster.stop;
  } else if (options.redis === 'docker') {
    const container = await startContainerRedis(persistenceArgs(persistence));
    endpoint = { host: container.host, port: container.port, db: 0, tls: false };
    kind = 'docker';
    stopServer = container.stop;
  } else {
    endpoint = parseRedisUrl(options.redis);
    // Admin and load connections alike verify the server against this CA (src/load/resp.ts).
    if (options.tlsCa !== undefined) endpoint = { ...endpoint, ca: options.tlsCa };
    kind = 'url';
  }
  let admin: Redis | undefined;
  try {
    admin = await connectAdmin(endpoint, options.connectTimeoutMs ?? 3000);
    const info = await describeServer(admin, endpoint, kind);
    const topology = (await isClusterNode(admin)) ? await discoverTopology(admin, endpoint) : standaloneTopology(endpoint);
    if (topology.cluster && endpoint.db !== 0) throw new TargetError(`${endpointUrl(endpoint)} is a Redis Cluster node: a cluster has only database 0, not ${endpoint.db}`, 'drop the database number from --redis');
    const found = await readPersistence(admin);
    return {
      endpoint,
      admin,
      info: topology.cluster ? { ...info, mode: 'cluster' } : info,
      topology,
      ...(embedded !== undefined ? { embedded } : {}),
      persistence: { declared: persistence, ...(found !== undefined ? { found } : {}) },
      close: async () => {
        admin!.disconnect();
        await stopServer();
      },
    };
  } catch (err) {
    admin?.disconnect();
    await stopServer();
    throw err;
  }
}

/**
 * ioredis options of the admin connection (setup, stock sampling, verification, cleanup). Every
 * command is bounded by `commandTimeoutMs`: a frozen server or a listener that never answers
 * fails the run with exit 3 instead of hanging it. The connection is reopened when the server
 * closes it (a server `timeout` shorter than the run, CLIENT KILL), so verification and cleanup
 * still happen; a command in flight when it closed is not resent by ioredis (it fails on its
 * timeout and the caller decides: reads are retried, see `retrying`). Load connections use the
 * RESP client in src/load/resp.ts.
 */
function clientOptions(endpoint: RedisEndpoint, connectTimeoutMs: number, commandTimeoutMs: number, stringNumbers: boolean) {
  return {
    stringNumbers,
    host: endpoint.host,
    port: endpoint.port,
    db: endpoint.db,
    ...(endpoint.username !== undefined ? { username: endpoint.username } : {}),
    ...(endpoint.password !== undefined ? { password: endpoint.password } : {}),
    ...(endpoint.tls ? { tls: { ...(endpoint.ca !== undefined ? { ca: endpoint.ca } : {}) } } : {}),
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: null,
    // A few quick reconnects (about 3 s in all), then the connection is given up.
    retryStrategy: (attempt: number) => (attempt > 8 ? null : Math.min(50 * 2 ** attempt, 1000)),
    enableOfflineQueue: true,
    enableReadyCheck: false,
  } as const;
}

/** Node's TLS error codes for a server certificate no trusted CA vouches for. */
const UNTRUSTED_CERTIFICATE = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT']);

/** Admin commands get this long to answer (a frozen server fails the run instead of hanging it). */
export const ADMIN_COMMAND_TIMEOUT_MS = 5000;

/**
 * An admin connection, checked with PING (and SELECT) before it is returned. `check: false` skips
 * the PING, for a connection whose first job is to free a server that answers everything with
 * BUSY (SCRIPT KILL). `stringNumbers`: integer replies come as decimal strings, exact beyond 2^53
 * (`sellout audit` records what a script replied, digit for digit).
 */
export async function connectAdmin(endpoint: RedisEndpoint, connectTimeoutMs = 3000, commandTimeoutMs = ADMIN_COMMAND_TIMEOUT_MS, check = true, options: { readonly stringNumbers?: boolean } = {}): Promise<Redis> {
  const redis = new Redis(clientOptions(endpoint, connectTimeoutMs, commandTimeoutMs, options.stringNumbers ?? false));
  trackReconnects(redis);
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => { lastError = err; });
  try {
    await redis.connect();
    // ioredis sends SELECT on connect but only logs its failure: ask again and wait for the
    // answer, so a database that does not exist fails here, before anything is written.
    if (endpoint.db !== 0 && check) await redis.select(endpoint.db);
    if (check) await redis.ping();
  } catch (err) {
    redis.disconnect();
    const cause = (err instanceof ReplyError ? err : lastError ?? err) as NodeJS.ErrnoException;
    const refused = permissionError(cause, endpoint, 'PING');
    if (refused) throw refused;
    const reason = describeConnectError(cause, commandTimeoutMs);
    const message = cause.message ?? '';
    const hint = message.startsWith('NOAUTH')
      ? 'give the password in the URL, or in SELLOUT_REDIS_PASSWORD to keep it off the command line'
      : message.startsWith('WRONGPASS')
        ? 'check the user name and the password (in the URL, SELLOUT_REDIS_PASSWORD or REDISCLI_AUTH)'
        : UNTRUSTED_CERTIFICATE.has(cause.code ?? '')
          ? endpoint.ca === undefined
            ? 'the server\'s certificate is not signed by a CA this machine trusts: give that CA\'s PEM file with --tls-ca FILE'
            : 'the CA given with --tls-ca did not sign the server\'s certificate'
          : 'check --redis (or SELLOUT_REDIS_URL / REDIS_URL), or drop it to use the embedded redis-server';
    throw new TargetError(`cannot connect to Redis at ${endpointUrl(endpoint)}: ${reason}`, hint);
  }
  return redis;
}

/**
 * Every command sellout sends (README, "Redis permissions"): the admin connection (setup, stock
 * sampling, verification; AUTH and SELECT when the URL has them) and the load connections. The
 * script's own calls are checked against the same user's ACL too.
 */
export const REQUIRED_COMMANDS = ['PING', 'INFO', 'EXISTS', 'SET', 'GET', 'HLEN', 'HSCAN', 'UNLINK', 'SCRIPT LOAD', 'EVALSHA'] as const;

/** A NOPERM reply (Redis ACL) as one line naming the command refused and what sellout needs, or undefined for another error. */
export function permissionError(err: unknown, endpoint: RedisEndpoint, command: string): TargetError | undefined {
  const message = err instanceof Error ? err.message : String(err);
  if (!message.startsWith('NOPERM')) return undefined;
  return new TargetError(
    `Redis at ${endpointUrl(endpoint)} refused ${command} to user ${JSON.stringify(endpoint.username ?? 'default')} (${message.split('\n')[0]})`,
    `sellout needs ${REQUIRED_COMMANDS.join(', ')} on keys sellout:* (or what the scenario's keys: templates name), and whatever its script calls (README, "Redis permissions")`,
  );
}

function describeConnectError(err: NodeJS.ErrnoException, commandTimeoutMs = ADMIN_COMMAND_TIMEOUT_MS): string {
  if (/Command timed out/.test(err.message)) return `no answer within ${commandTimeoutMs} ms (a stopped or overloaded server, or not Redis)`;
  // Redis 7's NOAUTH reply to HELLO is a paragraph about HELLO; what it means is one phrase.
  if (err.message?.startsWith('NOAUTH')) return 'NOAUTH (the server requires a password and none was given)';
  if (err.code) return `${err.code}${err.message.includes(err.code) ? '' : ` (${err.message})`}`;
  return err.message.split('\n')[0] ?? String(err);
}

async function describeServer(admin: Redis, endpoint: RedisEndpoint, kind: TargetKind): Promise<TargetInfo> {
  let text: string;
  try {
    text = await admin.info('server');
  } catch (err) {
    throw permissionError(err, endpoint, 'INFO') ?? new TargetError(`Redis at ${endpointUrl(endpoint)} did not answer INFO server: ${(err as Error).message.split('\n')[0]}`);
  }
  const server = parseInfo(text);
  return {
    redisVersion: server['redis_version'] ?? 'unknown',
    mode: server['redis_mode'] ?? 'standalone',
    url: endpointUrl(endpoint),
    kind,
  };
}

/**
 * CONFIG GET appendonly, appendfsync and save: how the server persists, as it says. Best effort:
 * undefined where CONFIG is refused (an ACL user without it, a managed Redis that renames it) or
 * does not answer. One command per parameter (CONFIG GET takes several only since Redis 7).
 */
export async function readPersistence(admin: Redis): Promise<PersistenceInfo['found']> {
  try {
    const get = async (name: string) => {
      const reply = (await admin.call('CONFIG', 'GET', name)) as string[];
      const value = reply[1];
      if (typeof value !== 'string') throw new Error(`no ${name}`);
      return value;
    };
    return { appendonly: await get('appendonly'), appendfsync: await get('appendfsync'), save: await get('save') };
  } catch {
    return undefined;
  }
}

export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

/** What the servers say about themselves that tells a restart or a flush apart from a script's doing. */
export interface ServerMarks {
  /**
   * Per primary (`host:port`): INFO server run_id (changes when it restarts) and FLUSHALL +
   * FLUSHDB calls so far (INFO commandstats); undefined where INFO is not allowed or did not answer.
   */
  readonly nodes: ReadonlyMap<string, { readonly runId: string | undefined; readonly flushes: number } | undefined>;
}

/** Every primary's marks, read at once. Best effort: the run goes on without them. */
export async function serverMarks(shards: { readonly topology: Topology; readonly admins: readonly Redis[] }): Promise<ServerMarks> {
  const read = await Promise.all(shards.admins.map(async (admin, i) => {
    try {
      const server = parseInfo(await admin.info('server'));
      const stats = parseInfo(await admin.info('commandstats'));
      const calls = (name: string) => Number(/calls=(\d+)/.exec(stats[`cmdstat_${name}`] ?? '')?.[1] ?? 0);
      return { runId: server['run_id'], flushes: calls('flushall') + calls('flushdb') };
    } catch {
      return undefined;
    }
  }));
  return { nodes: new Map(read.map((marks, i) => [shards.topology.shards[i]!.node, marks])) };
}

/**
 * What happened to the servers between two readings that deletes keys from outside a run: a
 * restart of any primary, a FLUSHALL/FLUSHDB on any, a primary that stopped being one (failover),
 * as sentences (none when nothing did, or nothing could be read).
 */
export function marksChanged(before: ServerMarks | undefined, after: ServerMarks | undefined): string[] {
  if (before === undefined || after === undefined) return [];
  const several = before.nodes.size > 1 || after.nodes.size > 1;
  const restarted: string[] = [];
  let flushes = 0;
  for (const [node, was] of before.nodes) {
    const now = after.nodes.get(node);
    if (was === undefined || now === undefined) continue;
    if (was.runId && now.runId && was.runId !== now.runId) restarted.push(node);
    flushes += Math.max(0, now.flushes - was.flushes);
  }
  const gone = several ? [...before.nodes.keys()].filter((node) => !after.nodes.has(node)) : [];
  const causes: string[] = [];
  if (restarted.length > 0) causes.push(several ? `${restarted.join(', ')} restarted during the run (run_id changed)` : 'the server restarted during the run (its run_id changed)');
  if (flushes > 0) causes.push(`FLUSHALL/FLUSHDB ran ${flushes} time(s) during the run`);
  if (gone.length > 0) causes.push(`${gone.join(', ')} stopped being a primary during the run (a failover: a replica that had not received the last writes took over without them)`);
  return causes;
}

/** INFO stats rejected_connections: connections refused at maxclients (undefined when INFO is not allowed). */
export async function rejectedConnections(admin: Redis): Promise<number | undefined> {
  try {
    const value = parseInfo(await admin.info('stats'))['rejected_connections'];
    return value === undefined ? undefined : Number(value);
  } catch {
    return undefined;
  }
}
