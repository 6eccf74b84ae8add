/**
 * Closed model: `connections` x `inFlight` requests outstanding; each slot sends its next request
 * on the same connection as soon as its previous reply arrives (memtier's clients x pipeline),
 * until the source is exhausted, the deadline passes or the run is stopped. Latency is from the
 * actual send (in a closed model the intended send *is* the actual one).
 *
 * In a cluster each connection serves one shard, so `connections` and `inFlight` mean the same per
 * shard as on one server. A freed slot takes the next request of the plan; one whose SKU lives on
 * another shard goes to an idle slot there, or waits (parked, in order) for that shard's next free
 * slot. At most one worker's worth of slots wait, so a hot shard holds the others back rather
 * than the plan being reordered without bound. Waiting is not latency: the clock starts at the send.
 */
import type { OutcomeCode } from '../../outcomes.js';
import type { ErrorReplyEntry } from '../error-replies.js';
import type { LoadConnection } from '../resp.js';
import type { Executor, ExecutorContext } from './types.js';

export class ClosedExecutor implements Executor {
  readonly scheduled = 0;
  readonly dropped = 0;
  readonly connectionErrors = new Set<string>();
  readonly done: Promise<void>;
  lostAllConnections = false;
  private resolveDone!: () => void;
  private conns: LoadConnection[] = [];
  private started = false;
  private stopping = false;
  private finished = false;
  private inFlight = 0;
  private idleTotal = 0;
  private alive = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Idle slots per shard (cluster routing). */
  private idleByShard: number[] = [0];
  /** Requests taken for a shard with no free slot, in plan order, per shard (rings of parkCap). */
  private parked: ParkedRing[] = [];
  private parkedTotal = 0;
  private parkCap = 0;

  constructor(
    private readonly ctx: ExecutorContext,
    private readonly slotsPerConnection: number,
  ) {
    this.done = new Promise((resolve) => { this.resolveDone = resolve; });
    const router = ctx.router;
    if (router !== undefined) router.onNewConnections = (conns) => this.adopt(conns);
  }

  start(conns: readonly LoadConnection[]): void {
    this.conns = [...conns];
    this.started = true;
    const shards = this.ctx.router?.shards ?? 1;
    this.idleByShard = new Array<number>(shards).fill(0);
    this.parkCap = conns.length * this.slotsPerConnection;
    this.parked = Array.from({ length: shards }, () => new ParkedRing(this.parkCap));
    // Connections are counted from here: one the server closed while the workers waited at the
    // barrier is being reopened (it counts, its slots come back when it is) or is gone.
    for (const conn of conns) {
      // The warm-up's executor used these connections before: its idle count is not ours.
      conn.idle = 0;
      if (!conn.alive && !conn.restarting) continue;
      this.alive++;
      if (!conn.alive) continue;
      this.addIdle(conn, this.slotsPerConnection);
    }
    if (this.alive === 0) this.lostAllConnections = true;
    this.fill(this.ctx.nowUs());
    this.ctx.flusher.flush();
    this.checkDone();
  }

  stop(): void {
    this.stopping = true;
    this.checkDone();
  }

  tick(nowUs: number): void {
    if (nowUs >= this.ctx.deadlineUs) this.stopping = true;
    if (!this.stopping && this.idleTotal > 0) {
      this.fill(nowUs);
      this.ctx.flusher.flush();
    }
    this.checkDone();
  }

  onReply(conn: LoadConnection, index: number, twin: number, sku: number, quantity: number, code: OutcomeCode, value: number, intendedUs: number, sentUs: number, repliedUs: number, extra = false): void {
    const { recorder, source } = this.ctx;
    recorder.record(index, twin, sku, quantity, code, value, intendedUs, sentUs, repliedUs);
    source.replied(index, twin === 1);
    this.inFlight--;
    if (repliedUs >= this.ctx.deadlineUs) this.stopping = true;
    // A resend after a redirect held no slot of its connection: its reply frees none.
    if (!extra) this.freed(conn, repliedUs);
    // Slots that found nothing earlier may have something now (a sequential twin was released).
    if (this.idleTotal > 0 && !this.stopping && this.parkedTotal < this.parkCap) this.fill(repliedUs);
    if (this.inFlight === 0) this.checkDone();
  }

  onRedirect(conn: LoadConnection, entry: ErrorReplyEntry, index: number, twin: number, sku: number, quantity: number, intendedUs: number, sentUs: number, nowUs: number, extra: boolean): void {
    const router = this.ctx.router;
    // Without a router (the warm-up) a redirect is an answer like any error.
    if (router === undefined) return this.onReply(conn, index, twin, sku, quantity, entry.code, NaN, intendedUs, sentUs, nowUs, extra);
    // The request goes elsewhere as an extra one; the slot it held here is free now.
    router.redirect(this, conn, entry, index, twin, sku, quantity, intendedUs, sentUs, nowUs);
    if (!extra) this.freed(conn, nowUs);
    this.ctx.flusher.flush();
  }

  onClosed(conn: LoadConnection, reason: string, reconnecting: boolean): void {
    // Recorded first: the dead connection's unknown replies may already have finished the run.
    this.connectionErrors.add(reason);
    // Before start() nothing is counted yet (start() counts the connections that are there).
    if (!this.started) return;
    this.idleTotal -= conn.idle;
    this.idleByShard[conn.shard]! -= conn.idle;
    conn.idle = 0;
    // A connection being reopened keeps counting as alive: its slots come back in onReconnected.
    if (reconnecting) return;
    this.alive--;
    // A shard with no connection left cannot serve its SKUs: the load cannot go on as planned.
    const shardLost = (this.ctx.router?.shardLost() ?? -1) >= 0;
    if ((this.alive === 0 || shardLost) && !this.stopping && !this.finished && !this.ctx.source.exhausted) {
      this.lostAllConnections = true;
      if (shardLost) this.stopping = true;
    }
    if (!this.finished) this.checkDone();
  }

  onRefused(_conn: LoadConnection, entry: ErrorReplyEntry): void {
    this.ctx.onRefused?.(entry);
    // A script that will not finish: nothing more may be sent (each send would run it again).
    if (entry.refusal === 'BUSY') this.stop();
  }

  onReconnected(conn: LoadConnection): void {
    if (this.finished || !this.started) return;
    this.addIdle(conn, this.slotsPerConnection);
    if (!this.stopping) {
      this.fill(this.ctx.nowUs());
      this.ctx.flusher.flush();
    }
    this.checkDone();
  }

  /** Connections to a primary the run learned of from a MOVED (router.ts): they take slots like the others. */
  private adopt(conns: readonly LoadConnection[]): void {
    if (this.finished || !this.started) return;
    for (const conn of conns) {
      while (this.idleByShard.length <= conn.shard) {
        this.idleByShard.push(0);
        this.parked.push(new ParkedRing(this.parkCap));
      }
      this.conns.push(conn);
      this.alive++;
      this.addIdle(conn, this.slotsPerConnection);
    }
    if (!this.stopping) {
      this.fill(this.ctx.nowUs());
      this.ctx.flusher.flush();
    }
  }

  private addIdle(conn: LoadConnection, slots: number): void {
    conn.idle += slots;
    this.idleTotal += slots;
    this.idleByShard[conn.shard]! += slots;
  }

  /** One slot of `conn` came free: give it the next request, or leave it idle. */
  private freed(conn: LoadConnection, nowUs: number): void {
    if (!conn.alive) return;
    if (this.stopping || !this.useSlot(conn, nowUs)) this.addIdle(conn, 1);
  }

  private sendOn(conn: LoadConnection, index: number, twin: boolean, nowUs: number): void {
    const { plan } = this.ctx;
    this.inFlight++;
    conn.send(index, twin ? 1 : 0, plan.skuOf(index), plan.quantityOf(index), nowUs, nowUs);
  }

  /**
   * Sends a request on a free slot of `conn` (not counted as idle): its shard's oldest parked
   * request, else the plan's next ones until one is for this shard (those for other shards go to
   * an idle slot there, or are parked). False when the slot stays free.
   */
  private useSlot(conn: LoadConnection, nowUs: number): boolean {
    const { source, router, plan } = this.ctx;
    if (router === undefined) {
      if (!source.take(nowUs)) return false;
      this.sendOn(conn, source.index, source.twin, nowUs);
      return true;
    }
    const shard = conn.shard;
    const parked = this.parked[shard]!;
    if (parked.count > 0) {
      this.parkedTotal--;
      const twin = parked.twinAtHead();
      this.sendOn(conn, parked.shift(), twin, nowUs);
      return true;
    }
    while (this.parkedTotal < this.parkCap && source.take(nowUs)) {
      const index = source.index;
      const twin = source.twin;
      const owner = router.shardOf(plan.skuOf(index));
      if (owner === shard) {
        this.sendOn(conn, index, twin, nowUs);
        return true;
      }
      const other = this.idleConnection(owner);
      if (other !== undefined) {
        other.idle--;
        this.idleTotal--;
        this.idleByShard[owner]!--;
        this.sendOn(other, index, twin, nowUs);
        continue;
      }
      this.parked[owner]!.push(index, twin);
      this.parkedTotal++;
    }
    return false;
  }

  private idleConnection(shard: number): LoadConnection | undefined {
    if (this.idleByShard[shard]! <= 0) return undefined;
    for (const conn of this.ctx.router!.connsByShard[shard]!) if (conn.idle > 0 && conn.alive) return conn;
    return undefined;
  }

  private fill(nowUs: number): void {
    for (const conn of this.conns) {
      while (conn.idle > 0 && conn.alive) {
        conn.idle--;
        this.idleTotal--;
        this.idleByShard[conn.shard]!--;
        if (this.useSlot(conn, nowUs)) continue;
        this.addIdle(conn, 1);
        // Nothing for this slot: the plan has nothing to send now, or what it has waits for
        // other shards (parked). Only a connection of a shard with parked requests can go on.
        if (this.parkedTotal === 0) return this.armDelayedTimer(nowUs);
        break;
      }
    }
    this.armDelayedTimer(nowUs);
  }

  /** Delayed twins come due later: wake up then, if there are idle slots to send them. */
  private armDelayedTimer(nowUs: number): void {
    const { source } = this.ctx;
    if (this.timer !== undefined || source.waiting === 0 || source.exhausted || this.stopping || this.idleTotal === 0) return;
    const waitMs = Math.max(0, (source.nextDueUs - nowUs) / 1000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick(this.ctx.nowUs());
    }, waitMs);
  }

  private checkDone(): void {
    if (this.finished || !this.started || this.inFlight > 0) return;
    // Connections being reopened after a timeout will take their slots again: wait for them.
    if (!this.stopping && this.conns.some((c) => c.restarting)) return;
    const { source } = this.ctx;
    // Nothing in flight: no reply can release a sequential twin any more, so unless delayed
    // twins are still waiting for their time, nothing more will be sent.
    const more = !this.stopping && this.alive > 0 && !source.exhausted && source.waiting > 0;
    if (more) return;
    if (!this.stopping && this.alive > 0 && (!source.exhausted || this.parkedTotal > 0) && this.idleTotal > 0) {
      // Idle slots with nothing in flight: try once more (originals may remain after a burst of
      // twins; parked requests wait for their shard's slots).
      const before = this.inFlight;
      this.fill(this.ctx.nowUs());
      this.ctx.flusher.flush();
      if (this.inFlight > before) return;
    }
    // Parked requests left now were never sent (the run stopped, or their shard is gone).
    this.finished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.resolveDone();
  }
}

/**
 * One shard's parked requests, oldest first. A fixed ring: at most parkCap requests wait in all, and
 * a queue that is never empty for long must not grow with every request it ever held.
 */
class ParkedRing {
  count = 0;
  private head = 0;
  private readonly index: Uint32Array;
  private readonly twin: Uint8Array;
  constructor(private readonly capacity: number) {
    this.index = new Uint32Array(capacity);
    this.twin = new Uint8Array(capacity);
  }
  push(index: number, twin: boolean): void {
    const at = (this.head + this.count) % this.capacity;
    this.index[at] = index;
    this.twin[at] = twin ? 1 : 0;
    this.count++;
  }
  twinAtHead(): boolean {
    return this.twin[this.head] === 1;
  }
  shift(): number {
    const index = this.index[this.head]!;
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    this.count--;
    return index;
  }
}
