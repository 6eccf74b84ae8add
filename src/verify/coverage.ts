/**
 * Coverage: how often the run reached each edge condition the invariants are about, counted from
 * the client's record (send/reply times, outcomes) and Redis's (final stock, journal). Pure, O(n
 * log n) in requests (the sort is no-undersell's lookup), typed arrays only, no object per request.
 * Definitions: docs/summary.md; names and warnings: summary/coverage.ts.
 *
 * Only what is proven counts. Times are the client's: a send is stamped before it is written, a
 * reply when the chunk holding it was read, and a send made while handling that chunk carries the
 * chunk's stamp. So a send stamped at or after a reply's stamp went out after the reply arrived,
 * and two sends each stamped before the other's reply were in flight together. A send whose
 * outcome is unknown may never have reached Redis: it counts only toward the unknown-outcome fields.
 * Without send/reply times (records built by hand) the timed conditions count 0.
 */
import { Code, NOT_SENT } from '../outcomes.js';
import { coverageWarnings, type CoverageCounts, type CoverageV1 } from '../summary/coverage.js';
import { timesKept, type VerifyContext } from './context.js';
import { stockSeenAfter } from './stock-checks.js';
import { journalRowIn } from './tally.js';

export function coverageOf(ctx: VerifyContext): CoverageV1 {
  const timed = timesKept(ctx);
  const counts: CoverageCounts = {
    ...(timed ? twinCoverage(ctx) : { concurrentTwin: 0, twinAfterOk: 0, twinAfterSoldOut: 0 }),
    soldOutToZero: soldOutToZero(ctx),
    partialBoundary: partialBoundary(ctx, timed),
    afterSellOut: timed ? afterSellOut(ctx) : 0,
    ...unknownCoverage(ctx),
  };
  return { ...counts, warnings: coverageWarnings(counts) };
}

/** A send Redis answered (any outcome but unknown): the script certainly ran it. */
const answered = (code: number) => code !== NOT_SENT && code !== Code.unknown;

/**
 * Per request ID with two sends (an original and its twin, in either send order: a cross-worker
 * twin can go out first), which of three races the pair exercised:
 *  - concurrentTwin: both answered, each sent before the other's reply arrived (in flight together);
 *  - twinAfterOk / twinAfterSoldOut: one sent at or after the other's ok / sold_out reply, and answered.
 * The three exclude each other (a send after the other's reply is not in flight with it).
 */
function twinCoverage({ records, tally }: VerifyContext): Pick<CoverageCounts, 'concurrentTwin' | 'twinAfterOk' | 'twinAfterSoldOut'> {
  const { outcome, sentUs, repliedUs } = records;
  // The first send's row per plan index (-1: none yet); -2 once paired (a plan sends an ID at most twice).
  const firstRow = new Int32Array(tally.ids).fill(-1);
  let concurrentTwin = 0;
  let twinAfterOk = 0;
  let twinAfterSoldOut = 0;
  for (let row = 0; row < records.count; row++) {
    if (outcome[row] === NOT_SENT) continue;
    const index = records.index[row]!;
    const other = firstRow[index]!;
    if (other === -1) { firstRow[index] = row; continue; }
    if (other === -2) continue;
    firstRow[index] = -2;
    if (sentUs[other]! < repliedUs[row]! && sentUs[row]! < repliedUs[other]!) {
      if (answered(outcome[other]!) && answered(outcome[row]!)) concurrentTwin++;
      continue;
    }
    // Not in flight together, so one was sent at or after the other's reply.
    const otherFirst = sentUs[row]! >= repliedUs[other]!;
    const earlier = otherFirst ? other : row;
    const later = otherFirst ? row : other;
    if (!answered(outcome[later]!)) continue;
    if (outcome[earlier] === Code.ok) twinAfterOk++;
    else if (outcome[earlier] === Code.sold_out) twinAfterSoldOut++;
  }
  return { concurrentTwin, twinAfterOk, twinAfterSoldOut };
}

/** SKUs that started with stock and ended at exactly 0. */
function soldOutToZero({ snapshot, initialStock }: VerifyContext): number {
  if (initialStock <= 0) return 0;
  let n = 0;
  for (let sku = 0; sku < snapshot.skuCount; sku++) if (snapshot.final[sku] === 0) n++;
  return n;
}

/**
 * sold_out replies for quantity q that came while the SKU provably had 0 < stock < q. Stock only
 * falls, so at the reply it was at least the final stock and at least the journaled `from` of any
 * ok deduction of the SKU sent at or after the reply (no-undersell's real-time lookup). A lower
 * bound >= 1 proves stock remained; the refusal itself says it was below q (a lower bound >= q is
 * an undersell, reported by no-undersell, not a boundary).
 */
function partialBoundary(ctx: VerifyContext, timed: boolean): number {
  const { snapshot, records } = ctx;
  const laterFrom = timed ? stockSeenAfter(ctx, true) : undefined;
  let n = 0;
  for (let row = 0; row < records.count; row++) {
    if (records.outcome[row] !== Code.sold_out) continue;
    const sku = records.sku[row]!;
    if (sku >= snapshot.skuCount) continue;
    const q = records.quantity[row]!;
    const final = snapshot.final[sku]!;
    let lower = Number.isNaN(final) ? -Infinity : final;
    const later = laterFrom?.(sku, records.repliedUs[row]!);
    if (later !== undefined && later.from > lower) lower = later.from;
    if (lower >= 1 && lower < q) n++;
  }
  return n;
}

/**
 * Answered requests sent after their SKU reached 0: at or after the earliest reply of an ok
 * deduction of that SKU whose new stock was 0 (not the deduction itself: it was sent before).
 */
function afterSellOut({ snapshot, records }: VerifyContext): number {
  const zeroAt = new Float64Array(snapshot.skuCount).fill(Infinity);
  for (let row = 0; row < records.count; row++) {
    const sku = records.sku[row]!;
    if (records.outcome[row] === Code.ok && records.value[row] === 0 && sku < snapshot.skuCount) {
      zeroAt[sku] = Math.min(zeroAt[sku]!, records.repliedUs[row]!);
    }
  }
  let n = 0;
  for (let row = 0; row < records.count; row++) {
    const sku = records.sku[row]!;
    if (sku < snapshot.skuCount && answered(records.outcome[row]!) && records.sentUs[row]! >= zeroAt[sku]!) n++;
  }
  return n;
}

/**
 * Unknown outcomes by what the journal says happened: recovered when the ID is in its SKU's journal
 * and no send of it got ok (so the unknown send is the one that deducted: Jepsen's recovered, as in
 * `bounds`), absent when the ID is not in its SKU's journal. An unknown send of an ID another send
 * of which got ok is neither: the ok explains the entry.
 */
function unknownCoverage({ snapshot, records, tally }: VerifyContext): Pick<CoverageCounts, 'unknownRecovered' | 'unknownAbsent'> {
  let unknownRecovered = 0;
  let unknownAbsent = 0;
  for (let row = 0; row < records.count; row++) {
    if (records.outcome[row] !== Code.unknown) continue;
    const index = records.index[row]!;
    if (journalRowIn(tally, snapshot, index, records.sku[row]!) < 0) unknownAbsent++;
    else if (tally.ok[index] === 0) unknownRecovered++;
  }
  return { unknownRecovered, unknownAbsent };
}
