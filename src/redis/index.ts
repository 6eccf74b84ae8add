/**
 * Opens the Redis a run talks to: a URL, a container, or (by default) a private redis-server.
 * Returns the endpoint for load connections, an admin client for setup and verification, and
 * what the server says it is. Failures are TargetErrors (exit 3) in one line.
 */
import { Redis } from 'ioredis';
import { TargetError } from '../errors.js';
import { startContainerRedis } from './container.js';
import { startLocalRedis } from './local.js';
import { endpointUrl, parseRedisUrl, type RedisEndpoint } from './url.js';

export type TargetKind = 'embedded' | 'url' | 'docker';

export interface TargetInfo {
  readonly redisVersion: string;
  readonly mode: string;
  readonly url: string;
  readonly kind: TargetKind;
}

export interface Target {
  readonly endpoint: RedisEndpoint;
  readonly admin: Redis;
  readonly info: TargetInfo;
  close(): Promise<void>;
}

export interface OpenTargetOptions {
  /** `redis://…`, `rediss://…`, `docker`, or undefined for the embedded redis-server. */
  readonly redis?: string | undefined;
  readonly connectTimeoutMs?: number;
}

export async function openTarget(options: OpenTargetOptions = {}): Promise<Target> {
  let endpoint: RedisEndpoint;
  let kind: TargetKind;
  let stopServer: () => Promise<void> = async () => {};
  if (options.redis === undefined) {
    const local = await startLocalRedis();
    endpoint = { host: local.host, port: local.port, db: 0, tls: false };
    kind = 'embedded';
    stopServer = local.stop;
  } else if (options.redis === 'docker') {
    const container = await startContainerRedis();
    endpoint = { host: container.host, port: container.port, db: 0, tls: false };
    kind = 'docker';
    stopServer = container.stop;
  } else {
    endpoint = parseRedisUrl(options.redis);
    kind = 'url';
  }
  try {
    const admin = await connectAdmin(endpoint, options.connectTimeoutMs ?? 3000);
    const info = await describeServer(admin, endpoint, kind);
    return {
      endpoint,
      admin,
      info,
      close: async () => {
        admin.disconnect();
        await stopServer();
      },
    };
  } catch (err) {
    await stopServer();
    throw err;
  }
}

/**
 * ioredis options of the admin connection (setup, stock sampling, verification): fail fast, never
 * retry a command by itself. Load connections use the RESP client in src/load/resp.ts.
 */
function clientOptions(endpoint: RedisEndpoint, connectTimeoutMs = 3000) {
  return {
    host: endpoint.host,
    port: endpoint.port,
    db: endpoint.db,
    ...(endpoint.username !== undefined ? { username: endpoint.username } : {}),
    ...(endpoint.password !== undefined ? { password: endpoint.password } : {}),
    ...(endpoint.tls ? { tls: {} } : {}),
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    // ioredis's ready check sends INFO and, for a user without it, prints a warning of its own;
    // sellout pings, and describeServer says what a refused INFO means in one line.
    enableReadyCheck: false,
    // A lost server must surface as an error (exit 3, or targetLost after the load), not as a
    // command quietly retried on a new connection.
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  } as const;
}

export async function connectAdmin(endpoint: RedisEndpoint, connectTimeoutMs = 3000): Promise<Redis> {
  const redis = new Redis(clientOptions(endpoint, connectTimeoutMs));
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => { lastError = err; });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    const cause = (lastError ?? err) as NodeJS.ErrnoException;
    const refused = permissionError(cause, endpoint, 'PING');
    if (refused) throw refused;
    const reason = describeConnectError(cause);
    const message = cause.message ?? '';
    const hint = message.startsWith('NOAUTH')
      ? 'give the password in the URL, or in SELLOUT_REDIS_PASSWORD to keep it off the command line'
      : message.startsWith('WRONGPASS')
        ? 'check the user name and the password (in the URL, SELLOUT_REDIS_PASSWORD or REDISCLI_AUTH)'
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
export const REQUIRED_COMMANDS = ['PING', 'INFO', 'EXISTS', 'SET', 'GET', 'MGET', 'HLEN', 'HSCAN', 'UNLINK', 'SCRIPT LOAD', 'EVALSHA'] as const;

/** A NOPERM reply (Redis ACL) as one line naming the command refused and what sellout needs, or undefined for another error. */
export function permissionError(err: unknown, endpoint: RedisEndpoint, command: string): TargetError | undefined {
  const message = err instanceof Error ? err.message : String(err);
  if (!message.startsWith('NOPERM')) return undefined;
  return new TargetError(
    `Redis at ${endpointUrl(endpoint)} refused ${command} to user ${JSON.stringify(endpoint.username ?? 'default')} (${message.split('\n')[0]})`,
    `sellout needs ${REQUIRED_COMMANDS.join(', ')} on keys sellout:*, and whatever its script calls (README, "Redis permissions")`,
  );
}

function describeConnectError(err: NodeJS.ErrnoException): string {
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

export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}
