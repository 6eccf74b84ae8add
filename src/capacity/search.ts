/**
 * The rate search of `sellout capacity`, pure: which constant rate to offer next, given what the
 * steps so far measured. The caller's `measure` runs one constant-rate step and judges it (a step
 * passes when every SLO and every invariant holds, nothing was dropped and no outcome was an error
 * or unknown); this module only decides rates, keeps the record and watches the budget, so it is
 * tested on a synthetic measure and a fake clock.
 *
 * The search:
 * - grow: from `startRate`, multiply by `growth` while the step passes, never offering more than
 *   `ceiling * 1.25` (the cap: a rate the target cannot reach even at full depth is pointless);
 * - down: when nothing has passed below the lowest failure (`startRate` failed), divide by
 *   `growth` down to `startRate / 64` (at least 1/s) to find any pass;
 * - bisect: between the highest pass below the lowest failure and that failure, at the geometric
 *   midpoint (the stop rule is a ratio, and halving the log-ratio each step reaches it one step
 *   sooner than the arithmetic midpoint from a factor of 2), until (fail - pass) / pass <= precision
 *   or the midpoint rounds onto a bound;
 * - confirm: the best pass runs once more for twice as long. A pass is the answer; a failure makes
 *   that rate the lowest failure and the search resumes below it, at most `confirmations` times.
 *
 * Bounds under noise: the lowest failure is the lowest rate that ever failed (a failed confirmation
 * included), and the pass bound is the highest pass strictly below it. A pass above the lowest
 * failure is recorded but moves nothing: the answer is a rate the SLO holds at, and a failure at a
 * lower rate says it does not reliably hold up there, so trusting that pass could report a rate the
 * target failed below. A single spurious failure therefore makes the answer conservative (never
 * above the true knee); a single spurious pass is caught by the confirmation.
 */

export type StepPhase = 'grow' | 'down' | 'bisect' | 'confirm';

export interface StepVerdict {
  readonly pass: boolean;
  /** Why the step failed (empty on a pass). */
  readonly reasons: readonly string[];
}

export interface SearchStep<M> {
  /** The constant rate offered (per second). */
  readonly rate: number;
  readonly phase: StepPhase;
  /** How long the step was asked to run (a confirmation runs 2 * stepMs). */
  readonly stepMs: number;
  readonly pass: boolean;
  readonly reasons: readonly string[];
  readonly measured: M;
  /** Start and end of the step, ms since the search started (by the search's clock). */
  readonly startedMs: number;
  readonly endedMs: number;
}

export interface SearchOptions {
  /** The first step's rate (the caller derives it, e.g. ceiling / 16, at least 100/s). */
  readonly startRate: number;
  /** The closed-loop maximum: growth never offers more than ceiling * 1.25. */
  readonly ceiling: number;
  /** Time at each rate; a confirmation runs 2 * stepMs. */
  readonly stepMs: number;
  /** The whole search. The first step always runs. */
  readonly budgetMs: number;
  /** Stop bisecting when (fail - pass) / pass <= precision. Default 0.05. */
  readonly precision?: number;
  /** Growth factor, and the step-down divisor. Default 2. */
  readonly growth?: number;
  /** Failed confirmations allowed before giving up without a confirmed rate. Default 3. */
  readonly confirmations?: number;
  /** Rates offered are whole numbers per second (default Math.round), never below 1. */
  readonly round?: (rate: number) => number;
}

export type StoppedBy =
  /** Bisection reached the precision and the best pass confirmed. */
  | 'converged'
  /** The cap (ceiling * 1.25) passed and confirmed: the SLO holds up to the most this target can do. */
  | 'ceiling'
  /** The budget ran out; maxRate is the best confirmed rate, if any. */
  | 'budget'
  /** Nothing passed, down to the lowest rate tried. */
  | 'no-pass'
  /** `confirmations` confirmations failed; no rate confirmed. */
  | 'unconfirmed'
  /** The signal aborted; what was measured is kept. */
  | 'aborted';

export interface SearchResult<M> {
  /** The best confirmed rate; null when none confirmed. */
  readonly maxRate: number | null;
  /** When maxRate is null: the highest pass below the lowest failure, unconfirmed (null if none). */
  readonly bestUnconfirmed: number | null;
  /** The lowest rate that failed (a failed confirmation included); null if none did. */
  readonly lowestFailure: number | null;
  readonly steps: readonly SearchStep<M>[];
  readonly stoppedBy: StoppedBy;
  /** One sentence when the answer is partial or bounded by something other than a failure. */
  readonly note?: string;
}

export type MeasureStep<M> = (rate: number, phase: StepPhase, stepMs: number) => Promise<{ verdict: StepVerdict; measured: M }>;

/** The lowest rate the step-down goes to is startRate / DOWN_LIMIT (at least 1/s). */
const DOWN_LIMIT = 64;

function check(name: string, value: number, ok: boolean): void {
  if (!Number.isFinite(value) || !ok) throw new RangeError(`searchMaxRate: ${name} must be ${name === 'growth' ? '> 1' : '> 0'}, got ${value}`);
}

const perSecond = (rate: number): string => `${rate}/s`;

/**
 * Searches the highest constant rate at which `measure` passes. Never throws on a failing step;
 * an error thrown by `measure` propagates (the steps so far are lost with it, so `measure` should
 * turn a target's trouble into a failing verdict instead).
 */
export async function searchMaxRate<M>(
  measure: MeasureStep<M>,
  options: SearchOptions,
  clock: () => number = () => performance.now(),
  signal?: AbortSignal,
): Promise<SearchResult<M>> {
  const precision = options.precision ?? 0.05;
  const growth = options.growth ?? 2;
  const confirmations = options.confirmations ?? 3;
  const { stepMs, budgetMs } = options;
  check('startRate', options.startRate, options.startRate > 0);
  check('ceiling', options.ceiling, options.ceiling > 0);
  check('stepMs', stepMs, stepMs > 0);
  check('budgetMs', budgetMs, budgetMs > 0);
  check('precision', precision, precision > 0);
  check('growth', growth, growth > 1);
  check('confirmations', confirmations, confirmations > 0);
  const userRound = options.round ?? Math.round;
  const round = (rate: number): number => Math.max(1, userRound(rate));

  const cap = round(options.ceiling * 1.25);
  const startRate = Math.min(cap, round(options.startRate));
  const minRate = Math.min(startRate, round(startRate / DOWN_LIMIT));

  const t0 = clock();
  const steps: SearchStep<M>[] = [];
  const passes: number[] = [];
  let lowestFailure: number | null = null;
  let confirmsFailed = 0;

  /** The highest pass strictly below the lowest failure (see the header on noise). */
  const passBound = (): number | null => {
    let best: number | null = null;
    for (const rate of passes) if ((lowestFailure === null || rate < lowestFailure) && (best === null || rate > best)) best = rate;
    return best;
  };

  const finish = (maxRate: number | null, stoppedBy: StoppedBy, note?: string): SearchResult<M> => ({
    maxRate,
    bestUnconfirmed: maxRate === null ? passBound() : null,
    lowestFailure,
    steps,
    stoppedBy,
    ...(note === undefined ? {} : { note }),
  });

  /**
   * Whether `count` more steps lasting `ms` in all still fit the budget, counting for each the
   * average overhead the steps so far cost beyond their stepMs (start-up, drain, verification, the
   * gaps between steps). The first step always runs.
   */
  const fits = (ms: number, count = 1): boolean => {
    if (steps.length === 0) return true;
    const elapsed = clock() - t0;
    const asked = steps.reduce((sum, s) => sum + s.stepMs, 0);
    const overhead = Math.max(0, (elapsed - asked) / steps.length);
    return elapsed + ms + overhead * count <= budgetMs;
  };

  const unconfirmedNote = (why: string): string => {
    const best = passBound();
    return best === null
      ? `${why} before any step passed`
      : `${why} before a rate was confirmed; the best unconfirmed pass was ${perSecond(best)}${lowestFailure === null ? '' : ` (lowest failure ${perSecond(lowestFailure)})`}`;
  };

  const budgetWhy = (): string => `the ${+(budgetMs / 1000).toFixed(1)} s budget ran out after ${steps.length} step(s)`;

  for (;;) {
    if (signal?.aborted) return finish(null, 'aborted', unconfirmedNote(`interrupted after ${steps.length} step(s)`));

    const lo = passBound();
    const hi = lowestFailure;
    let rate: number;
    let phase: StepPhase;
    if (lo === null) {
      // Nothing passed below the lowest failure: the first step, or step down from that failure.
      if (hi === null) {
        rate = startRate;
        phase = 'grow';
      } else {
        if (hi <= minRate) {
          return finish(null, 'no-pass', `the SLO did not hold even at ${perSecond(hi)}, the lowest rate tried`);
        }
        rate = Math.max(minRate, Math.min(hi - 1, round(hi / growth)));
        phase = 'down';
      }
    } else if (hi === null) {
      // Growing (or the cap passed: confirm it; nothing above it is worth offering).
      if (lo >= cap) {
        rate = lo;
        phase = 'confirm';
      } else {
        rate = Math.min(cap, Math.max(lo + 1, round(lo * growth)));
        phase = 'grow';
      }
    } else {
      const mid = round(Math.sqrt(lo * hi));
      if ((hi - lo) / lo <= precision || mid <= lo || mid >= hi) {
        rate = lo;
        phase = 'confirm';
      } else {
        rate = mid;
        phase = 'bisect';
      }
    }

    // The budget: a grow or bisect step is only worth running if the confirmation still fits after
    // it; when only the confirmation fits, confirm the best pass now (a confirmed answer at a wider
    // precision beats an unconfirmed one), and when not even that fits, stop.
    let cutShort = false;
    const confirmMs = 2 * stepMs;
    if (phase === 'confirm') {
      if (!fits(confirmMs)) return finish(null, 'budget', unconfirmedNote(budgetWhy()));
    } else if (lo !== null) {
      if (!fits(stepMs + confirmMs, 2)) {
        if (!fits(confirmMs)) return finish(null, 'budget', unconfirmedNote(budgetWhy()));
        rate = lo;
        phase = 'confirm';
        cutShort = true;
      }
    } else if (!fits(stepMs)) {
      return finish(null, 'budget', unconfirmedNote(budgetWhy()));
    }
    if (phase === 'confirm' && confirmsFailed >= confirmations) {
      return finish(null, 'unconfirmed', unconfirmedNote(`${confirmsFailed} confirmation(s) failed`));
    }

    const ms = phase === 'confirm' ? confirmMs : stepMs;
    const startedMs = clock() - t0;
    const { verdict, measured } = await measure(rate, phase, ms);
    const endedMs = clock() - t0;
    steps.push({ rate, phase, stepMs: ms, pass: verdict.pass, reasons: verdict.pass ? [] : [...verdict.reasons], measured, startedMs, endedMs });

    if (verdict.pass) {
      passes.push(rate);
      if (phase !== 'confirm') continue;
      if (cutShort) {
        const above = hi === null ? `above it` : `between it and ${perSecond(hi)}`;
        return finish(rate, 'budget', `${budgetWhy()} before the search converged: ${perSecond(rate)} is confirmed, the limit lies ${above}`);
      }
      if (hi === null) {
        return finish(rate, 'ceiling', `the SLO holds up to ${perSecond(rate)}, 1.25 x the closed-loop maximum: the most this target can do, not a limit of the SLO`);
      }
      return finish(rate, 'converged');
    }
    lowestFailure = lowestFailure === null ? rate : Math.min(lowestFailure, rate);
    if (phase === 'confirm') confirmsFailed += 1;
  }
}
