/** groupBySku: the counting sort the per-SKU checks share. */
import { describe, expect, it } from 'vitest';
import { groupBySku, rowsOf } from '../../src/verify/by-sku.js';

describe('groupBySku', () => {
  it('groups the kept rows by SKU, each group in row order, and leaves empty SKUs empty', () => {
    const sku = [2, 0, 2, 1, 0, 2, 3];
    const groups = groupBySku(sku.length, 4, (row) => sku[row]!, (row) => row !== 4);
    expect([0, 1, 2, 3].map((k) => Array.from(rowsOf(groups, k)))).toEqual([[1], [3], [0, 2, 5], [6]]);
    expect(Array.from(groupBySku(3, 5, () => 4, () => false).starts)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});
