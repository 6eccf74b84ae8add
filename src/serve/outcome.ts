/**
 * A reply of a sale service (`sellout serve`, or a team's own speaking the same API) as an outcome
 * (DESIGN.md §4). 404 means two things: `{"error": "KEY_NOT_FOUND"}` is the script's not_found,
 * any other 404 (`{"error": "NOT_FOUND"}`: a wrong path) is an error of the setup, not of the sale.
 * 400 covers both the script's INVALID_QUANTITY and a body the service refused (BAD_REQUEST): invalid.
 */
import type { Outcome } from '../outcomes.js';

export function outcomeOfReply(status: number, body: string): Outcome {
  switch (status) {
    case 200: return 'ok';
    case 409: return 'duplicate';
    case 410: return 'sold_out';
    case 404: return body.includes('KEY_NOT_FOUND') ? 'not_found' : 'error';
    case 400: return 'invalid';
    default: return 'error';
  }
}
