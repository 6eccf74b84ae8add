/**
 * Per-request-ID and per-SKU tallies of the client's record, joined with the journal, built once
 * and shared by every check. Plan indexes are dense (0..n-1), so each tally is a typed array
 * indexed by plan index: a million IDs cost ~25 MB and no object per request.
 */
import { Code, NOT_SENT } from '../outcomes.js';
import type { RequestRecords } from '../metrics/records.js';
import type { Snapshot } from './snapshot.js';

export interface Tally {
  /** Size of the ID space: 1 + the largest plan index sent. */
  readonly ids: number;
  /** Sends per ID (saturating at 255), and how many of them ended ok / unknown / duplicate. */
  readonly attempts: Uint8Array;
  readonly ok: Uint8Array;
  readonly unknown: Uint8Array;
  readonly duplicate: Uint8Array;
  /** Outcome code of the ID's last send (for sentences). */
  readonly lastCode: Uint8Array;
  /** SKU and quantity of the ID's first send (a plan ID always buys one SKU and one quantity). */
  readonly sku: Uint32Array;
  readonly quantity: Uint32Array;
  /** The ID's journal row in the SKU it was sent to (another SKU's row if that is all there is), -1 when none. */
  readonly journalRow: Int32Array;
  /** Per SKU: units acknowledged by ok replies, units of unknown outcomes, distinct IDs sent. */
  readonly okUnits: Float64Array;
  readonly unknownUnits: Float64Array;
  readonly distinctIds: Uint32Array;
  /** Replies per outcome code over all rows. */
  readonly outcomeCounts: Uint32Array;
}

const bump = (counter: Uint8Array, i: number) => { if (counter[i]! < 255) counter[i]!++; };

export function buildTally(snapshot: Snapshot, records: RequestRecords): Tally {
  let maxIndex = -1;
  for (let row = 0; row < records.count; row++) {
    if (records.outcome[row] !== NOT_SENT && records.index[row]! > maxIndex) maxIndex = records.index[row]!;
  }
  const ids = maxIndex + 1;
  const t: Tally = {
    ids,
    attempts: new Uint8Array(ids),
    ok: new Uint8Array(ids),
    unknown: new Uint8Array(ids),
    duplicate: new Uint8Array(ids),
    lastCode: new Uint8Array(ids).fill(NOT_SENT),
    sku: new Uint32Array(ids),
    quantity: new Uint32Array(ids),
    journalRow: new Int32Array(ids).fill(-1),
    okUnits: new Float64Array(snapshot.skuCount),
    unknownUnits: new Float64Array(snapshot.skuCount),
    distinctIds: new Uint32Array(snapshot.skuCount),
    outcomeCounts: new Uint32Array(256),
  };
  for (let row = 0; row < records.count; row++) {
    const code = records.outcome[row]!;
    if (code === NOT_SENT) continue;
    const index = records.index[row]!;
    const sku = records.sku[row]!;
    const quantity = records.quantity[row]!;
    t.outcomeCounts[code]!++;
    if (t.attempts[index] === 0) {
      t.sku[index] = sku;
      t.quantity[index] = quantity;
      if (sku < snapshot.skuCount) t.distinctIds[sku]!++;
    }
    bump(t.attempts, index);
    t.lastCode[index] = code;
    if (code === Code.ok) {
      bump(t.ok, index);
      if (sku < snapshot.skuCount) t.okUnits[sku]! += quantity;
    } else if (code === Code.unknown) {
      bump(t.unknown, index);
      if (sku < snapshot.skuCount) t.unknownUnits[sku]! += quantity;
    } else if (code === Code.duplicate) {
      bump(t.duplicate, index);
    }
  }
  const journal = snapshot.journal;
  for (let row = 0; row < journal.count; row++) {
    const index = journal.index[row]!;
    if (index < 0 || index >= ids) continue;
    // A hash field is unique, so two rows for one ID are in two SKUs' journals: prefer the SKU it was sent to.
    if (t.journalRow[index] === -1 || journal.sku[row] === t.sku[index]) t.journalRow[index] = row;
  }
  return t;
}

/** The ID's journal row if it is in the journal of `sku`, else -1. */
export function journalRowIn(tally: Tally, snapshot: Snapshot, index: number, sku: number): number {
  const row = index < tally.ids ? tally.journalRow[index]! : -1;
  return row >= 0 && snapshot.journal.sku[row] === sku ? row : -1;
}

/**
 * Jepsen's "recovered": the ID is in the journal, no send of it got ok, and some send ended
 * unknown, so that unknown send is what happened. (An ID with an ok reply is explained by the ok,
 * even if another send of it was unknown.)
 */
export function isRecovered(tally: Tally, index: number): boolean {
  return index < tally.ids && tally.journalRow[index]! >= 0 && tally.ok[index] === 0 && tally.unknown[index]! > 0;
}
