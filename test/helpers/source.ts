/** The next request a RequestSource hands out, as an object (the engine reads `take()`'s fields in place). */
import type { RequestSource } from '../../src/load/source.js';

export interface NextRequest {
  index: number;
  twin: boolean;
}

/** What `source.take(nowUs)` would send next, or undefined when nothing can be sent now. */
export function nextRequest(source: RequestSource, nowUs = 0): NextRequest | undefined {
  return source.take(nowUs) ? { index: source.index, twin: source.twin } : undefined;
}
