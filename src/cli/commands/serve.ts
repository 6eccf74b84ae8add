/**
 * `sellout serve [--redis URL] [--port 8080] [--host H] [--script PATH] [--keys-stock T
 * --keys-journal T] [--run-id ID]`: the reference sale service (src/serve/service.ts) on a Redis
 * of your choosing, or on a private redis-server when no --redis is given (removed on exit).
 * It never seeds stock: the load tool does. The first SIGINT/SIGTERM stops accepting, answers the
 * requests in flight and exits 0; a second quits at once (130, main.ts). Exit 2 bad usage (a port
 * in use, a template with <run> and no --run-id), 3 target problems.
 */
import type { Redis } from 'ioredis';
import { UsageError } from '../../errors.js';
import { DEFAULT_KEY_TEMPLATES, RunKeys, type KeyTemplates } from '../../keys.js';
import { openTarget, type Target } from '../../redis/index.js';
import { loadScript } from '../../redis/script.js';
import { chooseRedis } from '../../redis/url.js';
import { startSaleService, type SaleKeys, type SaleService } from '../../serve/service.js';
import { DEFAULT_AUDIT_SCRIPT, readAuditScript } from './audit.js';
import { readTlsCa } from './run.js';

export interface ServeCommandOptions {
  redis?: string;
  tlsCa?: string;
  port?: string;
  host?: string;
  script?: string;
  keysStock?: string;
  keysJournal?: string;
  runId?: string;
}

export interface ServeIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Aborted on the first SIGINT/SIGTERM: drain, then exit 0. */
  signal: AbortSignal;
  env?: Readonly<Record<string, string | undefined>>;
}

export const DEFAULT_SERVE_PORT = 8080;

/** What `sellout serve --help` adds. */
export const SERVE_HELP = `
POST /deduct {"sku": "10010", "quantity": 1, "requestId": "DEC-1-42"} runs the script once
(EVALSHA; NOSCRIPT loads it again) and answers:
  200 {"stock": 41}                           ok
  409 {"error": "OPERATION_ALREADY_EXECUTED"} duplicate
  410 {"error": "INVENTORY_NOT_ENOUGH"}       sold_out
  404 {"error": "KEY_NOT_FOUND"}              not_found (an unknown path is 404 {"error": "NOT_FOUND"})
  400 {"error": "INVALID_QUANTITY"}           invalid (also BAD_REQUEST: bad JSON, a missing field)
  413 a body over 16 KiB · 503 Redis unavailable · 500 any other error
GET /healthz: 200 when Redis answers PING, 503 otherwise or while draining.

serve never seeds stock: the load tool (or you) sets the stock keys first.
The first Ctrl-C / SIGTERM stops accepting, answers the requests in flight and exits 0; a second quits at once.

Examples:
  sellout serve --run-id demo                              the default keys sellout:demo:inv:{<sku>}, a private redis-server
  sellout serve --redis redis://cache:6379 --port 9000 --keys-stock 'shop:inv:{<sku>}' --keys-journal 'shop:journal:{<sku>}'
`;

const RUN_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The templates checked and filled: `<run>` from --run-id (required when a template has it), `<sku>` per request. */
export function serveKeys(templates: KeyTemplates, runId: string | undefined, given: { stock: boolean; journal: boolean }): SaleKeys {
  if (runId !== undefined && !RUN_ID.test(runId)) throw new UsageError(`--run-id ${runId}: expected 1-64 characters of A-Z a-z 0-9 _ . : -, got ${JSON.stringify(runId)}`);
  for (const [flag, template] of [['--keys-stock', templates.stock], ['--keys-journal', templates.journal]] as const) {
    const unknown = [...template.matchAll(/<[^<>]*>/g)].map((m) => m[0]).filter((p) => p !== '<run>' && p !== '<sku>');
    if (unknown.length > 0) throw new UsageError(`${flag} ${template}: expected only the placeholders <run> and <sku>, got ${[...new Set(unknown)].join(', ')}`);
    if (!template.includes('<sku>')) throw new UsageError(`${flag} ${template}: expected a key template with <sku> in it, like "shop:inv:{<sku>}"`);
    if (template.includes('<run>') && runId === undefined) {
      const which = (flag === '--keys-stock' ? given.stock : given.journal) ? '' : ' (the default)';
      throw new UsageError(`${flag} ${template}${which}: expected --run-id ID to fill <run> (serve has no run of its own), got no --run-id`, 'give --run-id (the run whose keys the load tool seeds), or --keys-stock and --keys-journal without <run>');
    }
  }
  if (templates.stock === templates.journal) throw new UsageError(`--keys-journal ${templates.journal}: expected a template other than --keys-stock (the stock and the journal are two keys)`);
  // Without --run-id no template has <run> (checked above): nothing to fill it with.
  return new RunKeys(templates, runId ?? '');
}

function parsePort(text: string | undefined): number {
  if (text === undefined) return DEFAULT_SERVE_PORT;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new UsageError(`--port ${text}: expected a port number 0-65535 (0: any free port), got ${JSON.stringify(text)}`);
  return port;
}

/** The connection deductions go through: reconnects for as long as the service runs; while it is down, requests fail at once (503) instead of queueing. */
async function serviceConnection(target: Target): Promise<Redis> {
  const conn = target.admin.duplicate({
    lazyConnect: true,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    commandTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 1000),
  });
  conn.on('error', () => {});
  await conn.connect();
  return conn;
}

export async function serveCommand(options: ServeCommandOptions, io: ServeIO): Promise<number> {
  const port = parsePort(options.port);
  const host = options.host ?? '127.0.0.1';
  const keys = serveKeys(
    { stock: options.keysStock ?? DEFAULT_KEY_TEMPLATES.stock, journal: options.keysJournal ?? DEFAULT_KEY_TEMPLATES.journal },
    options.runId,
    { stock: options.keysStock !== undefined, journal: options.keysJournal !== undefined },
  );
  const script = readAuditScript(options.script ?? DEFAULT_AUDIT_SCRIPT);
  const redis = chooseRedis(options.redis, io.env ?? process.env);
  if (redis.redis === 'cluster') throw new UsageError('--redis cluster: serve talks to one Redis server, not a cluster', 'give --redis redis://host:port, or drop it for a private redis-server');
  const tlsCa = options.tlsCa !== undefined ? readTlsCa(options.tlsCa, redis.redis) : undefined;
  let target: Target | undefined;
  let conn: Redis | undefined;
  let service: SaleService | undefined;
  try {
    target = await openTarget({ redis: redis.redis, ...(tlsCa !== undefined ? { tlsCa } : {}) });
    if (target.topology.cluster) throw new UsageError(`--redis ${target.info.url}: serve talks to one Redis server, and this one is a Redis Cluster node`, 'give a standalone server');
    conn = await serviceConnection(target);
    const loaded = await loadScript(conn, script.source, script.path);
    try {
      service = await startSaleService({ redis: conn, scriptSource: script.source, keys, port, host });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new UsageError(`--port ${port}: expected a free port, got one in use (EADDRINUSE); choose another with --port`);
      if (code === 'EACCES') throw new UsageError(`--port ${port}: expected a port this user may listen on, got EACCES; choose one above 1023 with --port`);
      if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new UsageError(`--host ${host}: expected an address of this machine, got ${code}`);
      throw err;
    }
    io.stderr(`sellout serve: listening on ${service.url} (POST /deduct, GET /healthz), script ${script.path} sha ${loaded.sha.slice(0, 12)}, redis ${target.info.url} (${target.info.kind}${redis.origin !== undefined ? `, ${redis.origin}` : ''})\n`);
    io.stderr(`sellout serve: keys ${keys.stock('<sku>')} and ${keys.journal('<sku>')}; stock is never seeded here (the load tool sets it); Ctrl-C or SIGTERM drains and stops\n`);
    if (!io.signal.aborted) await new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve(), { once: true }));
    const inFlight = service.inFlight();
    await service.close();
    io.stderr(`sellout serve: stopped (${inFlight} request(s) were in flight, every one answered)\n`);
    return 0;
  } finally {
    await service?.close();
    conn?.disconnect();
    await target?.close();
  }
}
