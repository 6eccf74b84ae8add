/** Every SKU's figures as read back from Redis (skus.csv, and the SKUs summary.json lists): columns, built once. */
import type { SkuTable } from '../summary/skus.js';
import type { Snapshot } from './snapshot.js';

/**
 * The SKU table of a run: final stock and journal entries read back (`snapshot`, undefined when
 * Redis could not be read: every final stock is then unknown), and the violations the checks found
 * at each SKU (undefined when nothing was checked).
 */
export function skuTableOf(skuCount: number, initial: number, snapshot: Snapshot | undefined, violations: Uint32Array | undefined): SkuTable {
  const journal = new Uint32Array(skuCount);
  if (snapshot === undefined) {
    return { count: skuCount, initial, finalRaw: new Array<null>(skuCount).fill(null), final: new Float64Array(skuCount).fill(NaN), journal, violations };
  }
  // Entries read back (HSCAN's repeats dropped), not HLEN: what the checks saw.
  for (let row = 0; row < snapshot.journal.count; row++) journal[snapshot.journal.sku[row]!]!++;
  return { count: skuCount, initial, finalRaw: snapshot.finalRaw, final: snapshot.final, journal, violations };
}
