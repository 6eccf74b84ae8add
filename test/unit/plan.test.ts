import { describe, expect, it } from 'vitest';
import { Plan, unitHash } from '../../src/load/plan.js';
import { RequestSource } from '../../src/load/source.js';
import { nextRequest, type NextRequest } from '../helpers/source.js';

const base = { seed: 7, skuCount: 10, selection: { type: 'uniform' as const }, quantity: [{ quantity: 1, weight: 1 }], duplicateRatio: 0 };

describe('plan', () => {
  it('is deterministic from the seed and differs across seeds', () => {
    const a = new Plan(base);
    const b = new Plan(base);
    const c = new Plan({ ...base, seed: 8 });
    const skus = (p: Plan) => Array.from({ length: 200 }, (_, i) => p.skuOf(i));
    expect(skus(a)).toEqual(skus(b));
    expect(skus(a)).not.toEqual(skus(c));
  });

  it('unitHash stays in [0, 1) and is roughly uniform', () => {
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const u = unitHash(3, i, 1);
      expect(u >= 0 && u < 1).toBe(true);
      buckets[Math.floor(u * 10)]++;
    }
    for (const n of buckets) expect(Math.abs(n - 10_000)).toBeLessThan(600);
  });

  it('hot selection sends about `share` of requests to SKU 0', () => {
    const plan = new Plan({ ...base, selection: { type: 'hot', share: 0.7 } });
    let hot = 0;
    for (let i = 0; i < 20_000; i++) if (plan.skuOf(i) === 0) hot++;
    expect(hot / 20_000).toBeGreaterThan(0.68);
    expect(hot / 20_000).toBeLessThan(0.72);
  });

  it('zipf selection makes SKU 0 the most popular and SKU ranks decrease', () => {
    const plan = new Plan({ ...base, skuCount: 100, selection: { type: 'zipf', exponent: 1.2 } });
    const counts = new Array(100).fill(0);
    for (let i = 0; i < 50_000; i++) counts[plan.skuOf(i)]++;
    expect(counts[0]).toBeGreaterThan(counts[1]);
    expect(counts[1]).toBeGreaterThan(counts[10]);
    expect(counts[10]).toBeGreaterThan(counts[99]);
  });

  it('quantity weights are honoured', () => {
    const plan = new Plan({ ...base, quantity: [{ quantity: 1, weight: 0.9 }, { quantity: 3, weight: 0.1 }] });
    let threes = 0;
    for (let i = 0; i < 20_000; i++) {
      const q = plan.quantityOf(i);
      expect([1, 3]).toContain(q);
      if (q === 3) threes++;
    }
    expect(threes / 20_000).toBeGreaterThan(0.08);
    expect(threes / 20_000).toBeLessThan(0.12);
  });
});

describe('request source', () => {
  it('concurrent twins follow their original immediately and the total equals the limit', () => {
    const plan = new Plan({ ...base, duplicateRatio: 0.5 });
    const source = new RequestSource(plan, 'concurrent', 1000);
    const sent: NextRequest[] = [];
    for (let next = nextRequest(source); next; next = nextRequest(source)) sent.push(next);
    expect(sent).toHaveLength(1000);
    sent.forEach((s, i) => {
      if (s.twin) expect(sent[i - 1]).toEqual({ index: s.index, twin: false });
    });
    const twins = sent.filter((s) => s.twin).length;
    expect(twins).toBeGreaterThan(250);
    expect(twins).toBeLessThan(420);
  });

  it('sequential twins appear only after their original has replied', () => {
    const plan = new Plan({ ...base, duplicateRatio: 1 });
    const source = new RequestSource(plan, 'sequential', 6);
    expect(nextRequest(source)).toEqual({ index: 0, twin: false });
    expect(nextRequest(source)).toEqual({ index: 1, twin: false });
    source.replied(1, false);
    expect(nextRequest(source)).toEqual({ index: 1, twin: true });
    source.replied(0, false);
    expect(nextRequest(source)).toEqual({ index: 0, twin: true });
    expect(nextRequest(source)).toEqual({ index: 2, twin: false });
    // The last unit of the limit is kept for the twin 2 owes: no original 3 whose twin could not go.
    expect(nextRequest(source)).toBeUndefined();
    source.replied(2, false);
    expect(nextRequest(source)).toEqual({ index: 2, twin: true });
    expect(nextRequest(source)).toBeUndefined();
    expect(source.exhausted).toBe(true);
  });
});
