/**
 * The SKUs of a run in summary.json, bounded at any SKU count. Every SKU goes to skus.csv (a report
 * file, one row each); summary.json keeps their totals (`skuTotals`) and the few SKUs most worth a
 * look (`skus`, at most MAX_LISTED_SKUS), chosen in this order:
 *  1. SKUs at which the invariants found violations, most violations first (where the script broke);
 *  2. SKUs whose final stock is missing or not an integer;
 *  3. lowest final stock first (the SKUs that sold most, where races and sell-outs happen);
 *  4. most journal entries first; then the lower SKU number.
 * A run with at most MAX_LISTED_SKUS SKUs lists them all, in that order.
 */
import type { SkuRanks, SkuSummary, SkuTotals, SummaryV1 } from './summary.js';

export const MAX_LISTED_SKUS = 20;

/** Every SKU of a run, in columns (a million SKUs cost a few typed arrays, not a million objects). */
export interface SkuTable {
  readonly count: number;
  /** Initial stock of every SKU (one per scenario). */
  readonly initial: number;
  /** Final stock as stored (null when missing); `final` is it as a number when it is an integer string, else NaN. */
  readonly finalRaw: readonly (string | null)[];
  readonly final: Float64Array;
  /** Journal entries read back. */
  readonly journal: Uint32Array;
  /** Violations the invariants found at each SKU; undefined when nothing was checked. */
  readonly violations: Uint32Array | undefined;
  /** What the load saw at each SKU; undefined for a table rebuilt from a summary. */
  readonly load?: SkuLoad | undefined;
}

/** What the load saw at each SKU (verify/sku-table.ts skuLoadOf). */
export interface SkuLoad {
  /** Requests sent to the SKU (twins included). */
  readonly requests: Uint32Array;
  readonly ok: Uint32Array;
  /** When it sold out, ms since t0; NaN when it never did. */
  readonly soldOutMs: Float64Array;
  /** p99 of its ok replies, microseconds; NaN when it had none. */
  readonly okP99Us: Float64Array;
}

/** How many SKUs each of summary.json's rankings (first to sell out, slowest) lists. */
export const MAX_RANKED_SKUS = 10;

/** One SKU as summary.json lists it. */
export function skuRow(table: SkuTable, sku: number): SkuSummary {
  const final = table.final[sku]!;
  const violations = table.violations?.[sku] ?? 0;
  return {
    sku,
    initial: table.initial,
    final: Number.isNaN(final) ? table.finalRaw[sku] ?? null : final,
    journal: table.journal[sku]!,
    ...(violations > 0 ? { violations } : {}),
    ...(table.load === undefined ? {} : loadFields(table.load, sku)),
  };
}

function loadFields(load: SkuLoad, sku: number): Pick<SkuSummary, 'requests' | 'ok' | 'soldOutMs' | 'okP99Us'> {
  const soldOut = load.soldOutMs[sku]!;
  const p99 = load.okP99Us[sku]!;
  return {
    requests: load.requests[sku]!,
    ok: load.ok[sku]!,
    soldOutMs: Number.isNaN(soldOut) ? null : Math.round(soldOut * 1000) / 1000,
    okP99Us: Number.isNaN(p99) ? null : Math.round(p99),
  };
}

/** The `max` SKUs first in `before`'s order among those `keep` admits, one pass over the table. */
function topSkus(table: SkuTable, max: number, keep: (sku: number) => boolean, before: (a: number, b: number) => number): SkuSummary[] {
  const kept: number[] = [];
  for (let sku = 0; sku < table.count; sku++) {
    if (!keep(sku) || (kept.length === max && before(sku, kept[max - 1]!) >= 0)) continue;
    let at = kept.length;
    while (at > 0 && before(sku, kept[at - 1]!) < 0) at--;
    kept.splice(at, 0, sku);
    if (kept.length > max) kept.pop();
  }
  return kept.map((sku) => skuRow(table, sku));
}

/**
 * The load's view of the SKUs, bounded: the first to sell out and the slowest (highest ok p99),
 * `max` each, and when the first and the last SKU sold out. Undefined without the load's figures.
 */
export function skuRanksOf(table: SkuTable, max = MAX_RANKED_SKUS): SkuRanks | undefined {
  const load = table.load;
  if (load === undefined) return undefined;
  let soldOut = 0;
  let first = Infinity;
  let last = -Infinity;
  for (let sku = 0; sku < table.count; sku++) {
    const at = load.soldOutMs[sku]!;
    if (Number.isNaN(at)) continue;
    soldOut++;
    first = Math.min(first, at);
    last = Math.max(last, at);
  }
  const ms = (v: number) => (Number.isFinite(v) ? Math.round(v * 1000) / 1000 : null);
  return {
    soldOut,
    firstSoldOutMs: ms(first),
    lastSoldOutMs: ms(last),
    firstSoldOut: topSkus(table, max, (k) => !Number.isNaN(load.soldOutMs[k]!), (a, b) => load.soldOutMs[a]! - load.soldOutMs[b]! || a - b),
    slowest: topSkus(table, max, (k) => !Number.isNaN(load.okP99Us[k]!), (a, b) => load.okP99Us[b]! - load.okP99Us[a]! || a - b),
  };
}

/** SKUs sold out by the end of each interval starting at `t` (ms since t0), for the sell-out timeline. */
export function soldOutSeries(load: SkuLoad, t: readonly number[], intervalMs: number): number[] {
  const times = Float64Array.from(load.soldOutMs.filter((v) => !Number.isNaN(v))).sort();
  const out: number[] = [];
  let at = 0;
  for (const start of t) {
    while (at < times.length && times[at]! < start + intervalMs) at++;
    out.push(at);
  }
  return out;
}

/** Negative when SKU a is more worth a look than SKU b (the order in this file's header). */
function worse(table: SkuTable, a: number, b: number): number {
  const va = table.violations?.[a] ?? 0;
  const vb = table.violations?.[b] ?? 0;
  if (va !== vb) return vb - va;
  const fa = table.final[a]!;
  const fb = table.final[b]!;
  const unreadableA = Number.isNaN(fa);
  const unreadableB = Number.isNaN(fb);
  if (unreadableA !== unreadableB) return unreadableA ? -1 : 1;
  if (!unreadableA && fa !== fb) return fa - fb;
  return table.journal[b]! - table.journal[a]! || a - b;
}

/** The SKUs summary.json lists, most worth a look first: one pass, keeping the best `max` in a small sorted list. */
export function listedSkus(table: SkuTable, max = MAX_LISTED_SKUS): SkuSummary[] {
  return topSkus(table, max, () => true, (a, b) => worse(table, a, b));
}

/** Every SKU summed up; `listed` is how many the summary lists. */
export function skuTotalsOf(table: SkuTable, listed: number): SkuTotals {
  let final = 0;
  let readable = 0;
  let journal = 0;
  let soldOut = 0;
  let failing = 0;
  for (let sku = 0; sku < table.count; sku++) {
    const f = table.final[sku]!;
    if (!Number.isNaN(f)) {
      final += f;
      readable++;
      if (f === 0) soldOut++;
    }
    journal += table.journal[sku]!;
    if ((table.violations?.[sku] ?? 0) > 0) failing++;
  }
  return {
    count: table.count,
    listed,
    initial: table.initial * table.count,
    final,
    sold: table.initial * readable - final,
    journal,
    soldOut,
    unreadable: table.count - readable,
    failing,
  };
}

/**
 * The SKUs a summary lists: its `skus`, or for a summary written before `skuTotals` existed (its
 * `skus` then listed every SKU, in SKU order) the same few a newer summary would list.
 */
export function listedSkusOfSummary(summary: Pick<SummaryV1, 'skus' | 'skuTotals'>): SkuSummary[] {
  if (summary.skuTotals !== undefined) return summary.skus;
  const rows = summary.skus;
  const table: SkuTable = {
    count: rows.length,
    initial: 0,
    finalRaw: rows.map((r) => (typeof r.final === 'string' ? r.final : null)),
    final: Float64Array.from(rows, (r) => (typeof r.final === 'number' ? r.final : NaN)),
    journal: Uint32Array.from(rows, (r) => r.journal),
    violations: Uint32Array.from(rows, (r) => r.violations ?? 0),
  };
  // Ranked by position in the list, then mapped back to the rows as written.
  return listedSkus(table).map((r) => rows[r.sku]!);
}

/**
 * The totals of a summary: its `skuTotals`, or for a summary written before they existed (its
 * `skus` then listed every SKU) the same figures summed from that list.
 */
export function skuTotalsOfSummary(summary: Pick<SummaryV1, 'skus' | 'skuTotals'>): SkuTotals {
  if (summary.skuTotals !== undefined) return summary.skuTotals;
  const rows = summary.skus;
  const readable = rows.filter((k): k is SkuSummary & { final: number } => typeof k.final === 'number');
  return {
    count: rows.length,
    listed: rows.length,
    initial: rows.reduce((n, k) => n + k.initial, 0),
    final: readable.reduce((n, k) => n + k.final, 0),
    sold: readable.reduce((n, k) => n + k.initial - k.final, 0),
    journal: rows.reduce((n, k) => n + k.journal, 0),
    soldOut: readable.filter((k) => k.final === 0).length,
    unreadable: rows.length - readable.length,
    failing: rows.filter((k) => (k.violations ?? 0) > 0).length,
  };
}
