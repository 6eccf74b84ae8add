/**
 * Closed model: `connections` x `inFlight` requests outstanding; each slot sends its next request
 * on the same connection as soon as its previous reply arrives (memtier's clients x pipeline),
 * until the source is exhausted, the deadline passes or the run is stopped. Latency is from the
 * actual send (in a closed model the intended send *is* the actual one).
 */
import type { OutcomeCode } from '../../outcomes.js';
import type { ErrorReplyEntry } from '../error-replies.js';
import type { DeductClient } from '../resp.js';
import type { Executor, ExecutorContext } from './types.js';

export class ClosedExecutor implements Executor {
  readonly scheduled = 0;
  readonly dropped = 0;
  readonly connectionErrors = new Set<string>();
  readonly done: Promise<void>;
  lostAllConnections = false;
  private resolveDone!: () => void;
  private conns: readonly DeductClient[] = [];
  private started = false;
  private stopping = false;
  private finished = false;
  private inFlight = 0;
  private idleTotal = 0;
  private alive = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: ExecutorContext,
    private readonly slotsPerConnection: number,
  ) {
    this.done = new Promise((resolve) => { this.resolveDone = resolve; });
  }

  start(conns: readonly DeductClient[]): void {
    this.conns = conns;
    this.started = true;
    // Connections are counted from here: one the server closed while the workers waited at the
    // barrier is being reopened (it counts, its slots come back when it is) or is gone.
    for (const conn of conns) {
      if (!conn.alive && !conn.restarting) continue;
      this.alive++;
      if (!conn.alive) continue;
      conn.idle = this.slotsPerConnection;
      this.idleTotal += this.slotsPerConnection;
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

  onReply(conn: DeductClient, index: number, twin: number, sku: number, quantity: number, code: OutcomeCode, value: number, intendedUs: number, sentUs: number, repliedUs: number): void {
    const { recorder, source } = this.ctx;
    recorder.record(index, twin, sku, quantity, code, value, intendedUs, sentUs, repliedUs);
    source.replied(index, twin === 1);
    this.inFlight--;
    if (repliedUs >= this.ctx.deadlineUs) this.stopping = true;
    // The slot that just freed sends again on its own connection.
    if (!this.stopping && conn.alive && source.take(repliedUs)) this.sendOn(conn, repliedUs);
    else if (conn.alive) { conn.idle++; this.idleTotal++; }
    // Slots that found nothing earlier may have something now (a sequential twin was released).
    if (this.idleTotal > 0 && !this.stopping) this.fill(repliedUs);
    if (this.inFlight === 0) this.checkDone();
  }

  onClosed(conn: DeductClient, reason: string, reconnecting: boolean): void {
    // Recorded first: the dead connection's unknown replies may already have finished the run.
    this.connectionErrors.add(reason);
    // Before start() nothing is counted yet (start() counts the connections that are there).
    if (!this.started) return;
    this.idleTotal -= conn.idle;
    conn.idle = 0;
    // A connection being reopened keeps counting as alive: its slots come back in onReconnected.
    if (reconnecting) return;
    this.alive--;
    if (this.alive === 0 && !this.stopping && !this.finished && !this.ctx.source.exhausted) this.lostAllConnections = true;
    if (!this.finished) this.checkDone();
  }

  onRefused(_conn: DeductClient, entry: ErrorReplyEntry): void {
    this.ctx.onRefused?.(entry);
    // A script that will not finish: nothing more may be sent (each send would run it again).
    if (entry.refusal === 'BUSY') this.stop();
  }

  onReconnected(conn: DeductClient): void {
    if (this.finished || !this.started) return;
    conn.idle = this.slotsPerConnection;
    this.idleTotal += this.slotsPerConnection;
    if (!this.stopping) {
      this.fill(this.ctx.nowUs());
      this.ctx.flusher.flush();
    }
    this.checkDone();
  }

  private sendOn(conn: DeductClient, nowUs: number): void {
    const { plan, source } = this.ctx;
    const index = source.index;
    this.inFlight++;
    conn.send(index, source.twin ? 1 : 0, plan.skuOf(index), plan.quantityOf(index), nowUs, nowUs);
  }

  private fill(nowUs: number): void {
    const { source } = this.ctx;
    for (const conn of this.conns) {
      while (conn.idle > 0 && conn.alive) {
        if (!source.take(nowUs)) {
          this.armDelayedTimer(nowUs);
          return;
        }
        conn.idle--;
        this.idleTotal--;
        this.sendOn(conn, nowUs);
      }
    }
  }

  /** Delayed twins come due later: wake up then, if there are idle slots to send them. */
  private armDelayedTimer(nowUs: number): void {
    const { source } = this.ctx;
    if (this.timer !== undefined || source.waiting === 0 || source.exhausted || this.stopping) return;
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
    if (!this.stopping && this.alive > 0 && !source.exhausted && this.idleTotal > 0) {
      // Idle slots with nothing in flight: try once more (originals may remain after a burst of twins).
      const before = this.inFlight;
      this.fill(this.ctx.nowUs());
      this.ctx.flusher.flush();
      if (this.inFlight > before) return;
    }
    this.finished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.resolveDone();
  }
}
