/**
 * The invariants, as pure functions of Redis's record (Snapshot) and the client's record
 * (RequestRecords). Each returns pass | fail | skipped with expected vs actual and up to ten
 * offending request IDs or SKUs, in words a person can act on. DESIGN.md §5.
 */
import { requestId } from '../keys.js';
import { Code } from '../outcomes.js';
import type { RequestRecords } from '../load/records.js';
import type { Snapshot } from './snapshot.js';

export type InvariantStatus = 'pass' | 'fail' | 'skipped';

export interface InvariantResult {
  readonly name: string;
  readonly status: InvariantStatus;
  readonly description: string;
  readonly expected: string;
  readonly actual: string;
  /** Up to MAX_EXAMPLES offending request IDs or SKUs, each a sentence. */
  readonly examples: string[];
  /** Why a check was skipped. */
  readonly reason?: string;
}

export interface VerifyInput {
  readonly snapshot: Snapshot;
  readonly records: RequestRecords;
  readonly initialStock: number;
  readonly seed: number;
}

export const MAX_EXAMPLES = 10;

class Examples {
  readonly list: string[] = [];
  total = 0;
  add(text: () => string): void {
    this.total++;
    if (this.list.length < MAX_EXAMPLES) this.list.push(text());
  }
}

/** no-oversell: every SKU's final stock is an integer with 0 <= final <= initial. */
export function checkNoOversell({ snapshot, initialStock }: VerifyInput): InvariantResult {
  const bad = new Examples();
  for (let sku = 0; sku < snapshot.skuCount; sku++) {
    const final = snapshot.final[sku]!;
    if (!(final >= 0 && final <= initialStock)) {
      bad.add(() => `SKU ${sku}: final stock ${JSON.stringify(snapshot.finalRaw[sku])}, initial ${initialStock}`);
    }
  }
  return {
    name: 'no-oversell',
    status: bad.total === 0 ? 'pass' : 'fail',
    description: 'every SKU ends with an integer stock between 0 and its initial stock',
    expected: `0 <= final <= ${initialStock} for all ${snapshot.skuCount} SKU(s)`,
    actual: bad.total === 0 ? 'all SKUs within bounds' : `${bad.total} SKU(s) out of bounds`,
    examples: bad.list,
  };
}

/**
 * journal-matches: journal entries == ok replies (between ok and ok + unknown when some outcomes
 * are unknown) and, per SKU, the journal's changes add up to initial - final.
 */
export function checkJournalMatches({ snapshot, records, initialStock }: VerifyInput): InvariantResult {
  let ok = 0;
  let unknown = 0;
  for (let row = 0; row < records.count; row++) {
    const code = records.outcome[row];
    if (code === Code.ok) ok++;
    else if (code === Code.unknown) unknown++;
  }
  const entries = snapshot.journal.count;
  const changeBySku = new Float64Array(snapshot.skuCount);
  for (let row = 0; row < snapshot.journal.count; row++) changeBySku[snapshot.journal.sku[row]!]! += snapshot.journal.change[row]!;
  const bad = new Examples();
  for (let sku = 0; sku < snapshot.skuCount; sku++) {
    const deducted = initialStock - snapshot.final[sku]!;
    if (changeBySku[sku] !== deducted) {
      bad.add(() => `SKU ${sku}: stock fell by ${Number.isNaN(deducted) ? `? (final ${JSON.stringify(snapshot.finalRaw[sku])})` : deducted} but its journal changes add up to ${Number.isNaN(changeBySku[sku]) ? 'a non-number' : changeBySku[sku]}`);
    }
  }
  const countOk = entries >= ok && entries <= ok + unknown;
  if (!countOk) {
    bad.list.unshift(`${entries} journal entries for ${ok} ok replies${unknown ? ` and ${unknown} unknown outcomes` : ''}`);
    bad.list.length = Math.min(bad.list.length, MAX_EXAMPLES);
  }
  return {
    name: 'journal-matches',
    status: countOk && bad.total === 0 ? 'pass' : 'fail',
    description: 'one journal entry per successful deduction, and the journal accounts for every unit of stock that left',
    expected: `${unknown ? `${ok}..${ok + unknown}` : ok} journal entries; per SKU, sum of changes == initial - final`,
    actual: `${entries} entries; ${bad.total === 0 ? 'every SKU balances' : `${bad.total} SKU(s) do not balance`}`,
    examples: bad.list,
  };
}

/** at-most-once: no request ID got two ok replies; every duplicate reply's ID is in the journal. */
export function checkAtMostOnce({ snapshot, records, seed }: VerifyInput): InvariantResult {
  let maxIndex = 0;
  for (let row = 0; row < records.count; row++) maxIndex = Math.max(maxIndex, records.index[row]!);
  const okCount = new Uint8Array(maxIndex + 1);
  const inJournal = new Uint8Array(maxIndex + 1);
  for (let row = 0; row < snapshot.journal.count; row++) {
    const index = snapshot.journal.index[row]!;
    if (index >= 0 && index <= maxIndex) inJournal[index] = 1;
  }
  const bad = new Examples();
  let duplicates = 0;
  for (let row = 0; row < records.count; row++) {
    const index = records.index[row]!;
    const code = records.outcome[row];
    if (code === Code.ok) {
      if (++okCount[index]! === 2) bad.add(() => `request ${requestId(seed, index)} got two ok replies: it was deducted twice`);
    } else if (code === Code.duplicate) {
      duplicates++;
      if (!inJournal[index]) bad.add(() => `request ${requestId(seed, index)} was rejected as a duplicate but is not in the journal`);
    }
  }
  return {
    name: 'at-most-once',
    status: bad.total === 0 ? 'pass' : 'fail',
    description: 'a request ID is deducted at most once, and a duplicate rejection means it was deducted',
    expected: 'no ID with two ok replies; every duplicate reply\'s ID in the journal',
    actual: bad.total === 0 ? `${duplicates} duplicate replies, all journaled; no double ok` : `${bad.total} violation(s)`,
    examples: bad.list,
  };
}

export function checkAll(input: VerifyInput): InvariantResult[] {
  return [checkNoOversell(input), checkJournalMatches(input), checkAtMostOnce(input)];
}
