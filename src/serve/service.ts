/**
 * The reference sale service (`sellout serve`, issue 13): `POST /deduct` runs the deduction
 * script once per request and answers with the status its reply means; `GET /healthz` says
 * whether Redis answers. It is the baseline a team compares its own service with, so it does
 * nothing clever: one EVALSHA per request (NOSCRIPT -> SCRIPT LOAD, retried once), no cache, no
 * retry of a deduction, no seeding (the load tool seeds the stock).
 *
 * The HTTP layer is node:http: no framework dependency, keep-alive on, pipelined requests answered
 * in order (node queues the responses of one socket). The plumbing (routing, body limit, strict
 * body validation, drain on close) is `startDeductServer`; the test fixtures of broken services
 * reuse it with a handler of their own, so every service speaks exactly the same API.
 *
 * | status | body                                   | outcome   |
 * | 200    | {"stock": 41}                          | ok        |
 * | 409    | {"error": "OPERATION_ALREADY_EXECUTED"}| duplicate |
 * | 410    | {"error": "INVENTORY_NOT_ENOUGH"}      | sold_out  |
 * | 404    | {"error": "KEY_NOT_FOUND"}             | not_found |
 * | 400    | {"error": "INVALID_QUANTITY"}, or BAD_REQUEST (bad JSON, missing field) | invalid |
 * | 503    | {"error": "REDIS_UNAVAILABLE", ...}    | error     |
 * | 500    | {"error": "<the error's first line>"}  | error     |
 * An unknown path is 404 too, told apart by its body: {"error": "NOT_FOUND"} (see outcome.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ReplyError, type Redis } from 'ioredis';
import { Code, classifyErrorReply } from '../outcomes.js';
import { scriptSha } from '../redis/script.js';

/** A request body larger than this is answered 413 (a deduction is a few dozen bytes). */
export const MAX_BODY_BYTES = 16 * 1024;
export const MAX_SKU_LENGTH = 64;
export const MAX_REQUEST_ID_LENGTH = 128;
const SKU_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** A validated `POST /deduct` body. `quantity` is passed to the script as given (a number as its decimal text): the script judges it. */
export interface DeductRequest {
  readonly sku: string;
  readonly quantity: string;
  readonly requestId: string;
}

export interface DeductResponse {
  readonly status: number;
  readonly body: Readonly<Record<string, unknown>>;
}

/** What a service does with one validated deduction. Throwing is a 500 (a bug in the handler). */
export type DeductHandler = (request: DeductRequest) => Promise<DeductResponse>;

/** How the service names a SKU's two keys: `<run>` is already filled in, the SKU is given per call. */
export interface SaleKeys {
  stock(sku: string): string;
  journal(sku: string): string;
}

export interface SaleService {
  /** `http://host:port` (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, waits for the requests in flight to be answered, then closes every connection. Idempotent. */
  close(): Promise<void>;
  /** Requests received and not yet answered. */
  inFlight(): number;
}

export interface DeductServerOptions {
  readonly handler: DeductHandler;
  /** `GET /healthz`; default 200 {"status": "ok"}. While draining it is always 503 {"status": "draining"}. */
  readonly healthz?: () => Promise<DeductResponse>;
  /** 0 (the default) = a free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Run after the in-flight requests are answered, before close() resolves (a fixture's background work). */
  readonly onDrained?: () => Promise<void>;
}

export interface SaleServiceOptions {
  /** The connection deductions go through. Give it `enableOfflineQueue: false` so a lost Redis answers 503 at once rather than queueing. */
  readonly redis: Redis;
  /** The script's text (the contract of lua/deduct.lua); its SHA-1 is computed here. */
  readonly scriptSource: string;
  readonly keys: SaleKeys;
  readonly port?: number;
  readonly host?: string;
}

/** The reference service: the script once per request, on `redis`. The caller owns `redis` (close() does not disconnect it). */
export async function startSaleService(options: SaleServiceOptions): Promise<SaleService> {
  const run = scriptCaller(options.redis, options.scriptSource);
  return startDeductServer({
    handler: saleHandler(run, options.keys),
    healthz: async () => {
      try {
        await options.redis.ping();
        return { status: 200, body: { status: 'ok' } };
      } catch (err) {
        return errorResponse(err);
      }
    },
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.host !== undefined ? { host: options.host } : {}),
  });
}

/** The script on one connection: EVALSHA; NOSCRIPT (a restart, SCRIPT FLUSH) loads it and retries once. Redis errors are thrown as ioredis gives them. */
export type ScriptCall = (stockKey: string, journalKey: string, quantity: string, requestId: string) => Promise<unknown>;

export function scriptCaller(redis: Redis, source: string): ScriptCall {
  const sha = scriptSha(source);
  // Concurrent NOSCRIPT replies share one SCRIPT LOAD.
  let loading: Promise<unknown> | undefined;
  return async (stockKey, journalKey, quantity, requestId) => {
    try {
      return await redis.evalsha(sha, 2, stockKey, journalKey, quantity, requestId);
    } catch (err) {
      if (!(err instanceof ReplyError) || !(err as Error).message.startsWith('NOSCRIPT')) throw err;
      loading ??= redis.script('LOAD', source).finally(() => { loading = undefined; });
      await loading;
      return await redis.evalsha(sha, 2, stockKey, journalKey, quantity, requestId);
    }
  };
}

/** The reference handler: the script's reply or error, as a response. */
export function saleHandler(run: ScriptCall, keys: SaleKeys): DeductHandler {
  return async (request) => {
    try {
      return stockResponse(await run(keys.stock(request.sku), keys.journal(request.sku), request.quantity, request.requestId));
    } catch (err) {
      return errorResponse(err);
    }
  };
}

/** 200 {"stock": n} for an integer reply; anything else a script replied is a 500 (not the contract). */
export function stockResponse(reply: unknown): DeductResponse {
  const stock = typeof reply === 'number' ? reply : typeof reply === 'string' && /^-?\d+$/.test(reply) ? Number(reply) : Number.NaN;
  if (!Number.isSafeInteger(stock)) return { status: 500, body: { error: 'UNEXPECTED_REPLY', detail: `the script replied ${JSON.stringify(reply)}, expected the new stock as an integer` } };
  return { status: 200, body: { stock } };
}

/** Errors of a connection, not of a command: Redis unavailable (503). */
const UNAVAILABLE_MESSAGE = /Connection is closed|Command timed out|Stream isn't writeable|max retries|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTCONN|EHOSTUNREACH|ENETUNREACH|socket/i;
/** Replies of a server that cannot serve right now (loading a dataset, stuck in a script, failing over): 503 too. */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY)\b/;

/**
 * A failed script call as a response: the script's own errors by their code (409, 410, 404, 400),
 * Redis unreachable or busy 503, anything else 500 with the error's first line.
 * `current value is not a number` (a stock key holding text) is 400 STOCK_NOT_A_NUMBER: outcome
 * invalid, as `run` classifies that reply.
 */
export function errorResponse(err: unknown): DeductResponse {
  const message = err instanceof Error ? err.message : String(err);
  const line = message.split('\n')[0] ?? message;
  if (err instanceof ReplyError) {
    if (UNAVAILABLE_REPLY.test(message)) return { status: 503, body: { error: 'REDIS_UNAVAILABLE', detail: line } };
    switch (classifyErrorReply(message)) {
      case Code.duplicate: return { status: 409, body: { error: 'OPERATION_ALREADY_EXECUTED' } };
      case Code.sold_out: return { status: 410, body: { error: 'INVENTORY_NOT_ENOUGH' } };
      case Code.not_found: return { status: 404, body: { error: 'KEY_NOT_FOUND' } };
      case Code.invalid:
        return message.includes('INVALID_QUANTITY')
          ? { status: 400, body: { error: 'INVALID_QUANTITY' } }
          : { status: 400, body: { error: 'STOCK_NOT_A_NUMBER', detail: line } };
      default: return { status: 500, body: { error: line } };
    }
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (UNAVAILABLE_MESSAGE.test(message) || (typeof code === 'string' && /^E[A-Z]+$/.test(code)) || (err as Error | undefined)?.name === 'MaxRetriesPerRequestError') {
    return { status: 503, body: { error: 'REDIS_UNAVAILABLE', detail: line } };
  }
  return { status: 500, body: { error: line } };
}

/**
 * The body of `POST /deduct`, strictly: a JSON object with `sku` (a string of 1-64 of
 * [A-Za-z0-9_-], or a number written so), `quantity` (a number or a string, passed on as text)
 * and `requestId` (a string of 1-128 characters). A string on failure: what was wrong.
 */
export function parseDeductBody(text: string): DeductRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return `the body is not JSON (${(err as Error).message.split('\n')[0]})`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'expected a JSON object like {"sku": "10010", "quantity": 1, "requestId": "DEC-1-42"}';
  const body = value as Record<string, unknown>;
  const sku = typeof body.sku === 'number' && Number.isFinite(body.sku) ? String(body.sku) : body.sku;
  if (sku === undefined) return 'sku: missing';
  if (typeof sku !== 'string' || !SKU_PATTERN.test(sku)) return `sku: expected 1-${MAX_SKU_LENGTH} characters of A-Z a-z 0-9 _ -, got ${shown(body.sku)}`;
  const quantity = body.quantity;
  if (quantity === undefined) return 'quantity: missing';
  if (typeof quantity !== 'number' && typeof quantity !== 'string') return `quantity: expected a number, got ${shown(quantity)}`;
  const requestId = body.requestId;
  if (requestId === undefined) return 'requestId: missing';
  if (typeof requestId !== 'string' || requestId.length === 0 || requestId.length > MAX_REQUEST_ID_LENGTH) return `requestId: expected a string of 1-${MAX_REQUEST_ID_LENGTH} characters, got ${shown(requestId)}`;
  return { sku, quantity: String(quantity), requestId };
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The HTTP plumbing every service of this API shares (the reference one and the test fixtures). */
export async function startDeductServer(options: DeductServerOptions): Promise<SaleService> {
  const healthz = options.healthz ?? (async () => ({ status: 200, body: { status: 'ok' } }));
  let inFlight = 0;
  let closing = false;
  let whenIdle: (() => void) | undefined;

  // The requests of each connection not yet settled: pipelined ones queue behind each other.
  const pending = new Map<Socket, Set<() => void>>();
  // Of those, the ones not answered yet (answers of one tick are all written before any 'close').
  const unsent = new Map<Socket, number>();

  const send = (res: ServerResponse, response: DeductResponse, headers: Record<string, string> = {}) => {
    if (res.headersSent || res.destroyed) return;
    const socket = res.req.socket;
    const unanswered = (unsent.get(socket) ?? 1) - 1;
    unsent.set(socket, unanswered);
    const text = JSON.stringify(response.body);
    res.writeHead(response.status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
      ...headers,
      // Draining: tell a keep-alive client this connection ends with this answer, once it is the
      // last request received on it (node drops the answers queued behind a `connection: close`).
      ...(closing && unanswered === 0 ? { connection: 'close' } : {}),
    });
    res.end(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const target = req.url ?? '/';
    const query = target.indexOf('?');
    const path = query < 0 ? target : target.slice(0, query);
    if (path === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, { status: 405, body: { error: 'METHOD_NOT_ALLOWED' } }, { allow: 'GET, HEAD' });
      return send(res, closing ? { status: 503, body: { status: 'draining' } } : await healthz());
    }
    if (path !== '/deduct') return send(res, { status: 404, body: { error: 'NOT_FOUND', detail: 'POST /deduct or GET /healthz' } });
    if (req.method !== 'POST') return send(res, { status: 405, body: { error: 'METHOD_NOT_ALLOWED' } }, { allow: 'POST' });
    const text = await readBody(req);
    if (text === undefined) return send(res, { status: 413, body: { error: 'PAYLOAD_TOO_LARGE', detail: `a body of at most ${MAX_BODY_BYTES} bytes` } });
    const request = parseDeductBody(text);
    if (typeof request === 'string') return send(res, { status: 400, body: { error: 'BAD_REQUEST', detail: request } });
    return send(res, await options.handler(request));
  };

  const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    const socket = req.socket;
    inFlight++;
    let settled = false;
    // Answered, or its connection is gone (an answer queued on a closed socket never emits 'close').
    const settle = () => {
      if (settled) return;
      settled = true;
      inFlight--;
      // Never answered (the client went away first): no longer waiting for an answer either.
      if (!res.headersSent && unsent.has(socket)) unsent.set(socket, unsent.get(socket)! - 1);
      const left = pending.get(socket);
      left?.delete(settle);
      if (closing) {
        // Not server.closeIdleConnections(): node counts a connection idle once one answer is
        // sent, even with pipelined requests still queued on it, and would drop their answers.
        if (left?.size === 0) socket.end();
        if (inFlight === 0) whenIdle?.();
      }
    };
    pending.get(socket)?.add(settle);
    unsent.set(socket, (unsent.get(socket) ?? 0) + 1);
    res.once('close', settle);
    handle(req, res).catch((err: unknown) => {
      send(res, { status: 500, body: { error: (err instanceof Error ? err.message : String(err)).split('\n')[0] } });
    });
  });
  server.on('connection', (socket: Socket) => {
    pending.set(socket, new Set());
    socket.once('close', () => {
      const left = pending.get(socket);
      pending.delete(socket);
      unsent.delete(socket);
      for (const settle of left ?? []) settle();
    });
  });
  // Idle keep-alive connections stay open a while (a load tool reuses them between bursts).
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    inFlight: () => inFlight,
    close: () => {
      closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const [socket, left] of pending) if (left.size === 0) socket.end();
        if (inFlight > 0) await new Promise<void>((resolve) => { whenIdle = resolve; });
        // Every request received has its answer: what is left are connections between requests.
        server.closeAllConnections();
        await stopped;
        await options.onDrained?.();
      })();
      return closed;
    },
  };
}

/** The body as text, or undefined when it is larger than MAX_BODY_BYTES (what is left of it is discarded by node). */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.off('data', onData);
        req.resume();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}
