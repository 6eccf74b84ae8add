/**
 * The loop both open models share: sends are due on an ArrivalSchedule from the common t0, each is
 * sent over the next live connection (round robin, pipelined), and latency is recorded from the
 * intended send time (corrected for coordinated omission) and, separately, from the actual send.
 * A due send that would exceed this worker's share of max in flight is dropped and counted.
 */
import { Code, type OutcomeCode } from '../../outcomes.js';
import type { ErrorReplyEntry } from '../error-replies.js';
import type { LoadConnection } from '../resp.js';
import { Pacer, type ArrivalSchedule } from '../schedule.js';
import type { Executor, ExecutorContext } from './types.js';
import type { Router } from '../router.js';

/** With nothing in flight, a send due sooner than this is waited for in Atomics.wait (precise), not a timer. */
const IDLE_SLEEP_MAX_MS = 2;
/**
 * Sends go out in batches at least this far apart. On loopback a write costs the sender the
 * receiver's TCP work too (10-20 us here), so a write per request made the open loop cost a third
 * of a core at 20,000/s; at this gap a batch holds about ten, and no send is later than this (plus
 * the gap between replies) after its intended time, which its latency includes. Below 2,000/s
 * every send goes alone, on time. (The "send everything due at each timer tick", with a
 * tick finer than a timer's millisecond.)
 */
const BATCH_GAP_US = 500;
/** At most this long in one pump() before the event loop gets its turn. */
const PUMP_MAX_US = 20_000;

export class OpenLoopExecutor implements Executor {
  readonly connectionErrors = new Set<string>();
  readonly done: Promise<void>;
  lostAllConnections = false;
  private resolveDone!: () => void;
  private readonly pacer: Pacer;
  private conns: readonly LoadConnection[] = [];
  private next = 0;
  private inFlight = 0;
  private stopping = false;
  private finished = false;
  private timer: NodeJS.Timeout | undefined;
  private timerDueMs = Infinity;
  /** When the next batch may go (us since t0): its first send is due and the batch gap has passed. */
  private wakeAtUs = 0;
  /** When the last batch of sends went out (us since t0). */
  private lastBatchUs = -Infinity;
  /** Atomics.wait needs shared memory to sleep on; nothing ever wakes it but its timeout. */
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));
  private readonly onTimer = () => {
    this.timer = undefined;
    this.timerDueMs = Infinity;
    this.pump();
  };

  constructor(
    private readonly ctx: ExecutorContext,
    schedule: ArrivalSchedule,
  ) {
    this.pacer = new Pacer(schedule, ctx.lane, ctx.lanes);
    this.done = new Promise((resolve) => { this.resolveDone = resolve; });
  }

  get scheduled(): number { return this.pacer.scheduled; }
  get dropped(): number { return this.pacer.dropped; }

  start(conns: readonly LoadConnection[]): void {
    this.conns = conns;
    if (!conns.some((c) => c.alive || c.restarting)) {
      this.lostAllConnections = true;
      return this.stop();
    }
    this.pump();
  }

  stop(): void {
    this.stopping = true;
    this.clearTimer();
    this.checkDone();
  }

  tick(nowUs: number): void {
    if (nowUs >= this.ctx.deadlineUs) this.stopAtDeadline();
  }

  /**
   * The deadline passed. Sends due before it that were not taken yet (the loop wakes up to a timer
   * tick late, more after a GC or event-loop stall) go out now, late, as they would have at any
   * other wake-up (their latency counts from the intended send), within max in flight; dropping
   * them made every run end with a drop or two that no server caused.
   */
  private stopAtDeadline(): void {
    if (!this.stopping) this.sendBatch(this.ctx.nowUs(), (this.ctx.deadlineUs - 1) / 1000);
    this.stop();
  }

  onReply(_conn: LoadConnection, index: number, twin: number, sku: number, quantity: number, code: OutcomeCode, value: number, intendedUs: number, sentUs: number, repliedUs: number, _extra = false): void {
    this.ctx.recorder.record(index, twin, sku, quantity, code, value, intendedUs, sentUs, repliedUs);
    this.ctx.source.replied(index, twin === 1);
    this.inFlight--;
    if (this.stopping) {
      if (this.inFlight === 0) this.checkDone();
    } else if (this.inFlight === 0 || repliedUs >= this.wakeAtUs) {
      // Replies are the loop's clock while requests are in flight: send the batch that has come
      // due; with nothing left in flight, sleep precisely until the next one (pump).
      this.pump();
    }
  }

  onRedirect(conn: LoadConnection, entry: ErrorReplyEntry, index: number, twin: number, sku: number, quantity: number, intendedUs: number, sentUs: number, nowUs: number, extra: boolean): void {
    const router = this.ctx.router;
    if (router === undefined) return this.onReply(conn, index, twin, sku, quantity, entry.code, NaN, intendedUs, sentUs, nowUs, extra);
    // Still in flight: resent where the cluster says, its latency from the original intended send.
    router.redirect(this, conn, entry, index, twin, sku, quantity, intendedUs, sentUs, nowUs);
  }

  onClosed(_conn: LoadConnection, reason: string, reconnecting: boolean): void {
    this.connectionErrors.add(reason);
    if (this.finished || reconnecting) return;
    // Before start() there are no connections to judge by (one may close while others wait at the barrier).
    // In a cluster a shard with no connection left cannot serve its SKUs: the load cannot go on.
    if (this.conns.length > 0 && (!this.conns.some((c) => c.alive || c.restarting) || (this.ctx.router?.shardLost() ?? -1) >= 0)) {
      if (!this.stopping) this.lostAllConnections = true;
      this.stop();
    }
  }

  onRefused(_conn: LoadConnection, entry: ErrorReplyEntry): void {
    this.ctx.onRefused?.(entry);
    // A script that will not finish: nothing more may be sent (each send would run it again).
    if (entry.refusal === 'BUSY') this.stop();
  }

  onReconnected(): void {
    // Nothing to restore: the round robin picks the connection again now that it is alive.
  }

  /**
   * Sends everything due now, then waits for the next batch without spinning a core. Sends go out
   * in batches at least BATCH_GAP_US apart, each batch on one connection (one write, and its
   * replies in one read, for several requests):
   *  - with requests in flight, their replies wake the thread: a reply at or after the next batch's
   *    time sends it (onReply), and a timer at the next whole millisecond is the backstop for
   *    replies that are slow to come;
   *  - with nothing in flight nothing can arrive, so the thread sleeps in Atomics.wait until the
   *    batch is due, to the microsecond where timers only know milliseconds (when it is under
   *    IDLE_SLEEP_MAX_MS away; a timer takes longer waits).
   * A send goes out at most a batch gap (or, while replies are slow, the timer's millisecond) late,
   * and its latency is taken from the intended send either way, so nothing is hidden.
   */
  private pump(): void {
    // The event loop must get its turn (timers: reconnects, the worker's ticker): sleeping in
    // Atomics.wait is for the gap before a send that will go out, never for long in a row.
    const spinUntilUs = this.ctx.nowUs() + PUMP_MAX_US;
    for (;;) {
      if (this.stopping) return;
      const nowUs = this.ctx.nowUs();
      if (nowUs >= this.wakeAtUs && !this.sendDue(nowUs)) return;
      const nextMs = this.pacer.nextMs;
      if (nextMs === Infinity || nextMs * 1000 >= this.ctx.deadlineUs) {
        // The schedule is over: wait for the replies in flight. Until the deadline a closed-ended
        // ramp has nothing left to send.
        this.stopping = true;
        return this.checkDone();
      }
      this.wakeAtUs = Math.max(nextMs * 1000, this.lastBatchUs + BATCH_GAP_US);
      const waitMs = (this.wakeAtUs - this.ctx.nowUs()) / 1000;
      if (waitMs <= 0) continue;
      // With every connection down (a killed server) nothing can go out: wait on a timer, which lets
      // the reconnects run, rather than sleeping here from one dropped send to the next.
      if (this.inFlight === 0 && waitMs < IDLE_SLEEP_MAX_MS && this.ctx.nowUs() < spinUntilUs && this.anyAlive()) {
        Atomics.wait(this.sleeper, 0, 0, waitMs);
        continue;
      }
      this.armTimer(this.wakeAtUs / 1000);
      return;
    }
  }

  /** Sends what is due now, as one batch on one connection; false when the run ended for this worker. */
  private sendDue(nowUs: number): boolean {
    if (nowUs >= this.ctx.deadlineUs) {
      this.stopAtDeadline();
      return false;
    }
    return this.sendBatch(nowUs, nowUs / 1000);
  }

  /** Sends what is due by `untilMs` (ms since t0), as one batch on one connection; false when the run ended for this worker. */
  private sendBatch(nowUs: number, untilMs: number): boolean {
    const { plan, source, flusher } = this.ctx;
    this.lastBatchUs = nowUs;
    const droppedBefore = this.pacer.dropped;
    const n = this.pacer.poll(untilMs, this.ctx.maxInFlight - this.inFlight);
    const dropped = this.pacer.dropped - droppedBefore;
    const intended = this.pacer.intendedMs;
    const router = this.ctx.router;
    const conn = n > 0 ? this.pickConnection() : undefined;
    if (n > 0 && conn === undefined && !this.conns.some((c) => c.restarting)) {
      this.stop();
      return false;
    }
    this.batch++;
    for (let i = 0; i < n; i++) {
      if (!source.take(nowUs)) {
        if (!source.exhausted) {
          // What is left of `requests` is kept for twins still owed (waiting for a reply or
          // their delay): this slot of the schedule passes unused.
          this.pacer.scheduled--;
          continue;
        }
        // The requests ran out: the run is over for this worker, and these sends never happen; nor
        // do the drops this poll counted (they come after the sends in the limit, and nothing is
        // left of it for them): counting them made requests + dropped exceed what was planned
        // after a stall that left a long backlog to poll at once.
        this.pacer.scheduled -= n - i + dropped;
        this.pacer.dropped -= dropped;
        flusher.flush();
        this.stop();
        return false;
      }
      const index = source.index;
      const sku = plan.skuOf(index);
      // In a cluster the request goes to its shard's connection for this batch.
      const target = router === undefined ? conn : this.batchConnection(router, router.shardOf(sku));
      if (target === undefined) {
        // Every connection (of its shard) is down and being reopened (a killed server, a failover):
        // it could not be written, so it definitely did not run: an error outcome, at its time.
        const twin = source.twin;
        this.ctx.recorder.record(index, twin ? 1 : 0, sku, plan.quantityOf(index), Code.error, NaN, intended[i]! * 1000, nowUs, nowUs);
        this.ctx.onNotSent?.();
        source.replied(index, twin);
        continue;
      }
      this.inFlight++;
      target.send(index, source.twin ? 1 : 0, sku, plan.quantityOf(index), intended[i]! * 1000, nowUs);
    }
    // A dropped send uses up its request: a run of `requests` makes that many sends or drops, so
    // `dropped` never exceeds what was planned. Drops past the end of the requests never happened.
    for (let i = 0; i < dropped; i++) {
      if (source.skip()) continue;
      this.pacer.dropped -= dropped - i;
      this.pacer.scheduled -= dropped - i;
      flusher.flush();
      this.stop();
      return false;
    }
    flusher.flush();
    return true;
  }

  private anyAlive(): boolean {
    for (const c of this.conns) if (c.alive) return true;
    return false;
  }

  /** One backstop timer, re-armed only when the next send is due earlier than it fires. */
  private armTimer(dueMs: number): void {
    if (this.timer !== undefined && this.timerDueMs <= dueMs) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerDueMs = dueMs;
    this.timer = setTimeout(this.onTimer, Math.max(1, Math.floor(dueMs - this.ctx.nowUs() / 1000)));
  }

  /** The connection a shard's requests take in this batch (one write per shard per batch). */
  private batchConnection(router: Router, shard: number): LoadConnection | undefined {
    if (this.batchOf[shard] !== this.batch) {
      this.batchOf[shard] = this.batch;
      this.batchConn[shard] = router.liveConnection(shard);
    }
    return this.batchConn[shard];
  }

  private batch = 0;
  private readonly batchOf: number[] = [];
  private readonly batchConn: (LoadConnection | undefined)[] = [];

  private pickConnection(): LoadConnection | undefined {
    const conns = this.conns;
    for (let tries = 0; tries < conns.length; tries++) {
      const conn = conns[this.next]!;
      this.next = this.next + 1 === conns.length ? 0 : this.next + 1;
      if (conn.alive) return conn;
    }
    return undefined;
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDueMs = Infinity;
  }

  private checkDone(): void {
    if (this.finished || !this.stopping || this.inFlight > 0) return;
    this.finished = true;
    this.clearTimer();
    this.resolveDone();
  }
}
