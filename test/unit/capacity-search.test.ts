/**
 * The rate search of `sellout capacity`, on a synthetic measure whose knee is known (a step passes
 * iff its rate <= knee, unless a test adds noise) and a fake clock that each step advances by its
 * stepMs plus a fixed overhead.
 */
import { describe, expect, it } from 'vitest';
import { searchMaxRate, type SearchOptions, type SearchResult, type StepPhase, type StepVerdict } from '../../src/capacity/search.js';

interface Measured {
  readonly rate: number;
  readonly call: number;
}

/** A deterministic PRNG (mulberry32), so a noisy test fails the same way every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Judge = (rate: number, phase: StepPhase, call: number) => boolean;

/** A fake clock and a measure that advances it by stepMs + overheadMs per step and judges by `judge`. */
function harness(judge: Judge, overheadMs: number | ((call: number) => number) = 500) {
  let now = 1_000_000;
  const calls: { rate: number; phase: StepPhase; stepMs: number }[] = [];
  const clock = () => now;
  const measure = async (rate: number, phase: StepPhase, stepMs: number): Promise<{ verdict: StepVerdict; measured: Measured }> => {
    calls.push({ rate, phase, stepMs });
    now += stepMs + (typeof overheadMs === 'number' ? overheadMs : overheadMs(calls.length));
    const pass = judge(rate, phase, calls.length);
    return { verdict: { pass, reasons: pass ? [] : [`latency.ok.p99 over the limit at ${rate}/s`] }, measured: { rate, call: calls.length } };
  };
  return { clock, measure, calls };
}

const knee = (k: number): Judge => (rate) => rate <= k;

function options(startRate: number, ceiling: number, extra: Partial<SearchOptions> = {}): SearchOptions {
  return { startRate, ceiling, stepMs: 10_000, budgetMs: 3_600_000, ...extra };
}

/** Properties every result keeps, noise or not. */
function expectConsistent(result: SearchResult<Measured>, stepMs = 10_000): void {
  const failedConfirms = result.steps.filter((s) => s.phase === 'confirm' && !s.pass).map((s) => s.rate);
  if (result.maxRate !== null) {
    expect(failedConfirms).not.toContain(result.maxRate);
    const last = result.steps.at(-1)!;
    expect(last).toMatchObject({ phase: 'confirm', pass: true, rate: result.maxRate, stepMs: 2 * stepMs });
    if (result.lowestFailure !== null) expect(result.maxRate).toBeLessThan(result.lowestFailure);
  }
  const failures = result.steps.filter((s) => !s.pass).map((s) => s.rate);
  expect(result.lowestFailure).toBe(failures.length === 0 ? null : Math.min(...failures));
  for (const [i, s] of result.steps.entries()) {
    expect(Number.isInteger(s.rate) && s.rate >= 1).toBe(true);
    expect(s.measured.call).toBe(i + 1); // recorded in order, with the measure's payload
    expect(s.reasons.length === 0).toBe(s.pass);
    expect(s.endedMs).toBeGreaterThanOrEqual(s.startedMs);
    if (i > 0) expect(s.startedMs).toBeGreaterThanOrEqual(result.steps[i - 1]!.endedMs);
  }
}

describe('capacity rate search', () => {
  // Growth passes floor(log2(knee/start)) + 1 times, fails once, bisects a factor of 2 down to 5%
  // in ceil(log2(ln 2 / ln 1.05)) = 4 geometric midpoints, and confirms once.
  const bound = (k: number, start: number) => Math.floor(Math.log2(k / start)) + 1 + 1 + 4 + 1;

  it.each([
    { k: 137, ceiling: 1_000 },
    { k: 5_000, ceiling: 20_000 },
    { k: 48_000, ceiling: 60_000 },
    { k: 48_000, ceiling: 400_000 },
    { k: 1_234, ceiling: 1_200 }, // knee just above the ceiling, below the cap
  ])('converges to within 5% below a knee of $k/s (ceiling $ceiling/s) in a bounded number of steps', async ({ k, ceiling }) => {
    const start = Math.max(100, Math.round(ceiling / 16));
    const h = harness(knee(k));
    const result = await searchMaxRate(h.measure, options(start, ceiling), h.clock);
    expect(result.stoppedBy).toBe('converged');
    expect(result.maxRate).not.toBeNull();
    expect(result.maxRate!).toBeLessThanOrEqual(k);
    expect(result.maxRate! * 1.05).toBeGreaterThanOrEqual(k);
    expect(result.steps.length).toBeLessThanOrEqual(bound(k, start));
    expect(result.bestUnconfirmed).toBeNull();
    expect(result.note).toBeUndefined();
    expect(Math.max(...result.steps.map((s) => s.rate))).toBeLessThanOrEqual(Math.round(ceiling * 1.25));
    expect(result.steps[0]).toMatchObject({ rate: start, phase: 'grow', stepMs: 10_000, startedMs: 0, endedMs: 10_500 });
    expect(result.steps.filter((s) => s.phase === 'confirm')).toHaveLength(1);
    expectConsistent(result);
  });

  it('converges within 5% and within the bound over a sweep of knees', async () => {
    for (let k = 101; k < 200_000; k = Math.round(k * 1.37)) {
      const h = harness(knee(k));
      const result = await searchMaxRate(h.measure, options(100, 200_000), h.clock);
      expect(result.maxRate!, `knee ${k}`).toBeLessThanOrEqual(k);
      expect(result.maxRate! * 1.05, `knee ${k}`).toBeGreaterThanOrEqual(k);
      expect(result.steps.length, `knee ${k}`).toBeLessThanOrEqual(bound(k, 100));
    }
  });

  it('bisects at the geometric midpoint', async () => {
    const h = harness(knee(5_000));
    const result = await searchMaxRate(h.measure, options(1_000, 20_000), h.clock);
    expect(result.steps.map((s) => `${s.phase} ${s.rate} ${s.pass ? 'pass' : 'fail'}`)).toEqual([
      'grow 1000 pass', 'grow 2000 pass', 'grow 4000 pass', 'grow 8000 fail',
      'bisect 5657 fail', 'bisect 4757 pass', 'bisect 5188 fail', 'bisect 4968 pass',
      'confirm 4968 pass',
    ]);
  });

  it('steps down from a startRate above the knee until a rate passes, then bisects', async () => {
    const h = harness(knee(137));
    const result = await searchMaxRate(h.measure, options(1_000, 16_000), h.clock);
    expect(result.steps.slice(0, 4).map((s) => [s.phase, s.rate, s.pass])).toEqual([
      ['grow', 1000, false], ['down', 500, false], ['down', 250, false], ['down', 125, true],
    ]);
    expect(result.steps.slice(4).every((s) => s.phase === 'bisect' || s.phase === 'confirm')).toBe(true);
    expect(result.stoppedBy).toBe('converged');
    expect(result.maxRate!).toBeLessThanOrEqual(137);
    expect(result.maxRate! * 1.05).toBeGreaterThanOrEqual(137);
    expectConsistent(result);
  });

  it('stops at the cap (ceiling * 1.25) when the SLO holds there: stoppedBy ceiling, with a note', async () => {
    const h = harness(knee(5_000));
    const result = await searchMaxRate(h.measure, options(100, 1_000), h.clock);
    expect(result.stoppedBy).toBe('ceiling');
    expect(result.maxRate).toBe(1_250);
    expect(result.note).toMatch(/1250\/s/);
    expect(result.steps.map((s) => s.rate)).toEqual([100, 200, 400, 800, 1_250, 1_250]);
    expect(result.steps.at(-1)!.phase).toBe('confirm');
    expectConsistent(result);
  });

  it('a startRate above the cap starts at the cap', async () => {
    const h = harness(knee(5_000));
    const result = await searchMaxRate(h.measure, options(10_000, 1_000), h.clock);
    expect(result.steps.map((s) => s.rate)).toEqual([1_250, 1_250]);
    expect(result.stoppedBy).toBe('ceiling');
  });

  it('nothing passes even at startRate / 64: no-pass, no rate, a note naming the lowest rate tried', async () => {
    const h = harness(() => false);
    const result = await searchMaxRate(h.measure, options(6_400, 100_000), h.clock);
    expect(result.steps.map((s) => s.rate)).toEqual([6_400, 3_200, 1_600, 800, 400, 200, 100]);
    expect(result).toMatchObject({ stoppedBy: 'no-pass', maxRate: null, bestUnconfirmed: null, lowestFailure: 100 });
    expect(result.note).toBe('the SLO did not hold even at 100/s, the lowest rate tried');
    expectConsistent(result);
  });

  it('a failure well under the knee, once at random, leaves an answer that is never above the knee nor above that failure', async () => {
    const k = 20_000;
    let injected = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const random = prng(seed);
      let failAt: number | null = null;
      const h = harness((rate, phase) => {
        if (failAt === null && rate < k * 0.8 && random() < 0.3) {
          failAt = rate;
          injected++;
          return false;
        }
        return rate <= k;
      });
      const result = await searchMaxRate(h.measure, options(1_000, 50_000), h.clock);
      const limit = Math.min(k, failAt ?? Infinity);
      expect(result.stoppedBy, `seed ${seed}`).toBe('converged');
      expect(result.maxRate!, `seed ${seed}`).toBeLessThanOrEqual(k);
      expect(result.maxRate!, `seed ${seed}`).toBeLessThan(failAt ?? Infinity);
      expect(result.maxRate! * 1.05, `seed ${seed}`).toBeGreaterThanOrEqual(limit - 1);
      expectConsistent(result);
    }
    expect(injected).toBeGreaterThan(20); // the noise did happen
  });

  it('a pass above the knee, once, does not move the answer above the knee: its confirmation fails and the search resumes below', async () => {
    const k = 5_000;
    let lucky = false;
    const h = harness((rate) => {
      if (rate > k && !lucky) {
        lucky = true;
        return true;
      }
      return rate <= k;
    });
    const result = await searchMaxRate(h.measure, options(1_000, 20_000), h.clock);
    expect(result.steps.find((s) => s.rate === 8_000 && s.phase === 'grow')?.pass).toBe(true);
    expect(result.steps.find((s) => s.rate === 8_000 && s.phase === 'confirm')?.pass).toBe(false);
    expect(result.stoppedBy).toBe('converged');
    expect(result.maxRate!).toBeLessThanOrEqual(k);
    expect(result.maxRate! * 1.05).toBeGreaterThanOrEqual(k);
    expectConsistent(result);
  });

  it('a confirmation that fails once makes that rate a failure bound; the search resumes below it and confirms again', async () => {
    let confirms = 0;
    const h = harness((rate, phase) => (phase === 'confirm' && ++confirms === 1 ? false : rate <= 5_000));
    const result = await searchMaxRate(h.measure, options(1_000, 20_000), h.clock);
    const confirmSteps = result.steps.filter((s) => s.phase === 'confirm');
    expect(confirmSteps.map((s) => [s.rate, s.pass])).toEqual([[4_968, false], [4_757, true]]);
    expect(result).toMatchObject({ stoppedBy: 'converged', maxRate: 4_757, lowestFailure: 4_968 });
    expectConsistent(result);
  });

  it('gives up after three failed confirmations: no rate, the best unconfirmed pass in the note', async () => {
    const h = harness((rate, phase) => phase !== 'confirm' && rate <= 5_000);
    const result = await searchMaxRate(h.measure, options(1_000, 20_000), h.clock);
    expect(result.steps.filter((s) => s.phase === 'confirm')).toHaveLength(3);
    expect(result.stoppedBy).toBe('unconfirmed');
    expect(result.maxRate).toBeNull();
    expect(result.bestUnconfirmed).not.toBeNull();
    expect(result.note).toContain(`best unconfirmed pass was ${result.bestUnconfirmed}/s`);
    expectConsistent(result);
  });

  describe('budget', () => {
    // knee 5000 from 1000/s: grow 1000, 2000, 4000 pass, 8000 fail, bisect 5657 fail, 4757 pass
    // (6 steps of 10 s + 1 s overhead: 66 s), then 5188, 4968, confirm 4968 (20 s + 1 s: 109 s).
    const run = (budgetMs: number, overheadMs: number | ((call: number) => number) = 1_000) => {
      const h = harness(knee(5_000), overheadMs);
      return searchMaxRate(h.measure, options(1_000, 20_000, { budgetMs }), h.clock);
    };

    it('confirms the best pass early when only the confirmation still fits: a confirmed rate, a note with the bounds', async () => {
      const result = await run(90_000);
      expect(result.steps.map((s) => `${s.phase} ${s.rate}`).slice(-2)).toEqual(['bisect 4757', 'confirm 4757']);
      expect(result).toMatchObject({ stoppedBy: 'budget', maxRate: 4_757, bestUnconfirmed: null });
      expect(result.note).toBe('the 90 s budget ran out after 7 step(s) before the search converged: 4757/s is confirmed, the limit lies between it and 5657/s');
      expect(result.steps.at(-1)!.endedMs).toBeLessThanOrEqual(90_000);
      expectConsistent(result);
    });

    it('counts the overhead each step costs beyond its stepMs: the search does not overrun the budget', async () => {
      // At 55 s another bisection and the confirmation need 10 + 20 s plus 2 x 1 s of overhead:
      // 87 s > 86.5 s, so the best pass so far (4000/s) is confirmed instead. Without the overhead
      // (85 s) it would bisect to 66 s and its confirmation would end at 87 s, past the budget.
      const result = await run(86_500);
      expect(result.steps.map((s) => `${s.phase} ${s.rate}`).slice(-2)).toEqual(['bisect 5657', 'confirm 4000']);
      expect(result).toMatchObject({ stoppedBy: 'budget', maxRate: 4_000 });
      expect(result.steps.at(-1)!.endedMs).toBeLessThanOrEqual(86_500);
    });

    it('stops mid-bisection when a slow step leaves no room even for the confirmation: no rate, the best unconfirmed pass named', async () => {
      // The sixth step (bisect 4757, a pass) takes 15 s more than planned: at 81 s the confirmation
      // (20 s + 3.5 s of average overhead) no longer fits 90 s.
      const result = await run(90_000, (call) => (call === 6 ? 16_000 : 1_000));
      expect(result.steps).toHaveLength(6);
      expect(result).toMatchObject({ stoppedBy: 'budget', maxRate: null, bestUnconfirmed: 4_757 });
      expect(result.note).toBe('the 90 s budget ran out after 6 step(s) before a rate was confirmed; the best unconfirmed pass was 4757/s (lowest failure 5657/s)');
    });

    it('a budget shorter than one step still runs the first step', async () => {
      const result = await run(1_000);
      expect(result.steps).toHaveLength(1);
      expect(result).toMatchObject({ stoppedBy: 'budget', maxRate: null, bestUnconfirmed: 1_000 });
    });

    it('a budget that fits the whole search changes nothing', async () => {
      const result = await run(109_000);
      expect(result).toMatchObject({ stoppedBy: 'converged', maxRate: 4_968 });
      expect(result.steps.at(-1)!.endedMs).toBe(109_000);
    });
  });

  it('an abort stops before the next step and keeps what was measured', async () => {
    const controller = new AbortController();
    const h = harness((rate, _phase, call) => {
      if (call === 3) controller.abort();
      return rate <= 5_000;
    });
    const result = await searchMaxRate(h.measure, options(1_000, 20_000), h.clock, controller.signal);
    expect(result.steps.map((s) => s.rate)).toEqual([1_000, 2_000, 4_000]);
    expect(result).toMatchObject({ stoppedBy: 'aborted', maxRate: null, bestUnconfirmed: 4_000 });
    expect(result.note).toMatch(/^interrupted after 3 step\(s\)/);

    const before = harness(knee(5_000));
    const none = await searchMaxRate(before.measure, options(1_000, 20_000), before.clock, AbortSignal.abort());
    expect(none).toMatchObject({ stoppedBy: 'aborted', maxRate: null, steps: [] });
  });

  it('offers only rounded rates, never 0', async () => {
    const h = harness(knee(5_000));
    const hundreds = await searchMaxRate(h.measure, options(1_000, 20_000, { round: (r) => Math.round(r / 100) * 100 }), h.clock);
    expect(hundreds.steps.every((s) => s.rate % 100 === 0)).toBe(true);
    expect(hundreds.maxRate!).toBeLessThanOrEqual(5_000);
    const tiny = harness(() => false);
    const floor = await searchMaxRate(tiny.measure, options(3, 10, { round: Math.floor }), tiny.clock);
    expect(floor.steps.map((s) => s.rate)).toEqual([3, 1]);
    expect(floor.stoppedBy).toBe('no-pass');
  });

  it('rejects options that cannot make a search', async () => {
    const h = harness(knee(5_000));
    await expect(searchMaxRate(h.measure, options(1_000, 20_000, { growth: 1 }), h.clock)).rejects.toThrow(RangeError);
    await expect(searchMaxRate(h.measure, options(0, 20_000), h.clock)).rejects.toThrow(/startRate/);
    expect(h.calls).toHaveLength(0);
  });
});
