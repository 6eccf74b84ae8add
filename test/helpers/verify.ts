/** Hand-built snapshots and request records for pure tests of the invariant checks. */
import { requestIdPrefix } from '../../src/keys.js';
import { newRecords, reserveRow, type RequestRecords } from '../../src/metrics/records.js';
import { Code, type Outcome } from '../../src/outcomes.js';
import { addEntry, newJournal, parseStock, type Snapshot } from '../../src/verify/snapshot.js';

export const SEED = 1;
export const S0 = 10;
export const id = (index: number) => `${requestIdPrefix(SEED)}${index}`;

export interface EntrySpec {
  sku: number;
  /** A plan index (ID DEC-1-<index>) or a whole request ID. */
  id: number | string;
  from?: number;
  change?: number;
  to?: number;
  /** Raw JSON instead of a built entry. */
  raw?: string;
  /** Overrides of the built entry's fields. */
  fields?: Record<string, unknown>;
}

export function snapshotOf(finals: (string | null)[], entries: EntrySpec[], hlen?: number[]): Snapshot {
  const journal = newJournal(entries.length);
  const prefix = requestIdPrefix(SEED);
  const lengths = new Uint32Array(finals.length);
  for (const e of entries) {
    const field = typeof e.id === 'number' ? id(e.id) : e.id;
    const from = e.from ?? 0;
    const change = e.change ?? 1;
    const json = e.raw ?? JSON.stringify({ action: 'decrease', from, to: e.to ?? from - change, change, by: field, timestamp: 1, ...e.fields });
    addEntry(journal, e.sku, field, json, prefix);
    lengths[e.sku]!++;
  }
  if (hlen) hlen.forEach((n, sku) => { lengths[sku] = n; });
  return { skuCount: finals.length, finalRaw: finals, final: Float64Array.from(finals, parseStock), journalLength: lengths, journal };
}

export interface RowSpec {
  index: number;
  sku: number;
  q: number;
  outcome: Outcome;
  /** The ok reply (new stock). */
  v?: number;
  sent?: number;
  replied?: number;
  twin?: boolean;
}

export function recordsOf(rows: RowSpec[]): RequestRecords {
  const records = newRecords(Math.max(1, rows.length));
  for (const r of rows) {
    const row = reserveRow(records);
    records.index[row] = r.index;
    records.sku[row] = r.sku;
    records.quantity[row] = r.q;
    records.outcome[row] = Code[r.outcome];
    records.twin[row] = r.twin ? 1 : 0;
    records.value[row] = r.outcome === 'ok' ? r.v ?? NaN : NaN;
    records.sentUs[row] = r.sent ?? 0;
    records.repliedUs[row] = r.replied ?? 0;
  }
  return records;
}

/**
 * A correct run to mutate, initial stock 10 on two SKUs:
 * SKU 0: DEC-1-0 (2) ok 10->8, its twin rejected as duplicate, DEC-1-1 (3) ok 8->5, DEC-1-3 (6) sold out. Final 5.
 * SKU 1: DEC-1-2 (1) ok 10->9, DEC-1-4 (2) timed out but happened 9->7 (recovered), DEC-1-5 (1) timed out and did not. Final 7.
 */
export function baseline(): { finals: (string | null)[]; entries: EntrySpec[]; rows: RowSpec[] } {
  return {
    finals: ['5', '7'],
    entries: [
      { sku: 0, id: 0, from: 10, change: 2 },
      { sku: 0, id: 1, from: 8, change: 3 },
      { sku: 1, id: 2, from: 10, change: 1 },
      { sku: 1, id: 4, from: 9, change: 2 },
    ],
    rows: [
      { index: 0, sku: 0, q: 2, outcome: 'ok', v: 8, sent: 0, replied: 10 },
      { index: 0, sku: 0, q: 2, outcome: 'duplicate', sent: 12, replied: 18, twin: true },
      { index: 1, sku: 0, q: 3, outcome: 'ok', v: 5, sent: 20, replied: 30 },
      { index: 3, sku: 0, q: 6, outcome: 'sold_out', sent: 40, replied: 45 },
      { index: 2, sku: 1, q: 1, outcome: 'ok', v: 9, sent: 0, replied: 5 },
      { index: 4, sku: 1, q: 2, outcome: 'unknown', sent: 10, replied: 5000 },
      { index: 5, sku: 1, q: 1, outcome: 'unknown', sent: 11, replied: 5000 },
    ],
  };
}
