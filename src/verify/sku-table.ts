/**
 * Every SKU's figures (skus.csv, the SKUs summary.json lists, the sell-out ranks): final stock and
 * journal entries as read back from Redis, violations the checks found, and what the load saw at
 * each SKU (requests, ok replies, when it sold out, its ok p99). Columns, built once.
 */
import { Code, NOT_SENT } from '../outcomes.js';
import type { RequestRecords } from '../metrics/records.js';
import type { SkuLoad, SkuTable } from '../summary/skus.js';
import { groupBySku, rowsOf } from './by-sku.js';
import type { Snapshot } from './snapshot.js';

/**
 * The SKU table of a run: final stock and journal entries read back (`snapshot`, undefined when
 * Redis could not be read: every final stock is then unknown), the violations the checks found at
 * each SKU (undefined when nothing was checked), and the load's per-SKU figures from `records`.
 */
export function skuTableOf(
  skuCount: number,
  initial: number,
  snapshot: Snapshot | undefined,
  violations: Uint32Array | undefined,
  records?: RequestRecords,
): SkuTable {
  const journal = new Uint32Array(skuCount);
  const load = records === undefined ? undefined : skuLoadOf(records, skuCount);
  if (snapshot === undefined) {
    return { count: skuCount, initial, finalRaw: new Array<null>(skuCount).fill(null), final: new Float64Array(skuCount).fill(NaN), journal, violations, load };
  }
  // Entries read back (HSCAN's repeats dropped), not HLEN: what the checks saw.
  for (let row = 0; row < snapshot.journal.count; row++) journal[snapshot.journal.sku[row]!]!++;
  return { count: skuCount, initial, finalRaw: snapshot.finalRaw, final: snapshot.final, journal, violations, load };
}

/**
 * What the load saw at each SKU. Sold out: when the reply arrived of the ok that left the stock at
 * 0 (the script's own answer), or, for a SKU whose stock never read 0 (quantities above 1 leave a
 * remainder), of its first `sold_out` reply. The ok p99 is nearest-rank over that SKU's ok replies,
 * from the write to the reply (the records keep the actual send, not an open model's intended one).
 */
export function skuLoadOf(records: RequestRecords, skuCount: number): SkuLoad {
  const requests = new Uint32Array(skuCount);
  const ok = new Uint32Array(skuCount);
  const zeroAtUs = new Float64Array(skuCount).fill(Infinity);
  const refusedAtUs = new Float64Array(skuCount).fill(Infinity);
  const { sku, outcome, value, repliedUs } = records;
  for (let row = 0; row < records.count; row++) {
    const k = sku[row]!;
    const code = outcome[row]!;
    if (code === NOT_SENT || k >= skuCount) continue;
    requests[k]!++;
    if (code === Code.ok) {
      ok[k]!++;
      if (value[row] === 0 && repliedUs[row]! < zeroAtUs[k]!) zeroAtUs[k] = repliedUs[row]!;
    } else if (code === Code.sold_out && repliedUs[row]! < refusedAtUs[k]!) {
      refusedAtUs[k] = repliedUs[row]!;
    }
  }
  const soldOutMs = new Float64Array(skuCount);
  for (let k = 0; k < skuCount; k++) {
    const at = Number.isFinite(zeroAtUs[k]!) ? zeroAtUs[k]! : refusedAtUs[k]!;
    soldOutMs[k] = Number.isFinite(at) ? at / 1000 : NaN;
  }
  const okP99Us = new Float64Array(skuCount).fill(NaN);
  const groups = groupBySku(records.count, skuCount, (row) => sku[row]!, (row) => outcome[row] === Code.ok && sku[row]! < skuCount);
  const latencies = new Float64Array(groups.rows.length);
  for (let k = 0; k < skuCount; k++) {
    const rows = rowsOf(groups, k);
    if (rows.length === 0) continue;
    const mine = latencies.subarray(0, rows.length);
    for (let i = 0; i < rows.length; i++) mine[i] = repliedUs[rows[i]!]! - records.sentUs[rows[i]!]!;
    mine.sort();
    okP99Us[k] = mine[Math.ceil(0.99 * rows.length) - 1]!;
  }
  return { requests, ok, soldOutMs, okP99Us };
}
