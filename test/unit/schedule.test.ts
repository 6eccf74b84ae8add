import { describe, expect, it } from 'vitest';
import { ArrivalSchedule, Pacer } from '../../src/load/schedule.js';

describe('arrival schedule', () => {
  it('a constant rate spaces sends evenly from t0', () => {
    const s = ArrivalSchedule.constant(1000, 10_000);
    expect(s.timeOf(0)).toBe(0);
    expect(s.timeOf(1)).toBeCloseTo(1, 9);
    expect(s.timeOf(2500)).toBeCloseTo(2500, 6);
    expect(s.totalSends).toBe(10_000);
    expect(s.timeOf(10_000)).toBe(Infinity);
  });

  it('a ramp integrates the rate: 0 -> 1000/s over 2 s holds 1000 sends, half of them in the last 0.59 s', () => {
    const s = new ArrivalSchedule(0, [{ durationMs: 2000, target: 1000 }]);
    expect(s.totalSends).toBeCloseTo(1000, 9);
    expect(s.sendsBy(1000)).toBeCloseTo(250, 9); // (1/2) * 0.5/ms * 1000 ms
    expect(s.timeOf(250)).toBeCloseTo(1000, 6);
    expect(s.timeOf(500)).toBeCloseTo(2000 / Math.SQRT2, 6);
    expect(s.rateAt(1000)).toBeCloseTo(500, 9);
  });

  it('multi-stage: timeOf inverts sendsBy across stages, including a ramp down', () => {
    const s = new ArrivalSchedule(100, [
      { durationMs: 1000, target: 300 },
      { durationMs: 1000, target: 300 },
      { durationMs: 500, target: 0 },
    ]);
    expect(s.totalSends).toBeCloseTo(200 + 300 + 75, 9);
    for (const k of [0, 1, 17, 199, 200, 201, 350, 499, 500, 520, 574]) {
      const t = s.timeOf(k);
      expect(s.sendsBy(t)).toBeCloseTo(k, 6);
    }
    expect(s.timeOf(576)).toBe(Infinity);
  });

  it('workers take every W-th send of one schedule: together they send exactly the whole schedule', () => {
    const s = ArrivalSchedule.constant(1000, 1000);
    const taken = [0, 1, 2].map((w) => {
      const p = new Pacer(s, w, 3);
      return p.poll(Infinity, Infinity);
    });
    expect(taken.reduce((a, b) => a + b, 0)).toBe(1000);
  });
});

describe('pacer (dropped counting)', () => {
  it('sends what is due, nothing early', () => {
    const p = new Pacer(ArrivalSchedule.constant(1000, 100), 0, 1);
    expect(p.poll(4.5, 100)).toBe(5); // due at 0, 1, 2, 3, 4 ms
    expect(Array.from(p.intendedMs.subarray(0, 5))).toEqual([0, 1, 2, 3, 4].map((x) => expect.closeTo(x, 9)));
    expect(p.poll(4.9, 100)).toBe(0);
    expect(p.nextMs).toBeCloseTo(5, 9);
    expect(p.dropped).toBe(0);
  });

  it('counts due sends beyond the room under max in flight as dropped, and never sends them later', () => {
    const p = new Pacer(ArrivalSchedule.constant(1000, 100), 0, 1);
    expect(p.poll(9.5, 3)).toBe(3); // 10 due, room for 3
    expect(p.dropped).toBe(7);
    expect(p.scheduled).toBe(10);
    // The dropped ones are gone: the next poll starts at the send due at 10 ms.
    expect(p.poll(10.5, 100)).toBe(1);
    expect(p.intendedMs[0]).toBeCloseTo(10, 9);
    expect(p.poll(Infinity, 0)).toBe(0);
    expect(p.dropped).toBe(7 + 89);
    expect(p.scheduled).toBe(100);
  });

  it('a late poll catches up with the intended (past) times, so latency is measured from them', () => {
    const p = new Pacer(ArrivalSchedule.constant(100, 1000), 0, 1);
    expect(p.poll(55, 1000)).toBe(6);
    expect(p.intendedMs[5]).toBeCloseTo(50, 9);
  });
});
