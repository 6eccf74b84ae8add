/**
 * summary.json's `coverage`: how often the run reached each edge condition an invariant is about.
 * A pass proves only what the workload exercised (a boundary bug goes unseen if no SKU ever stood
 * at the boundary), so each condition the run never reached gets a one-line warning saying what
 * would go unseen and how to reach it. Warnings inform; they never change the verdict.
 * The counts are computed by verify/coverage.ts; definitions are in docs/summary.md.
 */
import { z } from 'zod';

/** The counts, in report order; `coverage.<name>` is also a threshold and compare metric. */
export const COVERAGE_COUNTS = [
  'concurrentTwin',
  'twinAfterOk',
  'twinAfterSoldOut',
  'soldOutToZero',
  'partialBoundary',
  'afterSellOut',
  'unknownRecovered',
  'unknownAbsent',
] as const;
export type CoverageCount = (typeof COVERAGE_COUNTS)[number];

export type CoverageCounts = Record<CoverageCount, number>;

const countSchema = z.number({ error: 'a number' }).int({ error: 'a count' }).min(0, { error: 'a count' });

/** summary.json's `coverage` (part of summary.ts's schema). */
export const coverageSchema = z.object({
  ...(Object.fromEntries(COVERAGE_COUNTS.map((name) => [name, countSchema])) as Record<CoverageCount, typeof countSchema>),
  /** One line per safety claim the run did not exercise (a count of 0 that matters). */
  warnings: z.array(z.string({ error: 'a string' }), { error: 'a list of strings' }),
});
/**
 * Why `duplicate` counts fewer than the duplicates sent: a twin whose original was answered
 * sold_out finds nothing deducted under its request ID, so it is answered sold_out too. Said next
 * to the counts, so nobody reads it as a lost retry.
 */
export function soldOutTwinsNote(coverage: { readonly twinAfterSoldOut: number } | undefined): string | undefined {
  const n = coverage?.twinAfterSoldOut ?? 0;
  if (n === 0) return undefined;
  return `${n.toLocaleString('en-US')} duplicate(s) were sent after their original was answered sold_out: nothing was deducted under that request ID, so they are answered sold_out too, not duplicate`;
}

export type CoverageV1 = z.infer<typeof coverageSchema>;

/** What each count counts, in a few words (for report tables; docs/summary.md has the precise definitions). */
export const COVERAGE_MEANING: Record<CoverageCount, string> = {
  concurrentTwin: 'ID pairs whose two sends were in flight together',
  twinAfterOk: 'ID pairs whose second send went out after the first one\'s ok reply',
  twinAfterSoldOut: 'ID pairs whose second send went out after the first one\'s sold_out reply',
  soldOutToZero: 'SKUs sold out exactly to 0',
  partialBoundary: 'sold_out replies for q proven to come while 0 < stock < q',
  afterSellOut: 'requests sent after their SKU was acknowledged at 0',
  unknownRecovered: 'unknown outcomes whose ID is journaled and got no ok: the unknown send deducted',
  unknownAbsent: 'unknown outcomes whose ID is not journaled: the unknown send did not deduct',
};

/**
 * The warning for a count of 0, per safety claim. The unknown-outcome counts have none: no
 * timeouts is good news, not a gap.
 */
const UNEXERCISED: Partial<Record<CoverageCount, string>> = {
  concurrentTwin: 'no duplicate was in flight together with its original: a race between two sends of one request ID would go unseen; use duplicates with pattern concurrent or cross-worker',
  twinAfterOk: 'no duplicate was sent after its original\'s ok reply: a script that forgets a request ID it already deducted would go unseen; use duplicates with pattern sequential or delayed',
  twinAfterSoldOut: 'no duplicate was sent after its original\'s sold_out reply: a script that burns the ID of a refused request (answering its retry as a duplicate) would go unseen; use duplicates with pattern sequential in a sale that sells out',
  soldOutToZero: 'no SKU sold out exactly to 0: an off-by-one at the last unit would go unseen; use a stock the requests exhaust, with quantity 1 among the quantities',
  partialBoundary: 'no SKU reached a partial-stock boundary: a boundary bug would go unseen; use mixed quantities and a stock that sells out',
  afterSellOut: 'no request was sent after its SKU reached 0: a script that sells from an empty stock would go unseen; use more requests than the stock covers',
};

/** Whether a count of 0 is a gap worth a warning (report tables mark those rows). */
export function warnsAtZero(name: CoverageCount): boolean {
  return UNEXERCISED[name] !== undefined;
}

export function coverageWarnings(counts: CoverageCounts): string[] {
  return COVERAGE_COUNTS.flatMap((name) => (counts[name] === 0 && warnsAtZero(name) ? [UNEXERCISED[name]!] : []));
}
