/**
 * Hands out what to send next: original requests in plan order (a slice `first, first+step, …`
 * when several workers share a plan) and their duplicate twins per the pattern:
 *  - sequential: the twin is queued when the original's reply arrives;
 *  - concurrent: the twin is handed out right after its original, so both are in flight together.
 * Stops after `limit` sends (twins included) when the scenario gives `requests`.
 */
import type { Plan } from './plan.js';

export type DuplicatePattern = 'sequential' | 'concurrent';

export interface NextRequest {
  index: number;
  twin: boolean;
}

export class RequestSource {
  private nextOriginal: number;
  private readonly readyTwins: number[] = [];
  issued = 0;

  constructor(
    private readonly plan: Plan,
    private readonly pattern: DuplicatePattern,
    private readonly limit: number = Infinity,
    first = 0,
    private readonly step = 1,
  ) {
    this.nextOriginal = first;
  }

  get exhausted(): boolean {
    return this.issued >= this.limit;
  }

  /** The next request to send, or undefined when the limit is reached. */
  next(): NextRequest | undefined {
    if (this.issued >= this.limit) return undefined;
    this.issued++;
    if (this.readyTwins.length > 0) return { index: this.readyTwins.shift()!, twin: true };
    const index = this.nextOriginal;
    this.nextOriginal += this.step;
    if (this.pattern === 'concurrent' && this.plan.hasTwin(index)) this.readyTwins.push(index);
    return { index, twin: false };
  }

  /** Called with each reply: releases a sequential twin once its original has been answered. */
  replied(index: number, twin: boolean): void {
    if (!twin && this.pattern === 'sequential' && this.plan.hasTwin(index)) this.readyTwins.push(index);
  }
}
