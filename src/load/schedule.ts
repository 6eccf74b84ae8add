/**
 * Open-model schedule math, pure: when each send is due, and which due sends are dropped.
 *
 * The rate is piecewise linear in time (a constant rate is one flat stage; a ramp goes from
 * `startRate` to each stage's `target` over its duration), and send k (k = 0, 1, …) is due at the
 * time t_k where the expected number of sends so far, the integral of the rate, equals k. Every
 * t_k is computed from the one fixed start (t0), never from the previous send, so a slow reply or
 * a late timer cannot push the schedule back (coordinated omission, as wrk2 and k6's arrival-rate
 * executors avoid it). Worker w of W takes sends w, w+W, w+2W, … of the one global schedule.
 */

export interface RateStage {
  readonly durationMs: number;
  /** Rate (per second) reached at the end of the stage. */
  readonly target: number;
}

export class ArrivalSchedule {
  /** Stage boundaries: start time (ms), rate at start and end (per ms), sends before it. */
  private readonly startMs: Float64Array;
  private readonly fromRate: Float64Array;
  private readonly toRate: Float64Array;
  private readonly before: Float64Array;
  /** When the schedule ends (Infinity for an open-ended constant rate). */
  readonly totalMs: number;
  /** Sends the whole schedule holds (Infinity when open-ended). */
  readonly totalSends: number;

  constructor(startRate: number, stages: readonly RateStage[]) {
    const n = stages.length;
    this.startMs = new Float64Array(n);
    this.fromRate = new Float64Array(n);
    this.toRate = new Float64Array(n);
    this.before = new Float64Array(n);
    let t = 0;
    let rate = startRate / 1000;
    let sends = 0;
    stages.forEach((stage, i) => {
      const to = stage.target / 1000;
      this.startMs[i] = t;
      this.fromRate[i] = rate;
      this.toRate[i] = to;
      this.before[i] = sends;
      sends += ((rate + to) / 2) * stage.durationMs;
      t += stage.durationMs;
      rate = to;
    });
    this.totalMs = t;
    this.totalSends = sends;
  }

  /** A constant rate (per second), for `durationMs` (Infinity: until the requests run out). */
  static constant(rate: number, durationMs = Infinity): ArrivalSchedule {
    return new ArrivalSchedule(rate, [{ durationMs, target: rate }]);
  }

  /** The target rate (per second) at time tMs. */
  rateAt(tMs: number): number {
    const i = this.stageAt(tMs);
    if (i < 0) return 0;
    const d = this.stageDuration(i);
    const x = tMs - this.startMs[i]!;
    const a = this.fromRate[i]!;
    const b = this.toRate[i]!;
    return (Number.isFinite(d) ? a + ((b - a) * x) / d : a) * 1000;
  }

  /** Expected sends by time tMs (the integral of the rate from 0). */
  sendsBy(tMs: number): number {
    if (tMs <= 0) return 0;
    if (tMs >= this.totalMs) return this.totalSends;
    const i = this.stageAt(tMs);
    const x = tMs - this.startMs[i]!;
    const a = this.fromRate[i]!;
    const b = this.toRate[i]!;
    const d = this.stageDuration(i);
    const slope = Number.isFinite(d) ? (b - a) / d : 0;
    return this.before[i]! + a * x + (slope * x * x) / 2;
  }

  /** When send k is due (ms since t0), or Infinity when the schedule ends first. */
  timeOf(k: number): number {
    if (k >= this.totalSends) return Infinity;
    // The stage holding send k: the last whose sends-before is <= k.
    let lo = 0;
    let hi = this.before.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.before[mid]! <= k) lo = mid;
      else hi = mid - 1;
    }
    // A flat-zero stage holds no sends: move past stages that end with the same count.
    const i = lo;
    const need = k - this.before[i]!;
    const a = this.fromRate[i]!;
    const b = this.toRate[i]!;
    const d = this.stageDuration(i);
    const s = Number.isFinite(d) ? (b - a) / d / 2 : 0;
    let x: number;
    if (need === 0) x = 0;
    else if (s === 0) x = a > 0 ? need / a : Infinity;
    else {
      // s x^2 + a x - need = 0; this form stays exact when s is tiny or negative.
      const disc = a * a + 4 * s * need;
      x = disc < 0 ? Infinity : (2 * need) / (a + Math.sqrt(disc));
    }
    const t = this.startMs[i]! + x;
    return t < this.totalMs ? t : Infinity;
  }

  private stageAt(tMs: number): number {
    let found = -1;
    for (let i = 0; i < this.startMs.length; i++) if (this.startMs[i]! <= tMs) found = i;
    return found;
  }

  private stageDuration(i: number): number {
    return (i + 1 < this.startMs.length ? this.startMs[i + 1]! : this.totalMs) - this.startMs[i]!;
  }
}

/**
 * Walks one worker's share of a schedule. `poll(nowMs, free)` takes every send due by now: up to
 * `free` of them (the room under max in flight) are to be sent, with their intended times left in
 * `intendedMs`; the rest are counted in `dropped`, never delayed (a delayed send would hide the
 * very queueing the open model exists to show).
 */
export class Pacer {
  /** Intended send times (ms since t0) of the sends the last poll returned. */
  intendedMs = new Float64Array(64);
  scheduled = 0;
  dropped = 0;
  private k: number;

  constructor(
    private readonly schedule: ArrivalSchedule,
    first = 0,
    private readonly step = 1,
  ) {
    this.k = first;
  }

  /** When the next send is due (ms since t0), Infinity when the schedule is over. */
  get nextMs(): number {
    return this.schedule.timeOf(this.k);
  }

  poll(nowMs: number, free: number): number {
    let sends = 0;
    for (;;) {
      const t = this.schedule.timeOf(this.k);
      // Infinity: the schedule is over (checked apart, since Infinity > Infinity is false).
      if (t === Infinity || t > nowMs) return sends;
      this.k += this.step;
      this.scheduled++;
      if (sends >= free) {
        this.dropped++;
        continue;
      }
      if (sends === this.intendedMs.length) {
        const grown = new Float64Array(sends * 2);
        grown.set(this.intendedMs);
        this.intendedMs = grown;
      }
      this.intendedMs[sends++] = t;
    }
  }
}
