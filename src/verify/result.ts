/**
 * What every invariant check returns, and the small helpers that build it. A result is read by a
 * person first (console, report) and a program second (summary.json), so expected/actual and the
 * examples are sentences, and `violations` carries the exact count the examples are cut from.
 */
import { requestId } from '../keys.js';
import type { InvariantResult } from '../summary/summary.js';
import type { Snapshot } from './snapshot.js';

export const MAX_EXAMPLES = 10;

/**
 * Counts every violation but builds the sentence only for the first MAX_EXAMPLES (cheap at 1M
 * rows). A violation found at a SKU is also counted there (`bySku`, shared by the checks of one
 * run), so the summary can list the SKUs that failed first among many thousands.
 */
export class Examples {
  readonly list: string[] = [];
  total = 0;
  constructor(private readonly bySku?: Uint32Array) {}
  add(text: () => string): void {
    this.total++;
    if (this.list.length < MAX_EXAMPLES) this.list.push(text());
  }
  addAt(sku: number, text: () => string): void {
    if (this.bySku !== undefined && sku < this.bySku.length) this.bySku[sku]!++;
    this.add(text);
  }
}

export interface CheckText {
  readonly name: string;
  readonly description: string;
  readonly expected: string;
}

/** pass when nothing was found, else fail; `actual` says what was seen either way. */
export function verdict(text: CheckText, bad: Examples, actualWhenPass: string, actualWhenFail: string): InvariantResult {
  return {
    ...text,
    status: bad.total === 0 ? 'pass' : 'fail',
    actual: bad.total === 0 ? actualWhenPass : actualWhenFail,
    violations: bad.total,
    examples: bad.list,
  };
}

export function skipped(text: CheckText, reason: string): InvariantResult {
  return { ...text, status: 'skipped', actual: 'not checked', violations: 0, examples: [], reason };
}

/** The request ID stored in journal row `row` (plan IDs are rebuilt from the index, others were kept). */
export function journalId(snapshot: Snapshot, seed: number, row: number): string {
  const index = snapshot.journal.index[row]!;
  return index >= 0 ? requestId(seed, index) : snapshot.journal.foreign.get(row) ?? '(unknown ID)';
}

/** A stored value for a sentence: numbers as they are, anything else quoted. */
export function shown(value: number | string | null): string {
  if (value === null) return '(missing)';
  if (typeof value === 'number') return Number.isNaN(value) ? 'not a number' : String(value);
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 39)}…` : value);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}
