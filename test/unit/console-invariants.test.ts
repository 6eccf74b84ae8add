/** The console's invariant lines say exactly what is where (review defect 19a). */
import { describe, expect, it } from 'vitest';
import { formatInvariants } from '../../src/report/console.js';
import type { InvariantResult } from '../../src/summary/summary.js';

const failed = (violations: number, examples: number): InvariantResult => ({
  name: 'no-lost-ack',
  status: 'fail',
  description: 'every ok reply is journaled',
  expected: 'every ok reply journaled',
  actual: `${violations} ok replies not journaled`,
  violations,
  examples: Array.from({ length: examples }, (_, i) => `request DEC-1-${i} got ok (stock ${i}) but has no journal entry`),
});

describe('console: invariant evidence', () => {
  it('says how many more violations there are and that summary.json lists only the first 10', () => {
    const lines = formatInvariants([failed(434_162, 10)]);
    expect(lines.at(-1)).toBe('          e.g. request DEC-1-0 got ok (stock 0) but has no journal entry (434,161 more; the first 10 are in summary.json)');
  });

  it('says when summary.json lists them all, when it lists only the one shown, and adds nothing for a single violation', () => {
    expect(formatInvariants([failed(4, 4)]).at(-1)).toMatch(/ \(3 more; all 4 are in summary\.json\)$/);
    expect(formatInvariants([failed(1_500, 1)]).at(-1)).toMatch(/ \(1,499 more; summary\.json lists only this one\)$/);
    expect(formatInvariants([failed(1, 1)]).at(-1)).toBe('          e.g. request DEC-1-0 got ok (stock 0) but has no journal entry');
  });
});
