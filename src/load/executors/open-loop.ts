/**
 * The loop both open models share: sends are due on an ArrivalSchedule from the common t0, each is
 * sent over the next live connection (round robin, pipelined), and latency is recorded from the
 * intended send time (corrected for coordinated omission) and, separately, from the actual send.
 * A due send that would exceed this worker's share of max in flight is dropped and counted.
 */
import type { OutcomeCode } from '../../outcomes.js';
import type { ErrorReplyEntry } from '../error-replies.js';
import type { DeductClient } from '../resp.js';
import { Pacer, type ArrivalSchedule } from '../schedule.js';
import type { Executor, ExecutorContext } from './types.js';

export class OpenLoopExecutor implements Executor {
  readonly connectionErrors = new Set<string>();
  readonly done: Promise<void>;
  lostAllConnections = false;
  private resolveDone!: () => void;
  private readonly pacer: Pacer;
  private conns: readonly DeductClient[] = [];
  private next = 0;
  private inFlight = 0;
  private stopping = false;
  private finished = false;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private readonly onTimer = () => {
    this.timer = undefined;
    this.immediate = undefined;
    this.pump();
  };

  constructor(
    private readonly ctx: ExecutorContext,
    schedule: ArrivalSchedule,
  ) {
    this.pacer = new Pacer(schedule, ctx.worker, ctx.workers);
    this.done = new Promise((resolve) => { this.resolveDone = resolve; });
  }

  get scheduled(): number { return this.pacer.scheduled; }
  get dropped(): number { return this.pacer.dropped; }

  start(conns: readonly DeductClient[]): void {
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
   * The deadline passed. Sends due before it that were not taken yet (the loop woke late: a GC or
   * event-loop stall) could not start: they are dropped, not silently missing from the figures.
   */
  private stopAtDeadline(): void {
    if (!this.stopping) this.pacer.poll((this.ctx.deadlineUs - 1) / 1000, 0);
    this.stop();
  }

  onReply(_conn: DeductClient, index: number, twin: number, sku: number, quantity: number, code: OutcomeCode, value: number, intendedUs: number, sentUs: number, repliedUs: number): void {
    this.ctx.recorder.record(index, twin, sku, quantity, code, value, intendedUs, sentUs, repliedUs);
    this.ctx.source.replied(index, twin === 1);
    this.inFlight--;
    if (this.inFlight === 0) this.checkDone();
  }

  onClosed(_conn: DeductClient, reason: string, reconnecting: boolean): void {
    this.connectionErrors.add(reason);
    if (this.finished || reconnecting) return;
    // Before start() there are no connections to judge by (one may close while others wait at the barrier).
    if (this.conns.length > 0 && !this.conns.some((c) => c.alive || c.restarting)) {
      if (!this.stopping) this.lostAllConnections = true;
      this.stop();
    }
  }

  onRefused(_conn: DeductClient, entry: ErrorReplyEntry): void {
    this.ctx.onRefused?.(entry);
    // A script that will not finish: nothing more may be sent (each send would run it again).
    if (entry.refusal === 'BUSY') this.stop();
  }

  onReconnected(): void {
    // Nothing to restore: the round robin picks the connection again now that it is alive.
  }

  /** Sends everything due now, then sleeps until the next send is due. */
  private pump(): void {
    if (this.stopping) return;
    const { plan, source, flusher } = this.ctx;
    const nowUs = this.ctx.nowUs();
    if (nowUs >= this.ctx.deadlineUs) return this.stopAtDeadline();
    const droppedBefore = this.pacer.dropped;
    const n = this.pacer.poll(nowUs / 1000, this.ctx.maxInFlight - this.inFlight);
    const dropped = this.pacer.dropped - droppedBefore;
    const intended = this.pacer.intendedMs;
    for (let i = 0; i < n; i++) {
      const conn = this.pickConnection();
      if (conn === undefined) {
        if (!this.conns.some((c) => c.restarting)) return this.stop();
        // Every connection is being reopened after a timeout: these sends cannot start now.
        this.pacer.dropped += n - i;
        break;
      }
      if (!source.take(nowUs)) {
        if (!source.exhausted) {
          // What is left of `requests` is kept for twins still owed (waiting for a reply or
          // their delay): this slot of the schedule passes unused.
          this.pacer.scheduled--;
          continue;
        }
        // The requests ran out: the run is over for this worker, and these sends never happen.
        this.pacer.scheduled -= n - i;
        flusher.flush();
        return this.stop();
      }
      const index = source.index;
      this.inFlight++;
      conn.send(index, source.twin ? 1 : 0, plan.skuOf(index), plan.quantityOf(index), intended[i]! * 1000, nowUs);
    }
    // A dropped send uses up its request: a run of `requests` makes that many sends or drops, so
    // `dropped` never exceeds what was planned. Drops past the end of the requests never happened.
    for (let i = 0; i < dropped; i++) {
      if (source.skip()) continue;
      this.pacer.dropped -= dropped - i;
      this.pacer.scheduled -= dropped - i;
      flusher.flush();
      return this.stop();
    }
    flusher.flush();
    const nextMs = this.pacer.nextMs;
    if (nextMs === Infinity || nextMs * 1000 >= this.ctx.deadlineUs) {
      // The schedule is over: wait for the replies in flight. Until the deadline a closed-ended
      // ramp has nothing left to send.
      this.stopping = true;
      return this.checkDone();
    }
    const waitMs = nextMs - this.ctx.nowUs() / 1000;
    // setTimeout sleeps at least ~1 ms: when the next send is due sooner, yield with setImmediate
    // (replies are read in between) and send whatever is due then, in one batch.
    if (waitMs >= 1) this.timer = setTimeout(this.onTimer, Math.floor(waitMs));
    else this.immediate = setImmediate(this.onTimer);
  }

  private pickConnection(): DeductClient | undefined {
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
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  private checkDone(): void {
    if (this.finished || !this.stopping || this.inFlight > 0) return;
    this.finished = true;
    this.clearTimer();
    this.resolveDone();
  }
}
