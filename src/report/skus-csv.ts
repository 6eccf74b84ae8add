/**
 * skus.csv: one row per SKU (sku, initial, final, journal, violations), every SKU of the run,
 * while summary.json keeps only their totals and the few most worth a look. A spreadsheet, a
 * database or `sort -t, -k3n` reads it; RFC 4180 quoting for a final stock stored as odd text.
 */
import type { SkuTable } from '../summary/skus.js';
import type { ReportOutput } from './output.js';

export const SKUS_CSV_HEADER = 'sku,initial,final,journal,violations';

/** A field as RFC 4180 wants it: quoted (quotes doubled) when it holds a comma, a quote or a line break. */
function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * `final` is the stock as stored: an integer, the raw text when it is not one (`9.5`, `nan`), or
 * empty when the key is missing (or Redis could not be read). `violations` is empty when nothing was checked.
 */
export function renderSkusCsv(table: SkuTable): string {
  const lines: string[] = [SKUS_CSV_HEADER];
  for (let sku = 0; sku < table.count; sku++) {
    const final = table.final[sku]!;
    const shown = Number.isNaN(final) ? csvField(table.finalRaw[sku] ?? '') : String(final);
    const violations = table.violations === undefined ? '' : String(table.violations[sku]);
    lines.push(`${sku},${table.initial},${shown},${table.journal[sku]},${violations}`);
  }
  return `${lines.join('\n')}\n`;
}

export const skusCsvOutput: ReportOutput = {
  name: 'skus',
  description: 'skus.csv: every SKU, one row each (sku, initial, final, journal, violations)',
  // Written by the run that read Redis; a summary.json alone (`sellout report`) has only the listed SKUs.
  render: ({ skus }) => (skus === undefined ? [] : [{ name: 'skus.csv', content: renderSkusCsv(skus) }]),
};
