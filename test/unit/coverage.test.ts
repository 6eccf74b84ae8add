/**
 * Coverage on hand-built records and snapshots: each condition is counted when the run reached it
 * and not when it came close (a send a microsecond too early, an unknown outcome, a refusal that
 * is an undersell), and each count of 0 that matters gives its warning.
 */
import { describe, expect, it } from 'vitest';
import { COVERAGE_COUNTS, coverageWarnings, type CoverageCounts } from '../../src/summary/coverage.js';
import { coverageOf } from '../../src/verify/coverage.js';
import { prepare } from '../../src/verify/invariants.js';
import { baseline, recordsOf, S0, SEED, snapshotOf, type EntrySpec, type RowSpec } from '../helpers/verify.js';

type World = { finals: (string | null)[]; entries: EntrySpec[]; rows: RowSpec[]; initialStock?: number };

const coverage = (w: World) =>
  coverageOf(prepare({ snapshot: snapshotOf(w.finals, w.entries), records: recordsOf(w.rows), initialStock: w.initialStock ?? S0, seed: SEED }));

/** The counts only, for toEqual against a whole expectation. */
const counts = (w: World): CoverageCounts => {
  const { warnings: _, ...rest } = coverage(w);
  return rest;
};

const world = (change: (w: World) => void): World => { const w: World = baseline(); change(w); return w; };

const NONE: CoverageCounts = Object.fromEntries(COVERAGE_COUNTS.map((n) => [n, 0])) as CoverageCounts;

/** One SKU of 10, one request ID sent twice (rows a then b, or as given); journal as given. */
function pair(a: Partial<RowSpec>, b: Partial<RowSpec>, finals: string[] = ['8'], entries: EntrySpec[] = [{ sku: 0, id: 0, from: 10, change: 2 }]): World {
  const row = (r: Partial<RowSpec>, twin: boolean): RowSpec => ({ index: 0, sku: 0, q: 2, outcome: 'ok', sent: 0, replied: 10, twin, ...r });
  return { finals, entries, rows: [row(a, false), row(b, true)] };
}

describe('the baseline run', () => {
  it('counts what it exercised: a retry after ok, a partial boundary, one recovered and one absent unknown outcome', () => {
    expect(counts(baseline())).toEqual({ ...NONE, twinAfterOk: 1, partialBoundary: 1, unknownRecovered: 1, unknownAbsent: 1 });
  });

  it('warns about what it did not: twins in flight together or after sold_out, a sell-out to 0, requests after it', () => {
    expect(coverage(baseline()).warnings).toEqual([
      'no duplicate was in flight together with its original: a race between two sends of one request ID would go unseen; use duplicates with pattern concurrent or cross-worker',
      'no duplicate was sent after its original\'s sold_out reply: a script that burns the ID of a refused request (answering its retry as a duplicate) would go unseen; use duplicates with pattern sequential in a sale that sells out',
      'no SKU sold out exactly to 0: an off-by-one at the last unit would go unseen; use a stock the requests exhaust, with quantity 1 among the quantities',
      'no request was sent after its SKU reached 0: a script that sells from an empty stock would go unseen; use more requests than the stock covers',
    ]);
  });
});

describe('twins', () => {
  it('concurrentTwin: each send went out before the other\'s reply arrived', () => {
    expect(counts(pair({ sent: 0, replied: 10 }, { outcome: 'duplicate', sent: 9, replied: 11 }))).toEqual({ ...NONE, concurrentTwin: 1 });
  });

  it('concurrentTwin: a twin sent (through another worker) before its original counts the same', () => {
    expect(counts(pair({ outcome: 'duplicate', sent: 5, replied: 12 }, { outcome: 'ok', sent: 0, replied: 10 })).concurrentTwin).toBe(1);
  });

  it('concurrentTwin: not when either send is unknown (it may never have reached Redis)', () => {
    expect(counts(pair({ sent: 0, replied: 10 }, { outcome: 'unknown', sent: 9, replied: 5000 }))).toEqual(NONE);
    expect(counts(pair({ outcome: 'unknown', sent: 0, replied: 5000 }, { sent: 9, replied: 15 }))).toEqual(NONE);
  });

  it('twinAfterOk: the twin went out after the original\'s ok reply', () => {
    expect(counts(pair({ sent: 0, replied: 10 }, { outcome: 'duplicate', sent: 11, replied: 15 }))).toEqual({ ...NONE, twinAfterOk: 1 });
  });

  it('twinAfterOk: the original sent after its twin\'s ok reply counts too (cross-worker order)', () => {
    expect(counts(pair({ outcome: 'duplicate', sent: 20, replied: 25 }, { outcome: 'ok', sent: 0, replied: 10 })).twinAfterOk).toBe(1);
  });

  it('twinAfterOk: a twin stamped with the reply\'s own time counts (the engine sends it while handling that reply)', () => {
    expect(counts(pair({ sent: 0, replied: 10 }, { outcome: 'duplicate', sent: 10, replied: 15 }))).toEqual({ ...NONE, twinAfterOk: 1 });
  });

  it('twinAfterOk: not a microsecond before the reply (in flight together then)', () => {
    expect(counts(pair({ sent: 0, replied: 10 }, { outcome: 'duplicate', sent: 9.999, replied: 15 }))).toEqual({ ...NONE, concurrentTwin: 1 });
  });

  it('twinAfterOk: not when the twin sent after the ok reply has an unknown outcome', () => {
    expect(counts(pair({ sent: 0, replied: 10 }, { outcome: 'unknown', sent: 11, replied: 5000 }))).toEqual(NONE);
  });

  // Refusals of 20 units with 10 left: each is also a partial-stock boundary.
  it('twinAfterSoldOut: the twin went out after the original\'s sold_out reply', () => {
    const w = pair({ outcome: 'sold_out', q: 20 }, { outcome: 'sold_out', q: 20, sent: 11, replied: 15 }, ['10'], []);
    expect(counts(w)).toEqual({ ...NONE, twinAfterSoldOut: 1, partialBoundary: 2 });
  });

  it('twinAfterSoldOut: not after another refusal (a duplicate reply), nor when they overlap', () => {
    const afterDuplicate = pair({ outcome: 'duplicate', q: 20 }, { outcome: 'sold_out', q: 20, sent: 11, replied: 15 }, ['10'], []);
    expect(counts(afterDuplicate)).toEqual({ ...NONE, partialBoundary: 1 });
    const overlapping = pair({ outcome: 'sold_out', q: 20 }, { outcome: 'sold_out', q: 20, sent: 5, replied: 15 }, ['10'], []);
    expect(counts(overlapping)).toEqual({ ...NONE, concurrentTwin: 1, partialBoundary: 2 });
  });

  it('a request sent once is no pair', () => {
    expect(counts({ finals: ['8'], entries: [{ sku: 0, id: 0, from: 10, change: 2 }], rows: [{ index: 0, sku: 0, q: 2, outcome: 'ok', v: 8, sent: 0, replied: 10 }] })).toEqual(NONE);
  });
});

describe('stock', () => {
  /** SKU 0 of 10 sold 10 -> 4 -> 1 (or to 0 with a last unit), then a refusal of `q` replied at 50. */
  function sale(opts: { q: number; final: number; later?: Partial<RowSpec> & { from: number } }): World {
    const entries: EntrySpec[] = [{ sku: 0, id: 0, from: 10, change: 6 }, { sku: 0, id: 1, from: 4, change: 3 }];
    const rows: RowSpec[] = [
      { index: 0, sku: 0, q: 6, outcome: 'ok', v: 4, sent: 0, replied: 10 },
      { index: 1, sku: 0, q: 3, outcome: 'ok', v: 1, sent: 20, replied: 30 },
      { index: 2, sku: 0, q: opts.q, outcome: 'sold_out', sent: 40, replied: 50 },
    ];
    if (opts.later) {
      const { from, ...row } = opts.later;
      entries.push({ sku: 0, id: 3, from, change: 1 });
      rows.push({ index: 3, sku: 0, q: 1, outcome: 'ok', v: from - 1, sent: 60, replied: 70, ...row });
    }
    return { finals: [String(opts.final)], entries, rows };
  }

  it('partialBoundary: a refusal of 3 with 1 left, proven by the final stock', () => {
    expect(counts(sale({ q: 3, final: 1 })).partialBoundary).toBe(1);
  });

  it('partialBoundary: proven by a deduction sent after the refusal\'s reply that found stock (the SKU then sold out)', () => {
    const w = sale({ q: 3, final: 0, later: { from: 1 } });
    expect(counts(w)).toMatchObject({ partialBoundary: 1, soldOutToZero: 1, afterSellOut: 0 });
  });

  it('partialBoundary: not when that deduction went out before the refusal\'s reply (no proof of the order)', () => {
    expect(counts(sale({ q: 3, final: 0, later: { from: 1, sent: 45 } })).partialBoundary).toBe(0);
  });

  it('partialBoundary: not when nothing proves stock remained', () => {
    expect(counts(sale({ q: 3, final: 0 })).partialBoundary).toBe(0);
  });

  it('partialBoundary: not for a refusal while stock covered it (an undersell, which no-undersell reports)', () => {
    const w = sale({ q: 3, final: 4 });
    w.entries.pop(); w.rows.splice(1, 1);
    expect(counts(w).partialBoundary).toBe(0);
  });

  it('soldOutToZero counts SKUs that ended at exactly 0, and none when they started at 0', () => {
    const w: World = { finals: ['0', '2', '0'], entries: [], rows: [] };
    expect(counts(w).soldOutToZero).toBe(2);
    expect(counts({ ...w, finals: ['0'], initialStock: 0 }).soldOutToZero).toBe(0);
  });

  it('afterSellOut: answered requests of the SKU sent after the ok reply that left 0', () => {
    const w: World = {
      finals: ['0', '10'],
      entries: [{ sku: 0, id: 0, from: 10, change: 10 }],
      rows: [
        { index: 0, sku: 0, q: 10, outcome: 'ok', v: 0, sent: 0, replied: 10 },
        { index: 1, sku: 0, q: 1, outcome: 'sold_out', sent: 5, replied: 12 }, // sent before the sell-out was acknowledged
        { index: 2, sku: 0, q: 1, outcome: 'sold_out', sent: 11, replied: 13 },
        { index: 6, sku: 0, q: 1, outcome: 'sold_out', sent: 10, replied: 13 }, // sent while handling that reply (same stamp)
        { index: 3, sku: 0, q: 2, outcome: 'sold_out', sent: 14, replied: 16 },
        { index: 4, sku: 0, q: 1, outcome: 'unknown', sent: 15, replied: 5000 }, // may never have reached Redis
        { index: 5, sku: 1, q: 1, outcome: 'sold_out', sent: 20, replied: 22 }, // another SKU
      ],
    };
    expect(counts(w)).toMatchObject({ afterSellOut: 3, soldOutToZero: 1, unknownAbsent: 1 });
  });

  it('afterSellOut: none when no ok reply left 0, even if the SKU ended there', () => {
    const w: World = {
      finals: ['0'],
      entries: [{ sku: 0, id: 0, from: 10, change: 10 }],
      rows: [
        { index: 0, sku: 0, q: 10, outcome: 'unknown', sent: 0, replied: 5000 },
        { index: 1, sku: 0, q: 1, outcome: 'sold_out', sent: 6000, replied: 6001 },
      ],
    };
    expect(counts(w)).toEqual({ ...NONE, soldOutToZero: 1, unknownRecovered: 1 });
  });
});

describe('records without send/reply times (all 0)', () => {
  it('count no timed condition, but still what Redis alone shows', () => {
    const w = world((x) => { for (const r of x.rows) { r.sent = 0; r.replied = 0; } });
    expect(counts(w)).toEqual({ ...NONE, partialBoundary: 1, unknownRecovered: 1, unknownAbsent: 1 });
    const soldOut: World = {
      finals: ['0'], entries: [{ sku: 0, id: 0, from: 10, change: 10 }],
      rows: [{ index: 0, sku: 0, q: 10, outcome: 'ok', v: 0 }, { index: 1, sku: 0, q: 1, outcome: 'sold_out' }, { index: 0, sku: 0, q: 10, outcome: 'duplicate', twin: true }],
    };
    expect(counts(soldOut)).toEqual({ ...NONE, soldOutToZero: 1 });
  });
});

describe('unknown outcomes', () => {
  it('an unknown send of an ID another send of which got ok is neither recovered nor absent (the ok explains the entry)', () => {
    const w = pair({ sent: 0, replied: 10 }, { outcome: 'unknown', sent: 11, replied: 5000 });
    expect(counts(w)).toEqual(NONE);
  });

  it('recovered and absent partition the unknown sends of IDs without an ok reply', () => {
    const w: World = {
      finals: ['7'],
      entries: [{ sku: 0, id: 0, from: 10, change: 2 }, { sku: 0, id: 2, from: 8, change: 1 }],
      rows: [
        { index: 0, sku: 0, q: 2, outcome: 'unknown', sent: 0, replied: 5000 },
        { index: 1, sku: 0, q: 2, outcome: 'unknown', sent: 1, replied: 5000 },
        { index: 2, sku: 0, q: 1, outcome: 'unknown', sent: 2, replied: 5000 },
        { index: 2, sku: 0, q: 1, outcome: 'duplicate', sent: 5001, replied: 5002, twin: true },
      ],
    };
    expect(counts(w)).toMatchObject({ unknownRecovered: 2, unknownAbsent: 1 });
  });
});

describe('warnings', () => {
  it('one per safety claim at 0, none for unknown outcomes at 0 (no timeouts is good news)', () => {
    const all = coverageWarnings(NONE);
    expect(all).toHaveLength(6);
    expect(all).toContain('no SKU reached a partial-stock boundary: a boundary bug would go unseen; use mixed quantities and a stock that sells out');
    expect(all.every((w) => !/\n/.test(w) && /would go unseen; use /.test(w))).toBe(true);
    const covered = Object.fromEntries(COVERAGE_COUNTS.map((n) => [n, n.startsWith('unknown') ? 0 : 1])) as CoverageCounts;
    expect(coverageWarnings(covered)).toEqual([]);
  });

  it('each claim warns alone when only it is missing', () => {
    for (const name of COVERAGE_COUNTS.filter((n) => !n.startsWith('unknown'))) {
      const one = { ...Object.fromEntries(COVERAGE_COUNTS.map((n) => [n, 3])), [name]: 0 } as CoverageCounts;
      expect(coverageWarnings(one), name).toHaveLength(1);
    }
  });
});
