/**
 * skus.csv: one row per SKU, every SKU of the run: what Redis holds (initial, final, journal),
 * what the checks found (violations) and what the load saw (requests, ok, sold_out_ms, ok_p99_us),
 * while summary.json keeps only their totals and the few most worth a look. A spreadsheet, a
 * database or `sort -t, -k3n` reads it; RFC 4180 quoting for a final stock stored as odd text.
 */
import type { SkuTable } from '../summary/skus.js';
import type { ReportOutput } from './output.js';

export const SKUS_CSV_HEADER = 'sku,initial,final,journal,violations,requests,ok,sold_out_ms,ok_p99_us';

/** A field as RFC 4180 wants it: quoted (quotes doubled) when it holds a comma, a quote or a line break. */
function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * `final` is the stock as stored: an integer, the raw text when it is not one (`9.5`, `nan`), or
 * empty when the key is missing (or Redis could not be read). `violations` is empty when nothing was checked.
 * `sold_out_ms` (ms since t0: the ok that left 0, else the first sold_out reply) and `ok_p99_us`
 * (from the write to the reply) are empty for a SKU that never sold out or had no ok reply.
 */
const orEmpty = (v: number, digits: number) => (Number.isNaN(v) ? '' : String(Math.round(v * 10 ** digits) / 10 ** digits));

export function renderSkusCsv(table: SkuTable): string {
  const lines: string[] = [SKUS_CSV_HEADER];
  for (let sku = 0; sku < table.count; sku++) {
    const final = table.final[sku]!;
    const shown = Number.isNaN(final) ? csvField(table.finalRaw[sku] ?? '') : String(final);
    const violations = table.violations === undefined ? '' : String(table.violations[sku]);
    const load = table.load;
    const figures = load === undefined ? ',,,' : `${load.requests[sku]},${load.ok[sku]},${orEmpty(load.soldOutMs[sku]!, 3)},${orEmpty(load.okP99Us[sku]!, 0)}`;
    lines.push(`${sku},${table.initial},${shown},${table.journal[sku]},${violations},${figures}`);
  }
  return `${lines.join('\n')}\n`;
}

export const skusCsvOutput: ReportOutput = {
  name: 'skus',
  description: 'skus.csv: every SKU, one row each (stock, journal, violations, requests, ok, when it sold out, ok p99)',
  // Written by the run that read Redis; a summary.json alone (`sellout report`) has only the listed SKUs.
  render: ({ skus }) => (skus === undefined ? [] : [{ name: 'skus.csv', content: renderSkusCsv(skus) }]),
};
