/**
 * Each invariant check on hand-built snapshots and records: it passes on a correct run and fails,
 * with a sentence naming the offender, on the fault it exists for.
 */
import { describe, expect, it } from 'vitest';
import {
  checkAll, checkAtMostOnce, checkBoundedJournal, checkBounds, checkChain, checkConservation, checkDurability,
  checkNoEmptyPass, checkNoLostAck, checkNoUndersell, checkNoUnexpected, checkRealTimeOrder, checkWellFormed,
  INVARIANT_NAMES, MAX_EXAMPLES, prepare,
} from '../../src/verify/invariants.js';
import type { InvariantResult } from '../../src/summary/summary.js';
import { formatInvariants } from '../../src/report/console.js';
import { baseline, recordsOf, S0, SEED, snapshotOf, type EntrySpec, type RowSpec } from '../helpers/verify.js';

type World = { finals: (string | null)[]; entries: EntrySpec[]; rows: RowSpec[]; hlen?: number[]; faults?: string[] };

const ctx = (w: World) =>
  prepare({ snapshot: snapshotOf(w.finals, w.entries, w.hlen), records: recordsOf(w.rows), initialStock: S0, seed: SEED, ...(w.faults ? { faults: w.faults } : {}) });

/** The baseline with a change applied. */
const world = (change: (w: World) => void): World => { const w: World = baseline(); change(w); return w; };

function expectFail(result: InvariantResult, example: RegExp, violations?: number): void {
  expect(result.status).toBe('fail');
  expect(result.examples.some((e) => example.test(e)), `examples: ${JSON.stringify(result.examples)}`).toBe(true);
  if (violations !== undefined) expect(result.violations).toBe(violations);
}

describe('the baseline run', () => {
  it('passes every invariant but durability, which is skipped with a reason', () => {
    const results = checkAll({ snapshot: snapshotOf(baseline().finals, baseline().entries), records: recordsOf(baseline().rows), initialStock: S0, seed: SEED });
    expect(results.map((r) => r.name)).toEqual([...INVARIANT_NAMES]);
    for (const r of results) expect([r.name, r.status]).toEqual([r.name, r.name === 'durability' ? 'skipped' : 'pass']);
    expect(results.find((r) => r.name === 'durability')!.reason).toMatch(/no crash was injected/);
  });
});

describe('well-formed', () => {
  it.each([
    ['-3', /SKU 0: final stock -3 is below 0: oversold by 3 units/],
    ['nan', /SKU 0: final stock "nan" is not an integer/],
    ['4.5', /SKU 0: final stock "4.5" is not an integer/],
    ['11', /SKU 0: final stock 11 is above the initial 10/],
    [null, /SKU 0: the stock key is missing/],
  ])('fails on a final stock of %s', (final, sentence) => {
    expectFail(checkWellFormed(ctx(world((w) => { w.finals[0] = final; }))), sentence, 1);
  });

  it.each<[string, Partial<EntrySpec>, RegExp]>([
    ['not JSON', { raw: '{"from":' }, /journal entry of DEC-1-1 \(SKU 0\) is not a JSON object/],
    ['by another ID', { fields: { by: 'DEC-1-9' } }, /DEC-1-1 \(SKU 0\) does not name its request ID in `by`/],
    ['change 0', { change: 0, to: 8 }, /has change 0 \(expected an integer >= 1\)/],
    ['a fractional change', { change: 0.5, to: 7.5 }, /has change 0.5/],
    ['to != from - change', { to: 6 }, /goes from 8 to 6 with change 3 \(to should be 5\)/],
    ['from as non-number', { fields: { from: 'eight' } }, /has from not a number and to 5 \(expected integers\)/],
  ])('fails on an entry with %s', (_, spec, sentence) => {
    expectFail(checkWellFormed(ctx(world((w) => { w.entries[1] = { ...w.entries[1]!, ...spec }; }))), sentence, 1);
  });

  it('accepts the seed script\'s entries, which store from and change as strings', () => {
    const w = world((w) => { w.entries[0] = { sku: 0, id: 0, raw: JSON.stringify({ action: 'increase', from: '10', to: 8, change: '2', by: 'DEC-1-0', timestamp: 1 }) }; });
    expect(checkWellFormed(ctx(w)).status).toBe('pass');
  });
});

describe('conservation', () => {
  it('fails when stock left without a journal entry', () => {
    expectFail(checkConservation(ctx(world((w) => { w.entries.splice(1, 1); }))), /SKU 0: stock fell by 5 \(10 -> 5\) but its journal's changes add up to 2/, 1);
  });
  it('fails when the journal records more than left', () => {
    expectFail(checkConservation(ctx(world((w) => { w.finals[1] = '8'; }))), /SKU 1: stock fell by 2 .* add up to 3/);
  });
  it('fails when the final stock is not a number', () => {
    expectFail(checkConservation(ctx(world((w) => { w.finals[0] = 'nan'; }))), /SKU 0: final stock "nan" is not a number/);
  });
});

describe('chain', () => {
  it('fails on a gap: stock fell with no entry', () => {
    const w = world((w) => { w.entries[1] = { sku: 0, id: 1, from: 7, change: 2 }; });
    expectFail(checkChain(ctx(w)), /SKU 0: stock went from 8 to 7 with no journal entry \(the next entry, DEC-1-1, starts at 7\)/, 1);
  });
  it('fails on an overlap: two deductions from the same level (not serialized)', () => {
    // Both from 10: conservation holds (2 + 3 == 10 - 5) but the chain does not.
    const w = world((w) => { w.entries[1] = { sku: 0, id: 1, from: 10, change: 3 }; w.entries[0] = { sku: 0, id: 0, from: 10, change: 2 }; });
    expect(checkConservation(ctx(w)).status).toBe('pass');
    expectFail(checkChain(ctx(w)), /SKU 0: DEC-1-1 deducts from 10 but the stock was 8 \(after DEC-1-0\): two deductions overlap/);
  });
  it('fails when the chain does not end at the final stock', () => {
    expectFail(checkChain(ctx(world((w) => { w.finals[0] = '4'; }))), /SKU 0: the journal ends at 5 but the stock is 4: 1 unit left without an entry/);
  });
  it('fails on an entry that starts above the initial stock', () => {
    const w = world((w) => { w.entries[2] = { sku: 1, id: 2, from: 11, change: 2 }; });
    expectFail(checkChain(ctx(w)), /SKU 1: DEC-1-2 deducts from 11 but the stock was 10 \(the initial stock\)/);
  });
});

describe('no-lost-ack', () => {
  it('fails when an ok request has no journal entry', () => {
    expectFail(checkNoLostAck(ctx(world((w) => { w.entries.splice(1, 1); }))), /^request DEC-1-1 got ok \(stock 5\) but has no journal entry in SKU 0$/, 1);
  });
  it('fails when the entry records another quantity', () => {
    expectFail(checkNoLostAck(ctx(world((w) => { w.entries[1] = { sku: 0, id: 1, from: 8, change: 1, to: 5 }; }))), /request DEC-1-1 deducted 3 \(ok, stock 5\) but its journal entry records change 1/);
  });
  it('fails when the reply is not the stored stock', () => {
    expectFail(checkNoLostAck(ctx(world((w) => { w.rows[2]!.v = 8; }))), /request DEC-1-1 got ok \(stock 8\) but its journal entry says the stock went to 5/);
  });
  it('fails when the entry is in another SKU\'s journal', () => {
    expectFail(checkNoLostAck(ctx(world((w) => { w.entries[1]!.sku = 1; }))), /request DEC-1-1 got ok \(stock 5\) but has no journal entry in SKU 0/);
  });
});

describe('no-unexpected', () => {
  it('passes an unknown outcome found in the journal as recovered', () => {
    const r = checkNoUnexpected(ctx(baseline()));
    expect(r.status).toBe('pass');
    expect(r.actual).toMatch(/1 recovered/);
  });
  it.each<[string, (w: World) => void, RegExp]>([
    ['a foreign ID', (w) => w.entries.push({ sku: 1, id: 'ORDER-77', from: 7, change: 1 }), /SKU 1's journal has an entry for "ORDER-77", a request ID this run never sent/],
    ['an ID never sent', (w) => w.entries.push({ sku: 1, id: 9, from: 7, change: 1 }), /SKU 1's journal has an entry for DEC-1-9, which this run never sent/],
    ['an ID beyond every index sent', (w) => w.entries.push({ sku: 1, id: 4000000000, from: 7, change: 1 }), /SKU 1's journal has an entry for "DEC-1-4000000000", a request ID this run never sent/],
    ['another SKU', (w) => { w.entries[2]!.sku = 0; }, /DEC-1-2 was sent to SKU 1 but is journaled in SKU 0/],
    ['another quantity', (w) => { w.entries[2] = { sku: 1, id: 2, from: 10, change: 2 }; }, /DEC-1-2 asked for 1 but its journal entry records change 2/],
    ['an ID refused every time', (w) => w.entries.push({ sku: 0, id: 3, from: 5, change: 6, to: -1 }), /DEC-1-3 is in the journal although no send of it got ok \(1 send, last reply sold_out\)/],
  ])('fails on %s', (_, change, sentence) => {
    expectFail(checkNoUnexpected(ctx(world(change))), sentence, 1);
  });
});

describe('at-most-once', () => {
  it('fails when an ID got two ok replies', () => {
    const w = world((w) => { w.rows[1] = { ...w.rows[1]!, outcome: 'ok', v: 3 }; });
    expectFail(checkAtMostOnce(ctx(w)), /request DEC-1-0 got ok 2 times \(first stock 8\): it was deducted more than once/, 1);
  });
  it('fails when a duplicate reply\'s ID is not in the journal', () => {
    const w = world((w) => { w.rows.push({ index: 5, sku: 1, q: 1, outcome: 'duplicate' }); });
    expectFail(checkAtMostOnce(ctx(w)), /request DEC-1-5 was rejected as a duplicate but is not in SKU 1's journal/, 1);
  });
});

describe('bounds', () => {
  it('reports unknown outcomes found in the journal as recovered, not failures', () => {
    const r = checkBounds(ctx(baseline()));
    expect(r.status).toBe('pass');
    expect(r.recovered).toEqual({ count: 1, ids: ['DEC-1-4'] });
    expect(r.actual).toMatch(/2 unknown outcomes, 1 ID recovered/);
  });
  it('does not count an unknown send as recovered when another send of the ID got ok', () => {
    const w = world((w) => { w.rows.push({ index: 2, sku: 1, q: 1, outcome: 'unknown', twin: true }); });
    expect(checkBounds(ctx(w)).recovered).toEqual({ count: 1, ids: ['DEC-1-4'] });
  });
  it('fails when ok replies acknowledge more than left the stock', () => {
    expectFail(checkBounds(ctx(world((w) => { w.finals[0] = '6'; }))), /SKU 0: ok replies acknowledged 5 units but only 4 left the stock \(10 -> 6\)/, 1);
  });
  it('fails when more left than ok and unknown outcomes allow', () => {
    expectFail(checkBounds(ctx(world((w) => { w.finals[1] = '5'; }))), /SKU 1: 5 units left the stock \(10 -> 5\) but ok replies and unknown outcomes account for at most 4/, 1);
  });
  it('fails without unknown outcomes when one unit too many left', () => {
    const w = world((w) => { w.rows = w.rows.filter((r) => r.outcome !== 'unknown'); w.finals[1] = '8'; });
    expectFail(checkBounds(ctx(w)), /SKU 1: 2 units left the stock \(10 -> 8\) but ok replies account for at most 1/);
  });
});

describe('no-undersell', () => {
  it('fails on a sold_out while the stock could still cover it', () => {
    const w = world((w) => { w.rows[3]!.q = 5; });
    expectFail(checkNoUndersell(ctx(w)), /request DEC-1-3 for 5 units of SKU 0 was answered sold_out, but SKU 0 still has 5 in stock/, 1);
  });
});

describe('real-time-order', () => {
  it('fails when a request sent after an acknowledgement sees a stock not below it', () => {
    // DEC-1-1 is sent (20) after DEC-1-0's reply (10) but claims stock 8, equal to DEC-1-0's.
    const w = world((w) => { w.rows[2]!.v = 8; });
    expectFail(checkRealTimeOrder(ctx(w)), /request DEC-1-1 was sent 0.01 ms after request DEC-1-0 got ok \(stock 8\), yet its reply says stock 8 \(SKU 0\)/, 1);
  });
  it('does not order requests that were in flight together', () => {
    // DEC-1-1 sent (5) before DEC-1-0 replied (10): either order is linearizable.
    const w = world((w) => { w.rows[2]!.sent = 5; w.rows[2]!.v = 5; w.rows[0]!.v = 8; });
    expect(checkRealTimeOrder(ctx(w)).status).toBe('pass');
    const swapped = world((w) => { w.rows[2]!.sent = 5; w.rows[0]!.v = 5; w.rows[2]!.v = 7; });
    expect(checkRealTimeOrder(ctx(swapped)).status).toBe('pass');
  });
  describe('with several agents (clocks agreeing to within 50 us)', () => {
    // The violation of the first test: DEC-1-1 sent 10 us after DEC-1-0's reply, claiming the same stock.
    const violating = () => world((w) => { w.rows[2]!.v = 8; });
    const rowAgent = (w: World, agents: number[]) => Uint16Array.from(w.rows.map((_, i) => agents[i] ?? 0));
    const agentsCtx = (w: World, agents: number[]) =>
      prepare({ snapshot: snapshotOf(w.finals, w.entries), records: recordsOf(w.rows), initialStock: S0, seed: SEED, clockSlackUs: 50, rowAgent: rowAgent(w, agents) });
    it('leaves a pair of two agents closer than the uncertainty unjudged, and counts it', () => {
      const c = agentsCtx(violating(), [0, 0, 1]);
      const r = checkRealTimeOrder(c);
      expect(r.status).toBe('pass');
      expect(c.clockSkipped.pairs).toBe(1);
      expect(r.actual).toMatch(/; 1 pair closer than the agents' clock uncertainty \(50 us\) not judged$/);
    });
    it('judges one agent\'s own pairs exactly, however close', () => {
      const c = agentsCtx(violating(), [1, 1, 1]);
      expectFail(checkRealTimeOrder(c), /request DEC-1-1 was sent 0\.01 ms after request DEC-1-0 got ok \(stock 8\)/, 1);
      expect(c.clockSkipped.pairs).toBe(0);
    });
    it('judges a pair of two agents further apart than the uncertainty', () => {
      const w = violating();
      w.rows[2]!.sent = 100;
      w.rows[2]!.replied = 110;
      expectFail(checkRealTimeOrder(agentsCtx(w, [0, 0, 1])), /request DEC-1-1 was sent 0\.09 ms after request DEC-1-0 got ok \(stock 8\)/, 1);
    });
  });
  it('is skipped, saying why, when no times were kept', () => {
    const w = world((w) => { for (const r of w.rows) { r.sent = 0; r.replied = 0; } });
    const r = checkRealTimeOrder(ctx(w));
    expect(r.status).toBe('skipped');
    expect(r.reason).toMatch(/no send\/reply times/);
  });
});

describe('bounded-journal', () => {
  it('fails when a SKU\'s journal has more entries than IDs sent to it', () => {
    expectFail(checkBoundedJournal(ctx(world((w) => { w.hlen = [2, 5]; }))), /SKU 1: its journal has 5 entries but only 3 distinct request IDs were sent to it/, 1);
  });
});

describe('durability', () => {
  it('is skipped without a crash, with or without other faults (a crash is judged in durability.ts)', () => {
    expect(checkDurability(ctx(baseline())).status).toBe('skipped');
    const r = checkDurability(ctx(world((w) => { w.faults = ['pause', 'pause', 'script-flush']; })));
    expect(r.status).toBe('skipped');
    expect(r.reason).toBe('no crash was injected in this run (its faults, pause, script-flush, stop or slow the server but keep its data)');
  });
});

describe('no-empty-pass', () => {
  it('fails a run with no ok reply', () => {
    const w = world((w) => { w.rows = w.rows.filter((r) => r.outcome !== 'ok'); });
    expectFail(checkNoEmptyPass(ctx(w)), /no request got ok \(duplicate 1, sold_out 1, unknown 2\)/);
  });
  it('fails a run that sent nothing', () => {
    expectFail(checkNoEmptyPass(ctx({ finals: ['10'], entries: [], rows: [] })), /nothing was sent/);
  });
});

describe('evidence', () => {
  it('keeps at most ten examples but counts every violation', () => {
    const rows: RowSpec[] = Array.from({ length: 25 }, (_, i) => ({ index: i, sku: 0, q: 1, outcome: 'ok' as const, v: 9 - i }));
    const r = checkNoLostAck(ctx({ finals: ['0'], entries: [], rows }));
    expect(r.violations).toBe(25);
    expect(r.examples).toHaveLength(MAX_EXAMPLES);
    expect(r.actual).toBe('25 of 25 ok replies not journaled as acknowledged');
  });
  it('prints a failure with what was expected and the first offender', () => {
    const results = checkAll({ snapshot: snapshotOf(['5', '7'], baseline().entries.slice(0, 1).concat(baseline().entries.slice(2))), records: recordsOf(baseline().rows), initialStock: S0, seed: SEED });
    const text = formatInvariants(results).join('\n');
    expect(text).toMatch(/FAIL {2}no-lost-ack {6}1 of 3 ok replies not journaled as acknowledged\n {10}expected each of 3 ok replies .*\n {10}e\.g\. request DEC-1-1 got ok \(stock 5\) but has no journal entry in SKU 0\n/);
    expect(text).toMatch(/PASS {2}at-most-once/);
    expect(text).toMatch(/SKIP {2}durability {7}no crash was injected/);
  });
});

describe('violations per SKU', () => {
  it('counts each violation at the SKU it was found at, afresh on each checkAll', () => {
    // DEC-1-1's entry is lost from SKU 0 (no-lost-ack, conservation and chain there); SKU 1 stays correct.
    const b = baseline();
    const c = prepare({ snapshot: snapshotOf(b.finals, b.entries.filter((e) => e.id !== 1)), records: recordsOf(b.rows), initialStock: S0, seed: SEED });
    const results = checkAll(c);
    const failed = results.filter((r) => r.status === 'fail').reduce((n, r) => n + r.violations!, 0);
    expect(c.skuViolations[1]).toBe(0);
    expect(c.skuViolations[0]).toBe(failed);
    checkAll(c);
    expect(c.skuViolations[0]).toBe(failed);
    expect(prepare({ snapshot: snapshotOf(b.finals, b.entries), records: recordsOf(b.rows), initialStock: S0, seed: SEED }).skuViolations).toEqual(new Uint32Array(2));
  });
});
