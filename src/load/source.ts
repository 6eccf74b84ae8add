/**
 * Hands out what to send next: original requests in plan order (a slice `first, first+step, …`
 * when several workers share a plan) and their duplicate twins per the pattern:
 *  - sequential: the twin is queued when the original's reply arrives;
 *  - concurrent: the twin is handed out right after its original, so both are in flight together;
 *  - delayed: the twin becomes due `delayMs` after its original was sent, whatever the reply (a
 *    client's retry timer);
 *  - cross-worker: this source sends no twins of its own originals; instead it sends the twins of
 *    the originals of another slice (`twinFirst`, same step), each right after its own original
 *    of the same position, so the twin travels through another worker and connection at about
 *    the same moment as the original.
 * Stops after `limit` sends (twins included) when the scenario gives `requests`.
 */
import type { Plan } from './plan.js';

export type DuplicatePattern = 'sequential' | 'concurrent' | 'delayed' | 'cross-worker' | 'cross-agent';

export interface SourceOptions {
  /** delayed: microseconds from the original's send to its twin's. */
  readonly delayUs?: number;
  /** cross-worker: the first index of the slice whose twins this source sends. */
  readonly twinFirst?: number;
}

export class RequestSource {
  private nextOriginal: number;
  private readonly readyTwins: number[] = [];
  /** delayed: twins waiting for their time, in send order (the delay is constant, so FIFO). */
  private readonly delayedIndex: number[] = [];
  private readonly delayedDueUs: number[] = [];
  private nextCrossTwin: number;
  private readonly delayUs: number;
  /** Twins of originals already issued that are not issued yet (their share of the limit is kept for them). */
  private owed = 0;
  issued = 0;
  /** Index of the last request handed out by take() (valid right after take() returned true). */
  index = 0;
  /** Whether the last request handed out is a twin. */
  twin = false;

  constructor(
    private readonly plan: Plan,
    private readonly pattern: DuplicatePattern,
    private readonly limit: number = Infinity,
    first = 0,
    private readonly step = 1,
    options: SourceOptions = {},
  ) {
    this.nextOriginal = first;
    this.nextCrossTwin = options.twinFirst ?? first;
    this.delayUs = options.delayUs ?? 0;
  }

  get exhausted(): boolean {
    return this.issued >= this.limit;
  }

  /** delayed twins not yet sent: a caller with nothing to send should look again at `nextDueUs`. */
  get waiting(): number {
    return this.delayedIndex.length;
  }

  get nextDueUs(): number {
    return this.delayedDueUs.length > 0 ? this.delayedDueUs[0]! : Infinity;
  }

  /**
   * The next request to send, allocation-free for the hot path: returns false when nothing can be
   * sent now, else sets `index` and `twin`.
   */
  take(nowUs: number): boolean {
    if (this.issued >= this.limit) return false;
    if (this.readyTwins.length > 0) return this.issueTwin(this.readyTwins.shift()!);
    if (this.delayedIndex.length > 0 && this.delayedDueUs[0]! <= nowUs) {
      this.delayedDueUs.shift();
      return this.issueTwin(this.delayedIndex.shift()!);
    }
    // What is left of the limit goes first to the twins already owed (a sequential twin waiting
    // for its original's reply, a delayed one for its time), so that a run of `requests` sends
    // every original's twin instead of ending on originals whose twins never went out.
    if (this.owed > 0 && this.limit - this.issued <= this.owed) return false;
    const index = this.nextOriginal;
    this.nextOriginal += this.step;
    switch (this.pattern) {
      case 'concurrent':
        if (this.plan.hasTwin(index)) this.readyTwins.push(index);
        break;
      case 'delayed':
        if (this.plan.hasTwin(index)) {
          this.owed++;
          this.delayedIndex.push(index);
          this.delayedDueUs.push(nowUs + this.delayUs);
        }
        break;
      case 'sequential':
        if (this.plan.hasTwin(index)) this.owed++;
        break;
      case 'cross-worker':
      case 'cross-agent': {
        const other = this.nextCrossTwin;
        this.nextCrossTwin += this.step;
        if (this.plan.hasTwin(other)) this.readyTwins.push(other);
        break;
      }
    }
    return this.issue(index, false);
  }

  private issueTwin(index: number): boolean {
    if (this.pattern === 'sequential' || this.pattern === 'delayed') this.owed--;
    return this.issue(index, true);
  }

  /**
   * An open model dropped a send (max in flight reached): the next original is not sent and its
   * share of the limit is used up. Returns false when the limit was already reached (no send was
   * due). A slot kept for owed twins is not consumed: the twin still goes out later.
   */
  skip(): boolean {
    if (this.issued >= this.limit) return false;
    if (this.owed > 0 && this.limit - this.issued <= this.owed) return true;
    this.nextOriginal += this.step;
    // cross-worker: the twin that would have gone out with it stays aligned with its position.
    if (this.pattern === 'cross-worker' || this.pattern === 'cross-agent') this.nextCrossTwin += this.step;
    this.issued++;
    return true;
  }

  /** Called with each reply: releases a sequential twin once its original has been answered. */
  replied(index: number, twin: boolean): void {
    if (!twin && this.pattern === 'sequential' && this.plan.hasTwin(index)) this.readyTwins.push(index);
  }

  private issue(index: number, twin: boolean): boolean {
    this.issued++;
    this.index = index;
    this.twin = twin;
    return true;
  }
}
