/**
 * The hot path's Redis client: a minimal pipelined RESP2 connection that sends only the deduction
 * (EVALSHA sha 2 stock journal qty id: 7 arguments) and reads integer / error replies.
 *
 * Why not ioredis here: a plain ioredis loop costs 17-23 us of CPU per deduction (a promise, a
 * Command object, argument strings and a parsed reply object per request); this one costs a few
 * hundred nanoseconds because
 *  - the bytes of `*7 EVALSHA sha 2 stockKey journalKey` are encoded once per SKU, and a request
 *    writes only its quantity and the digits of its index into a slab buffer (no string building);
 *  - writes are batched: requests accumulate in the slab and go out in one socket.write per event
 *    handler (the owner calls `Flusher.flush()`), like a pipeline;
 *  - replies are scanned in place: integers are parsed from the bytes, error lines are matched
 *    against a small cache of lines already seen, and nothing is allocated per reply;
 *  - what a pending request needs at reply time lives in typed-array rings, and the reply is
 *    handed to one `ReplyHandler` callback: no promise, no closure per request.
 * ioredis stays for admin work, seeding and verification.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Code, type OutcomeCode } from '../outcomes.js';
import { ErrorReplies, type ErrorReplyEntry } from './error-replies.js';
import { reconnect } from './reconnect.js';
import { requestIdPrefix, type RunKeys } from '../keys.js';
import type { RedisEndpoint } from '../redis/url.js';

export interface ReplyHandler {
  /**
   * One reply (or an `unknown` outcome when the connection failed with the request in flight).
   * `value` is the integer reply for ok, NaN otherwise. Times are microseconds since t0.
   */
  onReply(
    conn: LoadConnection, index: number, twin: number, sku: number, quantity: number,
    code: OutcomeCode, value: number, intendedUs: number, sentUs: number, repliedUs: number,
    extra?: boolean,
  ): void;
  /**
   * Cluster mode: a deduction was answered with a redirect (MOVED, ASK, TRYAGAIN, CLUSTERDOWN:
   * `entry.redirect`), so it did not run; the handler resends it (router.ts). `extra`: it was
   * itself a resend, holding no slot of its connection (its reply then carries `extra` too).
   */
  onRedirect(
    conn: LoadConnection, entry: ErrorReplyEntry, index: number, twin: number, sku: number, quantity: number,
    intendedUs: number, sentUs: number, nowUs: number, extra: boolean,
  ): void;
  /**
   * The connection is gone (after its pending requests were reported as unknown). `reconnecting`:
   * sellout closed it itself (a request outlived timeoutMs) and is opening it again; `onReconnected`
   * or a second `onClosed` (reconnecting false) follows.
   */
  onClosed(conn: LoadConnection, reason: string, reconnecting: boolean): void;
  onReconnected(conn: LoadConnection): void;
  /**
   * A deduction was refused by the server itself (OOM, NOPERM, BUSY, …), called before its
   * onReply, so an executor can stop sending before the reply would make it send again. Also
   * called when the SCRIPT LOAD after a NOSCRIPT is refused (no onReply of its own follows: the
   * deductions resent behind it are answered NOSCRIPT, an error outcome).
   */
  onRefused(conn: LoadConnection, entry: ErrorReplyEntry): void;
}

/**
 * What the executors, the router and the worker use of a load connection: the RESP client below
 * (a deduction is an EVALSHA) or the HTTP one (http-client.ts: a deduction is a request to the
 * sale service). Both queue requests, write them at the next flush, answer in order through one
 * ReplyHandler, and turn what was in flight into `unknown` outcomes when the connection fails.
 */
export interface LoadConnection {
  readonly id: number;
  readonly shard: number;
  inFlight: number;
  alive: boolean;
  idle: number;
  restarting: boolean;
  reconnects: number;
  readonly slabBytes: number;
  connect(): Promise<void>;
  send(index: number, twin: number, sku: number, quantity: number, intendedUs: number, sentUs: number, extra?: boolean): void;
  sendAsking(index: number, twin: number, sku: number, quantity: number, intendedUs: number, sentUs: number): void;
  flushNow(): void;
  close(reason?: string): void;
  restart(reason: string): Promise<boolean>;
  retarget(endpoint: RedisEndpoint, reason: string): void;
  oldestSentUs(): number;
  beginWarmUp(stockKey: string, journalKey: string, handler: ReplyHandler): void;
  endWarmUp(): void;
}

/** Collects connections with buffered writes, so one event handler ends with one write per socket. */
export class Flusher {
  // Two lists used in turn (a flush may mark connections again): no allocation per flush, which
  // on the hot path would feed the garbage collector's pauses.
  private dirty: LoadConnection[] = [];
  private spare: LoadConnection[] = [];
  mark(conn: LoadConnection): void {
    this.dirty.push(conn);
  }
  flush(): void {
    const list = this.dirty;
    if (list.length === 0) return;
    this.dirty = this.spare;
    for (let i = 0; i < list.length; i++) list[i]!.flushNow();
    list.length = 0;
    this.spare = list;
  }
}

export interface DeductClientOptions {
  readonly endpoint: RedisEndpoint;
  /** The run's key names (scenario `keys:`). */
  readonly keys: RunKeys;
  readonly seed: number;
  /** The shard this connection serves (0 on a standalone server). */
  readonly shard?: number;
  /** Cluster mode: redirect replies go to the handler's onRedirect instead of counting as refusals. */
  readonly cluster?: boolean;
  readonly scriptSha: string;
  readonly scriptSource: string;
  readonly connectTimeoutMs?: number;
  /**
   * How long a connection the server closed keeps trying to reconnect (like a client library
   * would) before it is given up; its requests in flight are unknown outcomes either way.
   */
  readonly reconnectWindowMs?: number;
  /** The error replies of this connection's worker, shared by its connections. */
  readonly errors?: ErrorReplies;
  /**
   * The encoded command prefix per SKU, shared by the worker's connections: one per connection
   * was 16 copies of a 100,000-SKU table, built one request at a time during the load.
   */
  readonly skuPrefixes?: (Buffer | undefined)[];
  /** CLIENT SETNAME sent in the setup, so a client-kill fault can find the run's load connections. */
  readonly clientName?: string;
  /**
   * Opens the byte stream to the server (default: a TCP or TLS socket to `endpoint`). A seam for
   * the parser's tests, which hand replies to the client split exactly where they want.
   */
  readonly openSocket?: (endpoint: RedisEndpoint) => Socket;
}

const CRLF = Buffer.from('\r\n');
/**
 * Output slab: starts small and doubles while a connection needs more (a deep pipeline), so
 * 10,000 mostly idle connections do not cost 256 KiB each.
 */
const SLAB_MIN = 4 * 1024;
const SLAB_MAX_KEPT = 256 * 1024;
/** Room a request needs after its SKU prefix: `$N\r\n` + 15 digits + `\r\n$N\r\n` + ID prefix + 10 digits + `\r\n`. */
const REQUEST_TAIL_MAX = 64;

// What a pending ring entry is (`kind & KIND_MASK`).
const KIND_DEDUCT = 0;
const KIND_INTERNAL = 1; // the setup's commands, SCRIPT LOAD
const KIND_RETRY = 2; // a deduction resent after NOSCRIPT: a second NOSCRIPT is an error
const KIND_ASKING = 3; // the ASKING before a deduction resent after an ASK redirect
const KIND_MASK = 7;
/** Flag on a deduction resent after a redirect: it holds no slot of its connection. */
const EXTRA = 8;

const enum Parse { Incomplete = -1 }

export class DeductClient implements LoadConnection {
  /** Position among its worker's connections (executors use it). */
  readonly id: number;
  /** The shard it serves (router.ts): 0 on a standalone server. */
  readonly shard: number;
  /** Requests written and not yet answered. */
  inFlight = 0;
  alive = false;
  /** Idle slots (closed model bookkeeping, owned by the executor). */
  idle = 0;
  /** Being reopened by `restart()` (not alive, not lost). */
  restarting = false;
  /** Times this connection was reopened (after a timeout or a close by the server). */
  reconnects = 0;

  private socket: Socket | undefined;
  private readonly options: DeductClientOptions;
  /** Where it connects: `options.endpoint` until a failover moves the primary (retarget). */
  private endpoint: RedisEndpoint;
  private handler: ReplyHandler;
  private readonly flusher: Flusher;
  private readonly shaBytes: Buffer;
  private readonly idPrefix: Buffer;
  /** Encoded `EVALSHA sha 2 stock journal` per SKU, shared by the worker's connections (see options). */
  private readonly skuPrefixes: (Buffer | undefined)[];
  private readonly now: () => number;

  // Output slab: requests are appended at `pos`; bytes from `start` to `pos` are not yet written.
  private slab: Buffer = Buffer.allocUnsafeSlow(SLAB_MIN);
  private start = 0;
  private pos = 0;
  private dirty = false;

  // Pending ring (FIFO: Redis answers in order).
  private cap = 64;
  private head = 0;
  private count = 0;
  private rIndex = new Uint32Array(64);
  private rSku = new Uint32Array(64);
  private rQty = new Uint32Array(64);
  private rKind = new Uint8Array(64);
  private rTwin = new Uint8Array(64);
  private rIntended = new Float64Array(64);
  private rSent = new Float64Array(64);

  // Reply parsing. The bytes of a reply cut off by the end of a chunk are carried over to the next
  // one. A big reply arrives in many chunks: they are collected in a list and joined once the reply
  // can be complete (`carryNeed` bytes, or for a cut line a chunk holding its line feed), never
  // re-concatenated on every chunk. An array reply (an error outcome: its contents are not kept)
  // is skipped element by element as it arrives: `skipLeft` holds the elements left at each open
  // level, and only an element cut off is carried.
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private carryNeed = 0;
  private skipLeft: number[] = [];
  /** Where the reply (or array element) an Incomplete parse stopped at starts. */
  private cutAt = 0;
  private readonly errors: ErrorReplies;
  private scriptLoadPending = false;
  /** sellout closed this connection for good: no reconnect. */
  private closing = false;
  private handshake: ((err?: Error) => void) | undefined;
  private handshakeLeft = 0;
  /** Why the socket a reconnect had just opened was dropped again (see `lost`). */
  private lostWhileRestarting: string | undefined;

  constructor(id: number, options: DeductClientOptions, handler: ReplyHandler, flusher: Flusher, now: () => number) {
    this.id = id;
    this.shard = options.shard ?? 0;
    this.options = options;
    this.endpoint = options.endpoint;
    this.handler = handler;
    this.flusher = flusher;
    this.now = now;
    this.shaBytes = Buffer.from(options.scriptSha, 'latin1');
    this.idPrefix = Buffer.from(requestIdPrefix(options.seed), 'latin1');
    this.errors = options.errors ?? new ErrorReplies();
    this.skuPrefixes = options.skuPrefixes ?? [];
  }

  /**
   * Opens the socket, sends AUTH / SELECT when the endpoint has them and a PING, and resolves once
   * all of them are answered: a server that accepts the TCP connection but refuses the client
   * (`ERR max number of clients reached`, a wrong password, a database out of range) rejects
   * here, with the server's own words, instead of failing the first deduction.
   */
  connect(): Promise<void> {
    const endpoint = this.endpoint;
    const timeoutMs = this.options.connectTimeoutMs ?? 3000;
    this.closing = false;
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.handshake = undefined;
        if (err) {
          // Forget the socket before destroying it: its close event must not report a second
          // close of a connection that never opened (restart() reports the failure once).
          if (this.socket === socket) this.socket = undefined;
          this.dropPending();
          socket.destroy();
          reject(err);
        } else {
          this.alive = true;
          resolve();
        }
      };
      const timer = setTimeout(() => done(new Error(`no answer to the connection setup within ${timeoutMs} ms`)), timeoutMs);
      // Plain TCP reads into one buffer per thread (net's `onread`), not a fresh buffer per read:
      // at one reply per read that allocation fed the garbage collector's pauses, the tail of a
      // 1x1 run. Every byte kept past a read is copied (carry, error texts).
      const onChunk = (chunk: Buffer, shared = false) => { if (this.socket === socket) this.onData(chunk, shared); };
      const socket = this.options.openSocket !== undefined ? this.options.openSocket(endpoint) : openSocket(endpoint, onChunk);
      this.socket = socket;
      this.resetOutput();
      this.resetInput();
      socket.setNoDelay(true);
      // Events of a socket this client already dropped (before a reconnect) must not touch the new one.
      socket.on('data', (chunk: Buffer) => onChunk(chunk));
      socket.on('error', (err) => {
        if (!settled) done(err);
        else if (this.socket === socket) this.lost(`connection error: ${err.message}`);
      });
      socket.on('close', () => {
        if (!settled) done(new Error('the server closed the connection during setup'));
        else if (this.socket === socket) this.lost('connection closed by the server');
      });
      socket.once(endpoint.tls ? 'secureConnect' : 'connect', () => {
        const commands: string[][] = [];
        if (endpoint.password !== undefined) {
          commands.push(endpoint.username !== undefined ? ['AUTH', endpoint.username, endpoint.password] : ['AUTH', endpoint.password]);
        }
        if (endpoint.db !== 0) commands.push(['SELECT', String(endpoint.db)]);
        if (this.options.clientName !== undefined) commands.push(['CLIENT', 'SETNAME', this.options.clientName]);
        commands.push(['PING']);
        this.handshake = done;
        this.handshakeLeft = commands.length;
        for (const command of commands) this.sendInternal(command);
        this.flushNow();
      });
    });
  }

  /** Queues one deduction (written at the next flush). `extra`: a resend after a redirect (see onRedirect). */
  send(index: number, twin: number, sku: number, quantity: number, intendedUs: number, sentUs: number, extra = false): void {
    this.push(extra ? KIND_DEDUCT | EXTRA : KIND_DEDUCT, index, twin, sku, quantity, intendedUs, sentUs);
    this.encode(sku, quantity, index);
  }

  /** Resends a deduction after an ASK redirect: `ASKING` then the deduction, on this connection. */
  sendAsking(index: number, twin: number, sku: number, quantity: number, intendedUs: number, sentUs: number): void {
    this.sendInternal(['ASKING'], KIND_ASKING);
    this.send(index, twin, sku, quantity, intendedUs, sentUs, true);
  }

  /** Writes everything buffered in one socket.write. */
  flushNow(): void {
    this.dirty = false;
    if (this.pos === this.start || this.socket === undefined) return;
    // The slab region handed to write() is never touched again: new requests go after it, and a
    // fresh slab is taken when this one is full (the old one is freed once written).
    this.socket.write(this.slab.subarray(this.start, this.pos));
    this.start = this.pos;
  }

  /**
   * Closes the socket for good (no reconnect); requests still in flight become `unknown`. The
   * handler hears of those replies but not of the close itself (sellout's own doing, not a
   * connection failure), and nothing after it.
   */
  close(reason = 'closed by sellout'): void {
    this.closing = true;
    this.fail(reason);
  }

  /**
   * Drops the connection and opens it again, the way a client library does: after a request
   * outlived timeoutMs (with a pipeline nothing behind it can come back either), or after the
   * server closed it (a server `timeout`, CLIENT KILL, a restart). Its requests in flight become
   * `unknown`. Reconnecting is retried with a growing pause for `reconnectWindowMs`. Resolves
   * true when it is back, false when it could not be (then `onClosed(…, false)` was called once).
   */
  async restart(reason: string): Promise<boolean> {
    if (this.restarting || this.closing) return false;
    // Marked before fail(): its unknown replies must not let the executor finish the run.
    this.restarting = true;
    this.fail(reason, true);
    this.scriptLoadPending = false;
    const { back, lastError } = await reconnect(async () => {
      this.lostWhileRestarting = undefined;
      await this.connect();
      return this.socket !== undefined ? undefined : this.lostWhileRestarting ?? 'the connection was lost right after its setup';
    }, this.options.reconnectWindowMs ?? 2000, () => this.closing);
    this.restarting = false;
    if (back && !this.closing) {
      this.reconnects++;
      this.handler.onReconnected(this);
      return true;
    }
    if (back) this.fail('closed by sellout');
    this.handler.onClosed(this, lastError ? `${reason}; reconnecting failed: ${lastError}` : reason, false);
    return false;
  }

  /** The primary moved (a failover): reconnect there; requests in flight become unknown. */
  retarget(endpoint: RedisEndpoint, reason: string): void {
    this.endpoint = endpoint;
    if (this.closing) return;
    if (this.restarting) return; // its next attempt goes to the new endpoint
    void this.restart(reason);
  }

  /**
   * Points this connection's deductions at other keys (the warm-up's, outside the run: see
   * load/warm-up.ts) and its replies at another handler, until `endWarmUp`. The whole hot path
   * (encoding, parsing, the executor, the recorder) then runs before t0 exactly as it will after.
   */
  beginWarmUp(stockKey: string, journalKey: string, handler: ReplyHandler): void {
    this.warmPrefix = this.commandPrefix(stockKey, journalKey);
    this.runHandler = this.handler;
    this.handler = handler;
  }

  /** Back to the run's keys and handler; a warm-up request still in flight reopens the connection. */
  endWarmUp(): void {
    if (this.runHandler === undefined) return;
    // A warm-up reply must not reach the run's handler: drop what is pending with the socket.
    if (this.count > 0 && this.alive) void this.restart('warm-up requests still in flight at t0');
    this.warmPrefix = undefined;
    if (this.handler !== DETACHED) this.handler = this.runHandler;
    this.runHandler = undefined;
  }

  private warmPrefix: Buffer | undefined;
  private runHandler: ReplyHandler | undefined;

  /** Bytes of the output slab this connection holds now (4 KiB while idle; more while it pipelines deeply). */
  get slabBytes(): number {
    return this.slab.length;
  }

  /** Send time of the oldest request in flight, or NaN. */
  oldestSentUs(): number {
    return this.count === 0 ? NaN : this.rSent[this.head]!;
  }

  // ---- encoding -------------------------------------------------------------------------------

  private skuPrefix(sku: number): Buffer {
    let prefix = this.skuPrefixes[sku];
    if (prefix === undefined) {
      const { keys } = this.options;
      prefix = this.commandPrefix(keys.stock(sku), keys.journal(sku));
      this.skuPrefixes[sku] = prefix;
    }
    return prefix;
  }

  /** The bytes of `EVALSHA sha 2 <stock> <journal>`, to which a request appends its quantity and ID. */
  private commandPrefix(stock: string, journal: string): Buffer {
    const stockBytes = Buffer.from(stock, 'latin1');
    const journalBytes = Buffer.from(journal, 'latin1');
    return Buffer.concat([
      Buffer.from(`*7\r\n$7\r\nEVALSHA\r\n$${this.shaBytes.length}\r\n`, 'latin1'), this.shaBytes, CRLF,
      Buffer.from(`$1\r\n2\r\n$${stockBytes.length}\r\n`, 'latin1'), stockBytes, CRLF,
      Buffer.from(`$${journalBytes.length}\r\n`, 'latin1'), journalBytes, CRLF,
    ]);
  }

  private reserve(bytes: number): void {
    if (this.pos + bytes > this.slab.length) {
      // Unwritten bytes move to the new slab; the old slab stays referenced by pending writes only.
      const pendingBytes = this.pos - this.start;
      // A connection that fills its slab gets a bigger one (up to SLAB_MAX_KEPT, or what one batch needs).
      const next = Buffer.allocUnsafeSlow(Math.max(Math.min(this.slab.length * 2, SLAB_MAX_KEPT), (pendingBytes + bytes) * 2));
      this.slab.copy(next, 0, this.start, this.pos);
      this.slab = next;
      this.start = 0;
      this.pos = pendingBytes;
    }
  }

  private encode(sku: number, quantity: number, index: number): void {
    this.encodeWith(this.warmPrefix ?? this.skuPrefix(sku), quantity, index);
  }

  private encodeWith(prefix: Buffer, quantity: number, index: number): void {
    const idPrefix = this.idPrefix;
    this.reserve(prefix.length + idPrefix.length + REQUEST_TAIL_MAX);
    const slab = this.slab;
    let p = this.pos;
    slab.set(prefix, p);
    p += prefix.length;
    // $<len(qty)>\r\n<qty>\r\n
    const qLen = digitCount(quantity);
    slab[p++] = 36; // '$'
    p = writeDigits(slab, p, qLen, digitCount(qLen));
    slab[p++] = 13; slab[p++] = 10;
    p = writeDigits(slab, p, quantity, qLen);
    slab[p++] = 13; slab[p++] = 10;
    // $<len(id)>\r\n<prefix><index>\r\n
    const iLen = digitCount(index);
    const idLen = idPrefix.length + iLen;
    slab[p++] = 36;
    p = writeDigits(slab, p, idLen, digitCount(idLen));
    slab[p++] = 13; slab[p++] = 10;
    slab.set(idPrefix, p);
    p += idPrefix.length;
    p = writeDigits(slab, p, index, iLen);
    slab[p++] = 13; slab[p++] = 10;
    this.pos = p;
    if (!this.dirty) {
      this.dirty = true;
      this.flusher.mark(this);
    }
  }

  private sendInternal(args: readonly string[], kind = KIND_INTERNAL): void {
    let text = `*${args.length}\r\n`;
    for (const arg of args) text += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
    const bytes = Buffer.from(text, 'utf8');
    this.reserve(bytes.length);
    this.slab.set(bytes, this.pos);
    this.pos += bytes.length;
    // Stamped now: the worker's timeout check reads the oldest entry's send time, SCRIPT LOAD included.
    this.push(kind, 0, 0, 0, 0, 0, this.now());
    if (!this.dirty) {
      this.dirty = true;
      this.flusher.mark(this);
    }
  }

  // ---- pending ring ---------------------------------------------------------------------------

  private push(kind: number, index: number, twin: number, sku: number, qty: number, intendedUs: number, sentUs: number): void {
    if (this.count === this.cap) this.grow();
    const at = (this.head + this.count) & (this.cap - 1);
    this.rKind[at] = kind;
    this.rIndex[at] = index;
    this.rTwin[at] = twin;
    this.rSku[at] = sku;
    this.rQty[at] = qty;
    this.rIntended[at] = intendedUs;
    this.rSent[at] = sentUs;
    this.count++;
    if (isDeduction(kind)) this.inFlight++;
  }

  private grow(): void {
    const cap = this.cap * 2;
    const take = <T extends Uint32Array | Uint8Array | Float64Array>(old: T): T => {
      const next = new (old.constructor as new (n: number) => T)(cap);
      for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) & (this.cap - 1)]!;
      return next;
    };
    this.rKind = take(this.rKind);
    this.rIndex = take(this.rIndex);
    this.rTwin = take(this.rTwin);
    this.rSku = take(this.rSku);
    this.rQty = take(this.rQty);
    this.rIntended = take(this.rIntended);
    this.rSent = take(this.rSent);
    this.head = 0;
    this.cap = cap;
  }

  /** Pops the oldest pending entry and reports its reply; `entry` is set for an error reply. */
  private complete(code: OutcomeCode, value: number, nowUs: number, entry: ErrorReplyEntry | undefined): void {
    if (this.count === 0) {
      // A reply nobody asked for: the stream is out of step, so nothing after it can be trusted.
      this.protocolError('a reply arrived with no request in flight');
      return;
    }
    const at = this.head;
    const kind = this.rKind[at]!;
    this.head = (at + 1) & (this.cap - 1);
    this.count--;
    // The ASKING before a resend: its OK means nothing, and an error shows in the deduction's reply.
    if ((kind & KIND_MASK) === KIND_ASKING) return;
    if (kind === KIND_INTERNAL) {
      if (this.handshake !== undefined) {
        if (entry !== undefined) this.handshake(new Error(`Redis refused the connection: ${entry.text}`));
        else if (--this.handshakeLeft === 0) this.handshake();
      } else {
        // SCRIPT LOAD answered. Refused (a user without +script|load, OOM, …), the resends behind
        // it get NOSCRIPT again: say why, as for a refused deduction (the run names the target).
        this.scriptLoadPending = false;
        if (entry?.refusal !== undefined) this.handler.onRefused(this, entry);
      }
      return;
    }
    const extra = (kind & EXTRA) !== 0;
    if (entry !== undefined) {
      if (entry.redirect !== undefined && this.options.cluster === true) {
        // Not run where it was sent: the handler resends it where the cluster says (router.ts).
        this.inFlight--;
        this.handler.onRedirect(this, entry, this.rIndex[at]!, this.rTwin[at]!, this.rSku[at]!, this.rQty[at]!, this.rIntended[at]!, this.rSent[at]!, nowUs, extra);
        return;
      }
      if (entry.noscript && (kind & KIND_MASK) === KIND_DEDUCT) {
        // The server lost its script cache (restart, failover, SCRIPT FLUSH): load the script once,
        // then resend this deduction after it, in order. Requests already pipelined behind this one
        // will also get NOSCRIPT and come here; they reuse the same SCRIPT LOAD.
        this.inFlight--;
        if (!this.scriptLoadPending) {
          this.scriptLoadPending = true;
          this.sendInternal(['SCRIPT', 'LOAD', this.options.scriptSource]);
        }
        const index = this.rIndex[at]!, sku = this.rSku[at]!, qty = this.rQty[at]!;
        this.push(KIND_RETRY | (kind & EXTRA), index, this.rTwin[at]!, sku, qty, this.rIntended[at]!, this.rSent[at]!);
        this.encode(sku, qty, index);
        return;
      }
      // Warm-up replies are not the run's: not counted in its error replies.
      if (this.warmPrefix === undefined) this.errors.count(entry);
      if (entry.refusal !== undefined) this.handler.onRefused(this, entry);
    }
    this.inFlight--;
    this.handler.onReply(this, this.rIndex[at]!, this.rTwin[at]!, this.rSku[at]!, this.rQty[at]!, code, value, this.rIntended[at]!, this.rSent[at]!, nowUs, extra);
  }

  /** The server or the network ended the connection: reopen it (unless sellout is closing it). */
  private lost(reason: string): void {
    if (this.closing) return;
    if (this.restarting) {
      // The socket restart() has just opened (its setup answered, restart() not yet resumed) is
      // unusable already: drop it, and restart() counts the attempt as failed and tries again.
      const socket = this.socket;
      this.socket = undefined;
      this.alive = false;
      this.lostWhileRestarting = reason;
      socket?.destroy();
      this.resetInput();
      return;
    }
    void this.restart(reason);
  }

  /** The byte stream is not a RESP2 reply stream in step with the requests: fail the setup, or reopen. */
  private protocolError(what: string): void {
    if (this.handshake !== undefined) this.handshake(new Error(`protocol error during the connection setup: ${what}`));
    else this.lost(`protocol error: ${what}`);
  }

  private fail(reason: string, reconnecting = false): void {
    const wasAlive = this.alive || this.socket !== undefined;
    this.alive = false;
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
    this.resetInput();
    if (!wasAlive) {
      if (this.closing) this.handler = DETACHED;
      return;
    }
    // Every request still in flight may or may not have run: unknown, never silently dropped.
    const nowUs = this.now();
    while (this.count > 0) {
      const at = this.head;
      const kind = this.rKind[at]!;
      this.head = (at + 1) & (this.cap - 1);
      this.count--;
      if (!isDeduction(kind)) continue;
      this.inFlight--;
      this.handler.onReply(this, this.rIndex[at]!, this.rTwin[at]!, this.rSku[at]!, this.rQty[at]!, Code.unknown, NaN, this.rIntended[at]!, this.rSent[at]!, nowUs, (kind & EXTRA) !== 0);
    }
    this.resetOutput();
    // A close sellout asked for is not a connection failure: only its unknown replies are reported.
    if (!this.closing) this.handler.onClosed(this, reason, reconnecting);
    else this.handler = DETACHED;
    this.flusher.flush();
  }

  /** Forgets requests queued for a socket that never opened (a failed handshake leaves only its own). */
  private dropPending(): void {
    while (this.count > 0) {
      const at = this.head;
      if (isDeduction(this.rKind[at]!)) this.inFlight--;
      this.head = (at + 1) & (this.cap - 1);
      this.count--;
    }
    this.resetOutput();
  }

  /**
   * Unwritten bytes belong to the socket that is gone; a new socket starts with an empty slab of
   * the smallest size: a deep pipeline grows it again in a few doublings, while a connection that
   * stays idle after a reconnect does not keep a big one.
   */
  private resetOutput(): void {
    this.start = this.pos = 0;
    this.dirty = false;
    if (this.slab.length > SLAB_MIN) this.slab = Buffer.allocUnsafeSlow(SLAB_MIN);
  }

  /** A new socket starts reading at a reply boundary: nothing of the old one's stream is kept. */
  private resetInput(): void {
    if (this.carryBytes > 0) this.carry = [];
    this.carryBytes = this.carryNeed = 0;
    if (this.skipLeft.length > 0) this.skipLeft = [];
  }

  // ---- reply parsing --------------------------------------------------------------------------

  /** `shared`: the chunk is a view of the thread's read buffer, which the next read reuses. */
  private onData(chunk: Buffer, shared = false): void {
    let buf = chunk;
    if (this.carryBytes > 0) {
      // Part of a reply is waiting: collect chunks until it can be complete, then join once.
      this.carry.push(shared ? Buffer.from(chunk) : chunk);
      this.carryBytes += chunk.length;
      if (this.carryNeed === NEED_LINE_END ? chunk.indexOf(10) < 0 : this.carryBytes < this.carryNeed) return;
      buf = Buffer.concat(this.carry, this.carryBytes);
      this.carry = [];
      this.carryBytes = this.carryNeed = 0;
    }
    const nowUs = this.now();
    const end = buf.length;
    // A reply can make this client drop its socket and open another one (a protocol error):
    // what is left of this chunk belongs to the old socket and is not parsed.
    const socket = this.socket;
    let p = 0;
    while (p < end && this.socket === socket && socket !== undefined) {
      const next = this.skipLeft.length > 0 ? this.skipArray(buf, p, end, nowUs) : this.parseOne(buf, p, end, nowUs);
      if (next === Parse.Incomplete) {
        if (this.cutAt < end) {
          const rest = Buffer.from(buf.subarray(this.cutAt, end));
          this.carry = [rest];
          this.carryBytes = rest.length;
          this.carryNeed = bytesNeeded(rest);
        }
        break;
      }
      p = next;
    }
    this.flusher.flush();
  }

  /** Parses one reply at p; returns the position after it, or Incomplete (with `cutAt` set). */
  private parseOne(buf: Buffer, p: number, end: number, nowUs: number): number {
    const type = buf[p]!;
    if (type === 58 /* ':' */) {
      let q = p + 1;
      let negative = false;
      if (buf[q] === 45) { negative = true; q++; }
      let value = 0;
      for (;;) {
        if (q >= end) { this.cutAt = p; return Parse.Incomplete; }
        const c = buf[q]!;
        if (c === 13) break;
        value = value * 10 + (c - 48);
        q++;
      }
      if (q + 1 >= end) { this.cutAt = p; return Parse.Incomplete; }
      this.complete(Code.ok, negative ? -value : value, nowUs, undefined);
      return q + 2;
    }
    if (type !== 45 && type !== 43 && type !== 36 && type !== 42) {
      // Not a RESP2 reply: the stream is out of step, or not Redis. The type byte alone says so.
      this.protocolError(`unexpected reply type byte ${describeByte(type)}`);
      return end;
    }
    const lineEnd = findCr(buf, p + 1, end);
    if (lineEnd < 0 || lineEnd + 1 >= end) { this.cutAt = p; return Parse.Incomplete; }
    if (type === 45 /* '-' */) {
      const entry = this.errors.lookup(buf, p + 1, lineEnd);
      this.complete(entry.code, NaN, nowUs, entry);
      return lineEnd + 2;
    }
    if (type === 43 /* '+' */) {
      // Simple string: OK / PONG to the setup; to a deduction it breaks the contract (an error outcome).
      this.complete(Code.error, NaN, nowUs, undefined);
      return lineEnd + 2;
    }
    if (type === 36 /* '$' */) {
      const len = parseIntAt(buf, p + 1, lineEnd);
      if (len < 0) {
        this.complete(Code.error, NaN, nowUs, undefined);
        return lineEnd + 2;
      }
      const after = lineEnd + 2 + len + 2;
      if (after > end) { this.cutAt = p; return Parse.Incomplete; }
      // SCRIPT LOAD answers the SHA as a bulk string; a script may answer its stock as one too.
      const value = len <= 20 ? integerText(buf, lineEnd + 2, lineEnd + 2 + len) : NaN;
      this.complete(value === value ? Code.ok : Code.error, value, nowUs, undefined);
      return after;
    }
    // '*': an array breaks the contract (an error outcome); skip it as its elements arrive.
    const n = parseIntAt(buf, p + 1, lineEnd);
    if (n <= 0) {
      this.complete(Code.error, NaN, nowUs, undefined);
      return lineEnd + 2;
    }
    this.skipLeft.push(n);
    return this.skipArray(buf, lineEnd + 2, end, nowUs);
  }

  /**
   * Skips the elements of the array reply being read (`skipLeft`: elements left per open level)
   * and completes it after the last one; Incomplete (with `cutAt` at the element cut off) when the
   * chunk ends first. Nothing of an element is kept once it is skipped.
   */
  private skipArray(buf: Buffer, p: number, end: number, nowUs: number): number {
    const left = this.skipLeft;
    while (left.length > 0) {
      const top = left.length - 1;
      if (left[top] === 0) {
        left.pop();
        continue;
      }
      const lineEnd = p < end ? findCr(buf, p + 1, end) : -1;
      if (lineEnd < 0 || lineEnd + 1 >= end) { this.cutAt = p; return Parse.Incomplete; }
      const type = buf[p];
      let next = lineEnd + 2;
      if (type === 36 /* '$' */) {
        const len = parseIntAt(buf, p + 1, lineEnd);
        if (len >= 0) next += len + 2;
        if (next > end) { this.cutAt = p; return Parse.Incomplete; }
      }
      left[top]!--;
      if (type === 42 /* '*' */) {
        const n = parseIntAt(buf, p + 1, lineEnd);
        if (n > 0) left.push(n);
      }
      p = next;
    }
    this.complete(Code.error, NaN, nowUs, undefined);
    return p;
  }
}

/** The read buffer of this thread's plain TCP connections (one thread reads one chunk at a time). */
let readBuffer: Buffer | undefined;

function openSocket(endpoint: RedisEndpoint, onChunk: (chunk: Buffer, shared: boolean) => void): Socket {
  if (!endpoint.tls) {
    readBuffer ??= Buffer.allocUnsafeSlow(64 * 1024);
    return netConnect({
      host: endpoint.host,
      port: endpoint.port,
      onread: { buffer: readBuffer, callback: (bytes: number, buf: Uint8Array) => { onChunk((buf as Buffer).subarray(0, bytes), true); return true; } },
    });
  }
  return tlsConnect({
    host: endpoint.host,
    port: endpoint.port,
    ...(isIP(endpoint.host) ? {} : { servername: endpoint.host }),
    ...(endpoint.ca !== undefined ? { ca: endpoint.ca } : {}),
  });
}

/** A handler for a connection sellout closed for good: late events of it go nowhere. */
const DETACHED: ReplyHandler = { onReply() {}, onRedirect() {}, onClosed() {}, onReconnected() {}, onRefused() {} };

/** A pending entry that is a deduction (counted in flight, reported to the handler), not a command of sellout's own. */
function isDeduction(kind: number): boolean {
  const base = kind & KIND_MASK;
  return base === KIND_DEDUCT || base === KIND_RETRY;
}

/** `carryNeed` of a cut line: the next chunk holding a line feed (LF), wherever it is. */
const NEED_LINE_END = -1;

/**
 * What the reply (or array element) cut off at the start of `rest` waits for before parsing it
 * again is worth it: the exact size of a bulk string whose header arrived (a big reply is joined
 * once, not on every chunk), else the line feed that ends its cut line (`NEED_LINE_END`).
 */
export function bytesNeeded(rest: Buffer): number {
  if (rest[0] === 36) {
    const lineEnd = findCr(rest, 1, rest.length);
    if (lineEnd > 0 && lineEnd + 1 < rest.length) {
      const len = parseIntAt(rest, 1, lineEnd);
      if (len >= 0) return lineEnd + 2 + len + 2;
    }
  }
  return NEED_LINE_END;
}

function findCr(buf: Buffer, from: number, end: number): number {
  for (let i = from; i < end; i++) if (buf[i] === 13) return i;
  return -1;
}

function parseIntAt(buf: Buffer, from: number, to: number): number {
  let negative = false;
  let p = from;
  if (buf[p] === 45) { negative = true; p++; }
  let v = 0;
  for (; p < to; p++) v = v * 10 + (buf[p]! - 48);
  return negative ? -v : v;
}

/** The integer written in buf[from, to) (optional '-', then at least one digit, nothing else), or NaN. */
function integerText(buf: Buffer, from: number, to: number): number {
  let p = from;
  const negative = buf[p] === 45;
  if (negative) p++;
  if (p >= to) return NaN;
  let v = 0;
  for (; p < to; p++) {
    const d = buf[p]! - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return negative ? -v : v;
}

/** A reply type byte for an error message: `0x21 (!)`, the character only when printable. */
function describeByte(byte: number): string {
  const hex = `0x${byte.toString(16).padStart(2, '0')}`;
  return byte >= 0x21 && byte <= 0x7e ? `${hex} (${String.fromCharCode(byte)})` : hex;
}

/**
 * Decimal digits of a non-negative integer. A loop, not a chain of compares: each compare of a
 * chain keeps its own type feedback, so the first request index with one more digit than the
 * warm-up's reached a compare that had none, and the optimized encoder was thrown away mid-run.
 */
function digitCount(n: number): number {
  let digits = 1;
  for (let bound = 10; n >= bound; bound *= 10) {
    if (++digits === 16) return String(n).length;
  }
  return digits;
}

/** Writes the `len` decimal digits of a non-negative integer n at p; returns the position after. */
function writeDigits(buf: Buffer, p: number, n: number, len: number): number {
  let q = p + len - 1;
  let v = n;
  while (q >= p) {
    const d = v % 10;
    buf[q--] = 48 + d;
    v = (v - d) / 10;
  }
  return p + len;
}
