/**
 * Parses `redis://[user:pass@]host:port[/db]` / `rediss://…`, picks the target URL and password
 * from the flag or the environment, and redacts passwords for display.
 */
import { UsageError } from '../errors.js';

export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
  readonly db: number;
  readonly tls: boolean;
  /** TLS: PEM text of the CA that signed the server's certificate (`--tls-ca FILE`), when not a public one. */
  readonly ca?: string;
}

/**
 * @param source where the text came from, named in every error (`--redis`, `SELLOUT_REDIS_URL`, …).
 */
export function parseRedisUrl(text: string, source = '--redis'): RedisEndpoint {
  // Error messages never quote the value: a malformed URL may hold a password in any part.
  const PASSWORD_HINT = 'percent-encode / # ? @ : in a password';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${source}: expected redis://[user:pass@]host:port[/db], rediss://… or "docker", got a value that is not a URL (not shown: it may hold a password)`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new UsageError(`${source}: expected a redis:// or rediss:// URL, got scheme ${JSON.stringify(url.protocol)}`);
  }
  if (url.host === '') {
    throw new UsageError(`${source}: expected redis://[user:pass@]host:port[/db], got a URL without a host (${PASSWORD_HINT})`);
  }
  const port = url.port === '' ? 6379 : Number(url.port);
  const dbText = url.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!/^\d*$/.test(dbText) || !Number.isSafeInteger(db)) {
    throw new UsageError(`${source}: expected a database number after the port (like /0), got a path that is not a number (${PASSWORD_HINT})`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  // `%zz` passes the URL parser but not decodeURIComponent: say so without quoting either part.
  const decode = (part: string, what: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new UsageError(`${source}: expected a percent-encoded ${what} (% followed by two hex digits, like %40 for @), got a malformed % escape in the ${what} (not shown)`);
    }
  };
  return {
    host: host || '127.0.0.1',
    port,
    db,
    tls: url.protocol === 'rediss:',
    ...(url.username ? { username: decode(url.username, 'user name') } : {}),
    ...(url.password ? { password: decode(url.password, 'password') } : {}),
  };
}

/**
 * A CA for TLS (`--tls-ca`) only means something for a TLS target: anything else is a usage error
 * naming what the target is, rather than a CA silently ignored.
 * @param redis a URL, `docker`, or undefined for the embedded redis-server (as openTarget takes it).
 */
export function checkTlsCaTarget(redis: string | undefined): void {
  const what = redis === undefined
    ? 'the embedded redis-server (no --redis)'
    : redis === 'docker' || redis === 'cluster'
      ? `--redis ${redis}`
      : parseRedisUrl(redis).tls ? undefined : 'a redis:// URL';
  if (what !== undefined) throw new UsageError(`--tls-ca needs a TLS target (a rediss:// URL), got ${what}`, 'give the server as --redis rediss://host:port');
}

/** The endpoint as a URL safe to print or store: the password becomes `***`. */
export function endpointUrl(endpoint: RedisEndpoint): string {
  const auth = endpoint.password !== undefined ? `${encodeURIComponent(endpoint.username ?? '')}:***@` : endpoint.username ? `${encodeURIComponent(endpoint.username)}@` : '';
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `${endpoint.tls ? 'rediss' : 'redis'}://${auth}${host}:${endpoint.port}${endpoint.db ? `/${endpoint.db}` : ''}`;
}

/** Redacts the password of anything that looks like a URL with credentials, even if malformed. */
export function redactUrl(text: string): string {
  // The user part excludes '[' so usage text like `redis://[user:pass@]host` stays readable.
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s[]*:)[^@\s]*@/gi, '$1***@');
}

/** Environment variables read for the target, in order of precedence (after `--redis`). */
export const URL_VARIABLES = ['SELLOUT_REDIS_URL', 'REDIS_URL'] as const;
/** Environment variables read for a password the URL lacks, in order of precedence. */
export const PASSWORD_VARIABLES = ['SELLOUT_REDIS_PASSWORD', 'REDISCLI_AUTH'] as const;

export interface RedisChoice {
  /** What to pass to openTarget: a URL (with the password from the environment put in), `docker`, or undefined for the embedded server. */
  readonly redis: string | undefined;
  /** Where the URL and password came from when not (only) from `--redis`, for the console, e.g. `url from SELLOUT_REDIS_URL, password from SELLOUT_REDIS_PASSWORD`. Never the password. */
  readonly origin: string | undefined;
}

/**
 * The target of a run: `--redis`, else SELLOUT_REDIS_URL, else REDIS_URL, else the embedded
 * redis-server. A URL without a password takes one from SELLOUT_REDIS_PASSWORD, else REDISCLI_AUTH
 * (as redis-cli does), so the password need not sit on the command line where `ps` shows it.
 * The URL is validated here (exit 2 naming where it came from) before anything else happens.
 * Empty variables count as unset.
 */
export function chooseRedis(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): RedisChoice {
  const fromEnv = URL_VARIABLES.find((name) => (env[name] ?? '') !== '');
  const source = flag !== undefined ? '--redis' : fromEnv;
  if (source === undefined) return { redis: undefined, origin: undefined };
  const text = flag ?? env[source]!;
  const origins = source === '--redis' ? [] : [`url from ${source}`];
  if (text === 'docker' || text === 'cluster') return { redis: text, origin: origins.join(', ') || undefined };
  const endpoint = parseRedisUrl(text, source);
  const passwordSource = endpoint.password === undefined ? PASSWORD_VARIABLES.find((name) => (env[name] ?? '') !== '') : undefined;
  if (passwordSource === undefined) return { redis: text, origin: origins.join(', ') || undefined };
  const url = new URL(text);
  // Encoded here and decoded by parseRedisUrl: any character survives the trip.
  url.password = encodeURIComponent(env[passwordSource]!);
  origins.push(`password from ${passwordSource}`);
  return { redis: url.href, origin: origins.join(', ') };
}
