/**
 * A reply of a sale service (`sellout serve`, or a team's own speaking the same API) as an outcome
 * (DESIGN.md §4): the reference statuses (scenario/http.ts REFERENCE_OUTCOMES), with one rule on
 * top. 404 means two things: `{"error": "KEY_NOT_FOUND"}` is the script's not_found, any other 404
 * (`{"error": "NOT_FOUND"}`: a wrong path) is an error of the setup, not of the sale. 400 covers
 * both the script's INVALID_QUANTITY and a body the service refused (BAD_REQUEST): invalid.
 */
import type { Outcome } from '../outcomes.js';
import { REFERENCE_OUTCOMES } from '../scenario/http.js';

/** A 404 that is not the script's KEY_NOT_FOUND (the reference service's wrong path). */
export function notTheScriptsNotFound(status: number, body: string): boolean {
  return status === 404 && !body.includes('KEY_NOT_FOUND');
}

export function outcomeOfReply(status: number, body: string): Outcome {
  return notTheScriptsNotFound(status, body) ? 'error' : REFERENCE_OUTCOMES[status] ?? 'error';
}
