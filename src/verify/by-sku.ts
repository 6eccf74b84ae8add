/**
 * Rows grouped by SKU, for the per-SKU sweeps of the checks (chain, no-undersell's lookup,
 * real-time order): a counting sort, O(rows + SKUs), no object per row. Within a SKU the rows stay
 * in row order; each check then sorts its SKU's slice the way it needs.
 */

export interface SkuGroups {
  /** Rows of SKU k are `rows[starts[k] .. starts[k + 1])`. */
  readonly starts: Uint32Array;
  readonly rows: Uint32Array;
}

/**
 * Rows 0..count-1 for which `keep(row)` holds, grouped by `skuOf(row)` (which must be < skuCount
 * for every kept row). `keep` is called twice per row, so it must be a pure test.
 */
export function groupBySku(count: number, skuCount: number, skuOf: (row: number) => number, keep: (row: number) => boolean): SkuGroups {
  const starts = new Uint32Array(skuCount + 1);
  for (let row = 0; row < count; row++) if (keep(row)) starts[skuOf(row) + 1]!++;
  for (let sku = 0; sku < skuCount; sku++) starts[sku + 1]! += starts[sku]!;
  const rows = new Uint32Array(starts[skuCount]!);
  const fill = starts.slice(0, skuCount);
  for (let row = 0; row < count; row++) if (keep(row)) rows[fill[skuOf(row)]!++] = row;
  return { starts, rows };
}

/** The rows of one SKU (a view, not a copy: sorting it sorts the group in place). */
export function rowsOf(groups: SkuGroups, sku: number): Uint32Array {
  return groups.rows.subarray(groups.starts[sku]!, groups.starts[sku + 1]!);
}
