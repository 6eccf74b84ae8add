/**
 * summary.json's SKUs stay bounded at any SKU count (the worst few and the totals); skus.csv has
 * every SKU; reports read the totals, or sum an older summary's full list.
 */
import { describe, expect, it } from 'vitest';
import { renderSkusCsv, SKUS_CSV_HEADER } from '../../src/report/skus-csv.js';
import { renderOutputs } from '../../src/report/registry.js';
import { formatSummary } from '../../src/report/console.js';
import { listedSkus, MAX_LISTED_SKUS, skuTotalsOf, skuTotalsOfSummary, type SkuTable } from '../../src/summary/skus.js';
import { buildFixture } from '../fixtures/report.js';

/** A table of `count` SKUs with stock 10: final = 10 - (sku % 7), journal = its deductions. */
function table(count: number, odd: Record<number, string | null> = {}, violations: Record<number, number> = {}): SkuTable {
  const finalRaw = Array.from({ length: count }, (_, sku) => (sku in odd ? odd[sku]! : String(10 - (sku % 7))));
  const final = Float64Array.from(finalRaw, (t) => (t !== null && /^-?\d+$/.test(t) ? Number(t) : NaN));
  const v = new Uint32Array(count);
  for (const [sku, n] of Object.entries(violations)) v[Number(sku)] = n;
  return { count, initial: 10, finalRaw, final, journal: Uint32Array.from({ length: count }, (_, sku) => sku % 7), violations: v };
}

describe('the SKUs summary.json lists', () => {
  it('lists every SKU of a small run, worst first', () => {
    const rows = listedSkus(table(5));
    expect(rows.map((r) => r.sku)).toEqual([4, 3, 2, 1, 0]);
    expect(rows[0]).toEqual({ sku: 4, initial: 10, final: 6, journal: 4 });
  });

  it('lists at most MAX_LISTED_SKUS of a big run: violations first, then stock that is not an integer, then the lowest stock and most entries', () => {
    const t = table(100_000, { 50_000: '9.5', 70_000: null }, { 99_999: 1, 12: 3 });
    const rows = listedSkus(t);
    expect(rows).toHaveLength(MAX_LISTED_SKUS);
    expect(rows.slice(0, 4)).toEqual([
      { sku: 12, initial: 10, final: 5, journal: 5, violations: 3 },
      { sku: 99_999, initial: 10, final: 6, journal: 4, violations: 1 },
      { sku: 50_000, initial: 10, final: '9.5', journal: 6 },
      { sku: 70_000, initial: 10, final: null, journal: 0 },
    ]);
    // Then the lowest final stock, 4 (sku % 7 == 6, each with 6 entries), lowest SKU numbers first.
    expect(rows.slice(4).map((r) => r.final)).toEqual(Array(16).fill(4));
    expect(rows.slice(4).map((r) => r.sku)).toEqual(Array.from({ length: 16 }, (_, i) => 6 + 7 * i));
  });

  it('sums every SKU, whatever the summary lists', () => {
    const t = table(14, { 3: 'nan' }, { 5: 2 });
    expect(skuTotalsOf(t, 14)).toEqual({
      count: 14, listed: 14, initial: 140, final: 10 * 13 - (0 + 1 + 2 + 4 + 5 + 6 + 0 + 1 + 2 + 3 + 4 + 5 + 6), journal: 42,
      sold: 0 + 1 + 2 + 4 + 5 + 6 + 0 + 1 + 2 + 3 + 4 + 5 + 6, soldOut: 0, unreadable: 1, failing: 1,
    });
    // An older summary, whose `skus` listed every SKU, gets the same totals from its list.
    const rows = listedSkus(t, Infinity);
    expect(skuTotalsOfSummary({ skus: rows })).toEqual(skuTotalsOf(t, 14));
  });
});

describe('skus.csv', () => {
  it('has a header and one row per SKU; odd stock text is quoted, a missing key empty', () => {
    const csv = renderSkusCsv(table(9, { 2: '1,5"', 4: null }, { 8: 1 }));
    const lines = csv.trimEnd().split('\n');
    expect(lines).toHaveLength(10);
    expect(lines[0]).toBe(SKUS_CSV_HEADER);
    // Without the load's figures (a table rebuilt from a summary) their four columns are empty.
    expect(lines.slice(1, 6)).toEqual(['0,10,10,0,0,,,,', '1,10,9,1,0,,,,', '2,10,"1,5""",2,0,,,,', '3,10,7,3,0,,,,', '4,10,,4,0,,,,']);
    expect(lines[9]).toBe('8,10,9,1,1,,,,');
    expect(renderSkusCsv({ ...table(1), violations: undefined })).toBe(`${SKUS_CSV_HEADER}\n0,10,10,0,,,,,\n`);
  });

  it('is written with a run\'s report and not by a re-render from summary.json', async () => {
    const input = await buildFixture();
    const csv = renderOutputs(input, ['skus']);
    expect(csv.map((f) => f.name)).toEqual(['skus.csv']);
    expect(csv[0]!.content.trimEnd().split('\n')).toHaveLength(1 + input.skus!.count);
    const { skus: _, ...fromSummary } = input;
    expect(renderOutputs(fromSummary, ['skus'])).toEqual([]);
  });

  it('the console, report.html and summary.md show the totals of every SKU, not of the listed ones', async () => {
    const input = await buildFixture();
    const big = { ...input.summary, skus: input.summary.skus.slice(0, 2), skuTotals: { ...input.summary.skuTotals!, count: 50_000, listed: 2, soldOut: 1234, sold: 98_765 } };
    expect(formatSummary(big)).toMatch(/^ {2}stock {7}[\d,]+ left over 50,000 SKU\(s\); 1,234 sold out$/m);
    const [html, md] = renderOutputs({ ...input, summary: big }, ['html', 'md']).map((f) => f.content);
    expect(html).toContain('<section id="skus"><h2>SKUs</h2><p>50,000 SKU(s)');
    expect(html).toContain('98,765 units');
    expect(md).toContain('50,000 SKU(s): 98,765 of');
    expect(md).toContain('The 2 most worth a look (every SKU is in skus.csv):');
  });
});

describe('a summary written when skus listed every SKU', () => {
  it('reports render the same few SKUs a newer summary lists, and the totals of all', async () => {
    const input = await buildFixture();
    const t = table(100, { 40: null }, { 77: 2 });
    const older = { ...input.summary, skus: listedSkus(t, Infinity).sort((a, b) => a.sku - b.sku) };
    delete (older as { skuTotals?: unknown }).skuTotals;
    const [html, md] = renderOutputs({ ...input, summary: older }, ['html', 'md']).map((f) => f.content);
    const htmlRows = /<table class="skus">.*?<tbody>(.*?)<\/tbody>/s.exec(html)![1]!.match(/<tr/g)!;
    expect(htmlRows).toHaveLength(MAX_LISTED_SKUS);
    expect(md).toContain(`100 SKU(s): ${int(skuTotalsOf(t, 100).sold)} of 1,000 units sold`);
    expect(md).toMatch(/\| SKU \| initial \| final \| journal \| violations \|\n\|---\|---\|---\|---\|---\|\n\| 77 \| 10 \| 10 \| 0 \| 2 \|\n\| 40 \| 10 \| missing \| 5 \| {2}\|\n/);
  });
});

const int = (n: number) => n.toLocaleString('en-US');
