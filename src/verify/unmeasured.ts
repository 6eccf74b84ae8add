/**
 * A distributed run with a lost agent: what it sent was never measured, yet its deductions are in
 * the journal. Each journal entry of a request ID the lost agent may have sent, and that no
 * measured send got ok for, is added to the client's record as one send of unknown outcome, so
 * the checks count it as they count a reply that never came (Jepsen's indeterminate operation:
 * "recovered" if journaled, a bound for the stock): never a violation by itself, never hidden if
 * the entry contradicts the plan (another SKU, another quantity). The summary's request counts
 * leave these rows out: they were not measured.
 */
import { Code } from '../outcomes.js';
import { concatRecords, newRecords, reserveRow, type RequestRecords } from '../metrics/records.js';
import type { Plan } from '../load/plan.js';
import type { Snapshot } from './snapshot.js';

export function withUnmeasured(records: RequestRecords, snapshot: Snapshot, unmeasured: (index: number) => boolean, plan: Plan): { records: RequestRecords; added: number } {
  const j = snapshot.journal;
  const okIds = new Set<number>();
  for (let row = 0; row < records.count; row++) if (records.outcome[row] === Code.ok) okIds.add(records.index[row]!);
  const extra = newRecords(16);
  for (let row = 0; row < j.count; row++) {
    const index = j.index[row]!;
    if (index < 0 || okIds.has(index) || !unmeasured(index)) continue;
    okIds.add(index);
    const r = reserveRow(extra);
    extra.index[r] = index;
    extra.sku[r] = plan.skuOf(index);
    extra.quantity[r] = plan.quantityOf(index);
    extra.outcome[r] = Code.unknown;
    extra.sentUs[r] = NaN;
    extra.repliedUs[r] = NaN;
  }
  return extra.count === 0 ? { records, added: 0 } : { records: concatRecords([records, extra]), added: extra.count };
}
