/**
 * The twelve invariants of DESIGN.md §5, as pure functions of Redis's record (Snapshot) and the
 * client's record (RequestRecords), each pass | fail | skipped with expected vs actual and up to
 * ten offending request IDs or SKUs in words a person can act on.
 *
 * There is no separate no-oversell or journal-matches check: oversell is well-formed's
 * 0 <= final <= initial, and journal vs replies is conservation, bounds, no-lost-ack and
 * no-unexpected, which say more precisely what broke; a second check would report one fault twice.
 */
import { prepare, type VerifyContext, type VerifyInput } from './context.js';
import type { InvariantResult } from '../summary/summary.js';
import { checkAtMostOnce, checkDurability, checkNoEmptyPass, checkNoLostAck, checkNoUnexpected, checkRealTimeOrder } from './request-checks.js';
import { checkBoundedJournal, checkBounds, checkChain, checkConservation, checkNoUndersell, checkWellFormed } from './stock-checks.js';

export type { VerifyContext, VerifyInput } from './context.js';
export { prepare } from './context.js';
export { MAX_EXAMPLES } from './result.js';
export * from './request-checks.js';
export * from './stock-checks.js';

/** The checks in DESIGN.md §5 order; this order is the order of summary.json and the console. */
export const CHECKS = [
  checkWellFormed,
  checkConservation,
  checkChain,
  checkNoLostAck,
  checkNoUnexpected,
  checkAtMostOnce,
  checkBounds,
  checkNoUndersell,
  checkRealTimeOrder,
  checkBoundedJournal,
  checkDurability,
  checkNoEmptyPass,
] as const;

export const INVARIANT_NAMES = [
  'well-formed', 'conservation', 'chain', 'no-lost-ack', 'no-unexpected', 'at-most-once',
  'bounds', 'no-undersell', 'real-time-order', 'bounded-journal', 'durability', 'no-empty-pass',
] as const;

/** Every invariant, skipped for one reason: Redis's record could not be read, so nothing was checked. */
export function notChecked(reason: string): InvariantResult[] {
  return INVARIANT_NAMES.map((name) => ({
    name,
    status: 'skipped' as const,
    description: 'not checked',
    expected: 'a readable record in Redis after the load',
    actual: 'not checked',
    violations: 0,
    examples: [],
    reason,
  }));
}

/** Every check; pass a prepared context to share its tallies with coverage (verify/coverage.ts). */
export function checkAll(input: VerifyInput | VerifyContext): InvariantResult[] {
  const ctx = 'tally' in input ? input : prepare(input);
  ctx.skuViolations.fill(0);
  return CHECKS.map((check) => check(ctx));
}
