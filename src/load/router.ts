/**
 * Which connection a deduction goes to. A standalone server is one shard and every request goes
 * to it; in a Redis Cluster each SKU's keys live in one slot, owned by one primary, and a worker
 * holds `connections` connections to every primary. The SKU -> shard table is computed once when
 * the run starts (CRC16 per SKU, never per request), so routing costs one array read.
 *
 * Redirects never lose a request's outcome: `MOVED` updates the slot map (and every SKU of that
 * slot) and resends to the new owner, `ASK` resends once with `ASKING` before it, `TRYAGAIN` and
 * `CLUSTERDOWN` resend after a growing pause, a few times, then the last reply is the outcome. A
 * resent request keeps its original intended and actual send times, so its latency includes the
 * detour. A MOVED to a primary the run did not know opens connections to it first.
 */
import { Code, type OutcomeCode } from '../outcomes.js';
import type { ErrorReplyEntry } from './error-replies.js';
import type { LoadConnection, ReplyHandler } from './resp.js';

/** Resends after TRYAGAIN / CLUSTERDOWN before their reply is taken as the outcome. */
export const MAX_CLUSTER_RETRIES = 5;
const RETRY_PAUSE_MS = [10, 25, 50, 100, 200];

export interface RouterOptions {
  readonly cluster: boolean;
  /** SKU -> shard when the run starts. */
  readonly skuShard: Uint16Array;
  /** SKU -> slot (cluster only), to move every SKU of a slot when it moves. */
  readonly skuSlot?: Uint16Array;
  /** `host:port` of each shard's primary. */
  readonly nodes: readonly string[];
  /** Opens `connections` connections to a primary the run did not know (after a MOVED to it). */
  readonly openShard?: (node: string, shard: number) => Promise<LoadConnection[]>;
}

export interface RedirectCounts {
  moved: number;
  ask: number;
  tryagain: number;
}

export class Router {
  readonly cluster: boolean;
  readonly connsByShard: LoadConnection[][];
  readonly redirects: RedirectCounts = { moved: 0, ask: 0, tryagain: 0 };
  /** Why requests could not be resent (a MOVED to a node that refuses connections): target problems. */
  readonly problems = new Set<string>();
  private readonly skuShard: Uint16Array;
  private readonly skuSlot: Uint16Array | undefined;
  private readonly nodes: string[];
  private readonly next: number[];
  private readonly retries = new Map<number, number>();
  private readonly opening = new Map<string, Promise<number>>();
  private readonly stillOpening = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Connections opened after a MOVED to a new primary, handed to the executor (see `onNewConnections`). */
  onNewConnections: (conns: LoadConnection[]) => void = () => {};

  constructor(private readonly options: RouterOptions) {
    this.cluster = options.cluster;
    this.skuShard = Uint16Array.from(options.skuShard);
    this.skuSlot = options.skuSlot;
    this.nodes = [...options.nodes];
    this.connsByShard = this.nodes.map(() => []);
    this.next = this.nodes.map(() => 0);
  }

  /** The worker's connections, each serving `conn.shard`. */
  add(conns: readonly LoadConnection[]): void {
    for (const conn of conns) this.connsByShard[conn.shard]!.push(conn);
  }

  get shards(): number {
    return this.nodes.length;
  }

  nodeOf(shard: number): string {
    return this.nodes[shard]!;
  }

  shardOf(sku: number): number {
    return this.skuShard[sku]!;
  }

  /** A live connection to a shard, taken in turn, or undefined when none is alive. */
  liveConnection(shard: number): LoadConnection | undefined {
    const conns = this.connsByShard[shard]!;
    for (let tries = 0; tries < conns.length; tries++) {
      const at = this.next[shard]!;
      const conn = conns[at]!;
      this.next[shard] = at + 1 === conns.length ? 0 : at + 1;
      if (conn.alive) return conn;
    }
    return undefined;
  }

  /** Does some shard have no connection alive or coming back? (Then its SKUs cannot be served.) */
  shardLost(): number {
    for (let s = 0; s < this.connsByShard.length; s++) {
      const conns = this.connsByShard[s]!;
      if (conns.length > 0 && !conns.some((c) => c.alive || c.restarting)) return s;
    }
    return -1;
  }

  /**
   * A deduction was answered with a redirect (`entry.redirect`): resend it where the cluster says,
   * as an extra request (the executor already freed the slot it held). Its outcome reaches
   * `handler.onReply` in the end, whatever happens.
   */
  redirect(handler: ReplyHandler, from: LoadConnection, entry: ErrorReplyEntry, index: number, twin: number, sku: number, quantity: number, intendedUs: number, sentUs: number, nowUs: number): void {
    const fail = (code: OutcomeCode) => handler.onReply(from, index, twin, sku, quantity, code, NaN, intendedUs, sentUs, nowUs, true);
    if (entry.redirect === 'moved' || entry.redirect === 'ask') {
      const ask = entry.redirect === 'ask';
      if (ask) this.redirects.ask++;
      else this.redirects.moved++;
      const node = entry.node!;
      let shard = this.nodes.indexOf(node);
      // The slot map follows a MOVED only to a primary there are connections to (a node that
      // refused them keeps its SKUs routed where they were: each meets the MOVED, and fails, again).
      if (!ask && shard >= 0 && this.connsByShard[shard]!.length > 0) this.moveSlot(entry.slot!, shard);
      const send = (target: number) => {
        const conn = this.liveConnection(target);
        if (conn === undefined) return fail(Code.error);
        if (ask) conn.sendAsking(index, twin, sku, quantity, intendedUs, sentUs);
        else conn.send(index, twin, sku, quantity, intendedUs, sentUs, true);
        conn.flushNow();
      };
      if (shard >= 0 && !this.stillOpening.has(node)) return send(shard);
      // A primary the run did not know (a new shard took the slot): connect first, then resend.
      this.waiting++;
      void this.openNode(node).then((s) => {
        this.waiting--;
        if (s < 0) return fail(Code.error);
        if (!ask) this.moveSlot(entry.slot!, s);
        send(s);
      });
      return;
    }
    // TRYAGAIN (a multi-key command during a slot migration) or CLUSTERDOWN: the same owner, later.
    this.redirects.tryagain++;
    const tries = (this.retries.get(index * 2 + (twin & 1)) ?? 0) + 1;
    if (tries > MAX_CLUSTER_RETRIES) {
      this.retries.delete(index * 2 + (twin & 1));
      return handler.onReply(from, index, twin, sku, quantity, entry.code, NaN, intendedUs, sentUs, nowUs, true);
    }
    this.retries.set(index * 2 + (twin & 1), tries);
    this.waiting++;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.waiting--;
      const conn = this.liveConnection(this.shardOf(sku));
      if (conn === undefined) return fail(Code.error);
      conn.send(index, twin, sku, quantity, intendedUs, sentUs, true);
      conn.flushNow();
    }, RETRY_PAUSE_MS[tries - 1] ?? 200);
    this.timers.add(timer);
  }

  /** Requests waiting for a TRYAGAIN pause or a new primary's connections (the executor waits for them). */
  waiting = 0;

  /** Drops what waits (the run is over): those requests were never resent. */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private moveSlot(slot: number, shard: number): void {
    const skuSlot = this.skuSlot;
    if (skuSlot === undefined) return;
    const skuShard = this.skuShard;
    // Only the first MOVED of a slot finds SKUs to move; the rest of its burst changes nothing.
    for (let sku = 0; sku < skuSlot.length; sku++) if (skuSlot[sku] === slot) skuShard[sku] = shard;
  }

  private openNode(node: string): Promise<number> {
    let opening = this.opening.get(node);
    if (opening === undefined) {
      const shard = this.nodes.length;
      this.nodes.push(node);
      this.connsByShard.push([]);
      this.next.push(0);
      const open = this.options.openShard;
      this.stillOpening.add(node);
      opening = (open === undefined ? Promise.reject(new Error('no way to open connections')) : open(node, shard)).then(
        (conns) => {
          this.stillOpening.delete(node);
          this.connsByShard[shard] = conns;
          this.onNewConnections(conns);
          return shard;
        },
        (err: Error) => {
          this.stillOpening.delete(node);
          this.problems.add(`the cluster redirected deductions to ${node}, which sellout could not connect to: ${err.message.split('\n')[0]}`);
          return -1;
        },
      );
      // Kept (resolved): later redirects to the same node reuse its connections, or fail at once.
      this.opening.set(node, opening);
    }
    return opening;
  }
}
