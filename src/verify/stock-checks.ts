/**
 * Checks of Redis's own record, per SKU: the stock and journal are well-formed, the journal
 * accounts for every unit that left (conservation) as one unbroken chain of deductions, the stock
 * that left lies between what was acknowledged and what might have been (bounds), nothing was
 * refused while stock remained (no-undersell), and the journal holds no more entries than IDs sent.
 * DESIGN.md §5, invariants 1, 2, 3, 7, 8 and 10.
 */
import { sortRowsBy } from './sort-rows.js';
import { requestId } from '../keys.js';
import { Code } from '../outcomes.js';
import { timesKept, type VerifyContext } from './context.js';
import type { Snapshot } from './snapshot.js';
import type { InvariantResult } from '../summary/summary.js';
import { groupBySku, rowsOf } from './by-sku.js';
import { Examples, journalId, plural, shown, verdict } from './result.js';
import { isRecovered, journalRowIn } from './tally.js';

const isCount = (n: number) => Number.isInteger(n) && n >= 1;
const entryName = (snapshot: Snapshot, seed: number, row: number) => `journal entry of ${journalId(snapshot, seed, row)} (SKU ${snapshot.journal.sku[row]})`;

/** 1. well-formed: Sf is an integer string in 0..S0; each entry is JSON with by == ID, integer change >= 1, to == from - change. */
export function checkWellFormed({ snapshot, initialStock, seed, skuViolations }: VerifyContext): InvariantResult {
  const bad = new Examples(skuViolations);
  let badSkus = 0;
  for (let sku = 0; sku < snapshot.skuCount; sku++) {
    const raw = snapshot.finalRaw[sku] ?? null;
    const final = snapshot.final[sku]!;
    let problem: string | undefined;
    if (raw === null) problem = `SKU ${sku}: the stock key is missing`;
    else if (Number.isNaN(final)) problem = `SKU ${sku}: final stock ${shown(raw)} is not an integer`;
    else if (final < 0) problem = `SKU ${sku}: final stock ${final} is below 0: oversold by ${plural(-final, 'unit')}`;
    else if (final > initialStock) problem = `SKU ${sku}: final stock ${final} is above the initial ${initialStock}: stock was added`;
    if (problem !== undefined) { badSkus++; bad.addAt(sku, () => problem!); }
  }
  const j = snapshot.journal;
  for (let row = 0; row < j.count; row++) {
    const from = j.from[row]!;
    const to = j.to[row]!;
    const change = j.change[row]!;
    if (j.unparsable.has(row)) bad.addAt(j.sku[row]!, () => `${entryName(snapshot, seed, row)} is not a JSON object: ${shown(j.unparsable.get(row)!)}`);
    else if (!j.byMatches[row]) bad.addAt(j.sku[row]!, () => `${entryName(snapshot, seed, row)} does not name its request ID in \`by\``);
    else if (!isCount(change)) bad.addAt(j.sku[row]!, () => `${entryName(snapshot, seed, row)} has change ${shown(change)} (expected an integer >= 1)`);
    else if (!Number.isInteger(from) || !Number.isInteger(to)) bad.addAt(j.sku[row]!, () => `${entryName(snapshot, seed, row)} has from ${shown(from)} and to ${shown(to)} (expected integers)`);
    else if (to !== from - change) bad.addAt(j.sku[row]!, () => `${entryName(snapshot, seed, row)} goes from ${from} to ${to} with change ${change} (to should be ${from - change})`);
  }
  return verdict(
    {
      name: 'well-formed',
      description: 'stock is an integer between 0 and the initial stock; every journal entry is JSON naming its request, with an integer change >= 1 and to == from - change',
      expected: `0 <= final <= ${initialStock} (an integer) for each of ${plural(snapshot.skuCount, 'SKU')}; every entry well-formed`,
    },
    bad,
    `${plural(snapshot.skuCount, 'SKU')} and ${plural(j.count, 'journal entry', 'journal entries')} well-formed`,
    [badSkus > 0 ? plural(badSkus, 'SKU') : '', bad.total > badSkus ? plural(bad.total - badSkus, 'journal entry', 'journal entries') : '']
      .filter(Boolean).join(' and ') + ' malformed',
  );
}

/** 2. conservation: per SKU, S0 - Sf == sum of the journal's changes. */
export function checkConservation({ snapshot, initialStock, skuViolations }: VerifyContext): InvariantResult {
  const j = snapshot.journal;
  const changes = new Float64Array(snapshot.skuCount);
  const nonNumeric = new Uint32Array(snapshot.skuCount);
  for (let row = 0; row < j.count; row++) {
    const change = j.change[row]!;
    if (Number.isFinite(change)) changes[j.sku[row]!]! += change;
    else nonNumeric[j.sku[row]!]!++;
  }
  const bad = new Examples(skuViolations);
  for (let sku = 0; sku < snapshot.skuCount; sku++) {
    const final = snapshot.final[sku]!;
    if (Number.isNaN(final)) {
      bad.addAt(sku, () => `SKU ${sku}: final stock ${shown(snapshot.finalRaw[sku] ?? null)} is not a number, so the stock that left cannot be accounted for`);
      continue;
    }
    const left = initialStock - final;
    if (left !== changes[sku] || nonNumeric[sku]! > 0) {
      bad.addAt(sku, () =>
        `SKU ${sku}: stock fell by ${left} (${initialStock} -> ${final}) but its journal's changes add up to ${changes[sku]}` +
        (nonNumeric[sku]! > 0 ? ` (and ${plural(nonNumeric[sku]!, 'entry has', 'entries have')} no numeric change)` : ''),
      );
    }
  }
  return verdict(
    {
      name: 'conservation',
      description: 'the journal accounts for every unit of stock that left, no more and no less',
      expected: 'per SKU: initial - final == sum of journal changes',
    },
    bad,
    `every SKU balances (${plural(j.count, 'entry', 'entries')})`,
    `${plural(bad.total, 'SKU')} do not balance`,
  );
}

/**
 * 3. chain: per SKU, entries sorted by from (descending) run S0 -> ... -> Sf, each entry's `to`
 * the next one's `from`. A gap is stock that left without an entry; an overlap is two deductions
 * from the same stock level, i.e. they were not serialized.
 */
export function checkChain({ snapshot, initialStock, seed, skuViolations }: VerifyContext): InvariantResult {
  const j = snapshot.journal;
  const { from, to } = j;
  const bad = new Examples(skuViolations);
  const numeric = (row: number) => Number.isFinite(from[row]!) && Number.isFinite(to[row]!);
  for (let row = 0; row < j.count; row++) {
    if (!numeric(row)) bad.addAt(j.sku[row]!, () => `SKU ${j.sku[row]}: the entry of ${journalId(snapshot, seed, row)} has no numeric from/to, so it cannot be placed in the chain`);
  }
  // The numeric rows by SKU, then each SKU's rows sorted by from, to (descending).
  const bySku = groupBySku(j.count, snapshot.skuCount, (row) => j.sku[row]!, numeric);
  for (let sku = 0; sku < snapshot.skuCount; sku++) {
    const rows = rowsOf(bySku, sku);
    sortRowsBy(rows, from, { descending: true, then: to });
    let level = initialStock;
    let previous = -1;
    for (const row of rows) {
      const start = from[row]!;
      if (start > level) {
        const after = previous >= 0 ? `after ${journalId(snapshot, seed, previous)}` : 'the initial stock';
        bad.addAt(sku, () => `SKU ${sku}: ${journalId(snapshot, seed, row)} deducts from ${start} but the stock was ${level} (${after}): two deductions overlap`);
      } else if (start < level) {
        bad.addAt(sku, () => `SKU ${sku}: stock went from ${level} to ${start} with no journal entry (the next entry, ${journalId(snapshot, seed, row)}, starts at ${start})`);
      }
      level = to[row]!;
      previous = row;
    }
    const final = snapshot.final[sku]!;
    if (!Number.isNaN(final) && final !== level) {
      bad.addAt(sku, () =>
        final < level
          ? `SKU ${sku}: the journal ends at ${level} but the stock is ${final}: ${plural(level - final, 'unit')} left without an entry`
          : `SKU ${sku}: the journal goes down to ${level} but the stock is ${final}`,
      );
    }
  }
  return verdict(
    {
      name: 'chain',
      description: 'per SKU, the journal entries link the initial stock to the final stock with no gap and no overlap, proving the deductions were serialized',
      expected: `per SKU: ${initialStock} -> ... -> final, each entry's to == the next entry's from`,
    },
    bad,
    `${plural(snapshot.skuCount, 'chain')} unbroken`,
    `${plural(bad.total, 'break')} in the chain`,
  );
}

/**
 * 7. bounds: per SKU, units acknowledged (ok) <= S0 - Sf <= units acknowledged + units of unknown
 * outcomes (Jepsen's counter: an unknown outcome only widens the upper bound). Unknown IDs found in
 * the journal are reported as recovered.
 */
export function checkBounds({ snapshot, initialStock, seed, tally, skuViolations }: VerifyContext): InvariantResult {
  const bad = new Examples(skuViolations);
  for (let sku = 0; sku < snapshot.skuCount; sku++) {
    const final = snapshot.final[sku]!;
    const lower = tally.okUnits[sku]!;
    const upper = lower + tally.unknownUnits[sku]!;
    if (Number.isNaN(final)) {
      if (lower > 0) bad.addAt(sku, () => `SKU ${sku}: final stock ${shown(snapshot.finalRaw[sku] ?? null)} is not a number, so the ${plural(lower, 'unit')} acknowledged cannot be accounted for`);
      continue;
    }
    const left = initialStock - final;
    if (left < lower) bad.addAt(sku, () => `SKU ${sku}: ok replies acknowledged ${plural(lower, 'unit')} but only ${left} left the stock (${initialStock} -> ${final})`);
    else if (left > upper) {
      bad.addAt(sku, () => `SKU ${sku}: ${plural(left, 'unit')} left the stock (${initialStock} -> ${final}) but ok replies${upper > lower ? ' and unknown outcomes' : ''} account for at most ${upper}`);
    }
  }
  const recovered = new Examples();
  for (let index = 0; index < tally.ids; index++) if (isRecovered(tally, index)) recovered.add(() => requestId(seed, index));
  const unknowns = tally.outcomeCounts[Code.unknown]!;
  const unknownText = unknowns === 0 ? 'no unknown outcomes' : `${plural(unknowns, 'unknown outcome')}, ${plural(recovered.total, 'ID')} recovered (found in the journal, no ok reply)`;
  return {
    ...verdict(
      {
        name: 'bounds',
        description: 'the stock that left lies between the units acknowledged ok and those plus the units of unknown outcomes (timeouts)',
        expected: 'per SKU: sum of ok quantities <= initial - final <= sum of ok and unknown quantities',
      },
      bad,
      `every SKU within bounds; ${unknownText}`,
      `${plural(bad.total, 'SKU')} out of bounds; ${unknownText}`,
    ),
    ...(unknowns > 0 ? { recovered: { count: recovered.total, ids: recovered.list } } : {}),
  };
}

/**
 * 8. no-undersell: a sold_out reply for quantity q implies the SKU ends with less than q (stock
 * only falls). In a run that sells out that alone proves nothing, so with send/reply times kept
 * there is also the real-time half (the mirror of real-time-order): a deduction of the same SKU
 * sent after the sold_out reply ran on a stock below q, which its journal entry's `from` shows.
 */
export function checkNoUndersell(ctx: VerifyContext): InvariantResult {
  const { snapshot, records, seed } = ctx;
  const bad = new Examples(ctx.skuViolations);
  const laterFrom = timesKept(ctx) ? stockSeenAfter(ctx) : undefined;
  let soldOut = 0;
  for (let row = 0; row < records.count; row++) {
    if (records.outcome[row] !== Code.sold_out) continue;
    soldOut++;
    const sku = records.sku[row]!;
    const q = records.quantity[row]!;
    const final = sku < snapshot.skuCount ? snapshot.final[sku]! : NaN;
    if (final >= q) {
      bad.addAt(sku, () => `request ${requestId(seed, records.index[row]!)} for ${plural(q, 'unit')} of SKU ${sku} was answered sold_out, but SKU ${sku} still has ${final} in stock`);
      continue;
    }
    // Several agents: only sends later by more than their clocks' combined uncertainty.
    const later = laterFrom?.(sku, records.repliedUs[row]! + (ctx.clockSlackUs ?? 0));
    if (later !== undefined && later.from >= q) {
      bad.addAt(sku, () =>
        `request ${requestId(seed, records.index[row]!)} for ${plural(q, 'unit')} of SKU ${sku} was answered sold_out, but request ` +
        `${requestId(seed, records.index[later.row]!)}, sent ${((records.sentUs[later.row]! - records.repliedUs[row]!) / 1000).toFixed(2)} ms after that reply, deducted from a stock of ${later.from}`,
      );
    }
  }
  return verdict(
    {
      name: 'no-undersell',
      description: 'a request is refused as sold out only when its SKU cannot cover it any more',
      expected: 'every sold_out for quantity q: final stock of its SKU < q',
    },
    bad,
    `${plural(soldOut, 'sold_out reply', 'sold_out replies')}, all justified`,
    `${bad.total} of ${plural(soldOut, 'sold_out reply', 'sold_out replies')} refused while stock remained`,
  );
}

/** 10. bounded-journal: per SKU, HLEN(journal) <= distinct request IDs sent to it. */
export function checkBoundedJournal({ snapshot, tally, skuViolations }: VerifyContext): InvariantResult {
  const bad = new Examples(skuViolations);
  let entries = 0;
  let ids = 0;
  for (let sku = 0; sku < snapshot.skuCount; sku++) {
    const length = snapshot.journalLength[sku]!;
    entries += length;
    ids += tally.distinctIds[sku]!;
    if (length > tally.distinctIds[sku]!) {
      bad.addAt(sku, () => `SKU ${sku}: its journal has ${plural(length, 'entry', 'entries')} but only ${plural(tally.distinctIds[sku]!, 'distinct request ID')} were sent to it`);
    }
  }
  return verdict(
    {
      name: 'bounded-journal',
      description: 'the journal grows by at most one entry per distinct request ID',
      expected: 'per SKU: HLEN(journal) <= distinct request IDs sent',
    },
    bad,
    `${plural(entries, 'entry', 'entries')} for ${plural(ids, 'distinct ID')}`,
    `${plural(bad.total, 'SKU')} with more entries than IDs`,
  );
}

/**
 * For no-undersell's real-time half (and coverage's partial-stock boundary): per SKU, the ok
 * deductions in send order with the highest journaled `from` among those sent after a given time.
 * Returns a lookup (sku, afterUs) -> the deduction sent after `afterUs` that saw the most stock, or
 * undefined. `atOrAfter` also takes sends stamped exactly `afterUs` (coverage does: the engine
 * stamps a send made while handling a reply with that reply's time).
 */
export function stockSeenAfter({ snapshot, records, tally }: VerifyContext, atOrAfter = false): (sku: number, afterUs: number) => { row: number; from: number } | undefined {
  const skuCount = snapshot.skuCount;
  const fromOf = new Float64Array(records.count).fill(NaN);
  for (let row = 0; row < records.count; row++) {
    const sku = records.sku[row]!;
    if (records.outcome[row] !== Code.ok || sku >= skuCount) continue;
    const jrow = journalRowIn(tally, snapshot, records.index[row]!, sku);
    // An ok deduction missing from the journal is no-lost-ack's finding, not evidence here.
    if (jrow < 0 || !Number.isFinite(snapshot.journal.from[jrow]!)) continue;
    fromOf[row] = snapshot.journal.from[jrow]!;
  }
  const { starts, rows: bySent } = groupBySku(records.count, skuCount, (row) => records.sku[row]!, (row) => !Number.isNaN(fromOf[row]!));
  // Per SKU: sort by send time, then the suffix maximum of `from` (and the row holding it).
  const bestRow = new Uint32Array(bySent.length);
  for (let sku = 0; sku < skuCount; sku++) {
    const a = starts[sku]!;
    const b = starts[sku + 1]!;
    sortRowsBy(bySent.subarray(a, b), records.sentUs);
    for (let i = b - 1; i >= a; i--) {
      const row = bySent[i]!;
      bestRow[i] = i === b - 1 || fromOf[row]! > fromOf[bestRow[i + 1]!]! ? row : bestRow[i + 1]!;
    }
  }
  return (sku, afterUs) => {
    if (sku >= skuCount) return undefined;
    let lo = starts[sku]!;
    let hi = starts[sku + 1]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const sent = records.sentUs[bySent[mid]!]!;
      if (sent > afterUs || (atOrAfter && sent === afterUs)) hi = mid;
      else lo = mid + 1;
    }
    if (lo >= starts[sku + 1]!) return undefined;
    const row = bestRow[lo]!;
    return { row, from: fromOf[row]! };
  };
}
