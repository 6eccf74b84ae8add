/**
 * The stock chart's lines (report.html): the total, at most five SKUs (those that sold out first),
 * and SKUs on the same curve drawn once under a label that names them, so no line hides another.
 */
import { describe, expect, it } from 'vitest';
import { STOCK_SKU_LINES, stockChart } from '../../src/report/html.js';

const sku = (n: number, values: (number | null)[], initial = 100) => ({ sku: n, initial, values });

describe('stockChart', () => {
  it('draws SKUs that sell at the same pace as one line named after all of them, and the total dashed over them', () => {
    const c = stockChart([sku(0, [50, 0]), sku(1, [50, 1]), sku(2, [80, 40]), sku(3, [49, 0])], 4)!;
    expect(c.series.map((s) => s.label)).toEqual(['SKU 0 (and SKUs 1, 3: same curve ±2%)', 'SKU 2', 'all 4 SKUs']);
    const total = c.series.at(-1)!;
    expect(total.dash).toBeDefined();
    expect(total.of).toBe(400);
    expect(total.values).toEqual([100, (229 / 400) * 100, (41 / 400) * 100]);
    expect(c.yRange).toEqual([0, 100]);
  });

  it('shows the SKUs that sold out first, then those that sold most, at most five, with distinct labels', () => {
    // SKU k sells out at sample k+1 (SKUs 0..6), SKUs 7..9 never do.
    const skus = Array.from({ length: 10 }, (_, k) => sku(k, Array.from({ length: 10 }, (_, i) => (k < 7 ? Math.max(0, 100 - (i + 1) * Math.round(100 / (k + 1))) : 100 - i * (k - 6)))));
    const c = stockChart(skus, 12)!;
    const lines = c.series.slice(0, -1).map((s) => s.label);
    expect(lines).toEqual(['SKU 0', 'SKU 1', 'SKU 2', 'SKU 3', 'SKU 4']);
    expect(lines).toHaveLength(STOCK_SKU_LINES);
    expect(c.series.at(-1)!.label).toBe('the 10 sampled SKUs');
    expect(c.title).toBe('Stock left over time (10 of 12 SKUs sampled, 5 fastest shown)');
    expect(new Set(c.series.map((s) => s.label)).size).toBe(c.series.length);
  });

  it('leaves a gap in the total where a sample is missing, and draws nothing without an initial stock', () => {
    expect(stockChart([sku(0, [50, null]), sku(1, [40, 30])], 2)!.series.at(-1)!.values).toEqual([100, 45, null]);
    expect(stockChart([{ sku: 0, initial: null, values: [1] }], 1)).toBeNull();
  });
});
