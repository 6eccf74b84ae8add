/**
 * Every reply is exactly one outcome (DESIGN.md §4). Codes are small integers so per-request
 * records fit a Uint8Array; names are what reports and summary.json use.
 */
export const OUTCOMES = ['ok', 'duplicate', 'sold_out', 'not_found', 'invalid', 'error', 'unknown'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const Code = {
  ok: 0,
  duplicate: 1,
  sold_out: 2,
  not_found: 3,
  invalid: 4,
  error: 5,
  unknown: 6,
} as const satisfies Record<Outcome, number>;
export type OutcomeCode = (typeof Code)[Outcome];

/** Marks a planned request slot that was never sent (a run stopped early). */
export const NOT_SENT = 255;

export type OutcomeCounts = Record<Outcome, number>;

export function emptyCounts(): OutcomeCounts {
  return { ok: 0, duplicate: 0, sold_out: 0, not_found: 0, invalid: 0, error: 0, unknown: 0 };
}

/**
 * Classifies an error reply by its code, not its whole text: Redis 7 prefixes script errors with
 * "ERR " (`ERR OPERATION_ALREADY_EXECUTED`), older servers wrap them in "Error running script …".
 */
export function classifyErrorReply(message: string): OutcomeCode {
  if (message.includes('OPERATION_ALREADY_EXECUTED')) return Code.duplicate;
  if (message.includes('INVENTORY_NOT_ENOUGH')) return Code.sold_out;
  if (message.includes('KEY_NOT_FOUND')) return Code.not_found;
  if (message.includes('INVALID_QUANTITY') || message.includes('current value is not a number')) return Code.invalid;
  return Code.error;
}
