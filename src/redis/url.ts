/** Parses `redis://[user:pass@]host:port[/db]` / `rediss://…` and redacts passwords for display. */
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

export function parseRedisUrl(text: string): RedisEndpoint {
  // Error messages never quote the value: a malformed URL may hold a password in any part.
  const PASSWORD_HINT = 'percent-encode / # ? @ : in a password';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--redis: expected redis://[user:pass@]host:port[/db], rediss://… or "docker", got a value that is not a URL (not shown: it may hold a password)`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new UsageError(`--redis: expected a redis:// or rediss:// URL, got scheme ${JSON.stringify(url.protocol)}`);
  }
  if (url.host === '') {
    throw new UsageError(`--redis: expected redis://[user:pass@]host:port[/db], got a URL without a host (${PASSWORD_HINT})`);
  }
  const port = url.port === '' ? 6379 : Number(url.port);
  const dbText = url.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!/^\d*$/.test(dbText) || !Number.isSafeInteger(db)) {
    throw new UsageError(`--redis: expected a database number after the port (like /0), got a path that is not a number (${PASSWORD_HINT})`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    host: host || '127.0.0.1',
    port,
    db,
    tls: url.protocol === 'rediss:',
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
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
