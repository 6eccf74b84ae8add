/**
 * The final table: figure | reference | sellout | ratio | target | met?
 * Each cell is the median of the interleaved rounds with its min–max in brackets; the ratio is
 * sellout / reference per round (the two ran back to back in that round), its median and min–max.
 */
import { fmt, median, pairedRatios, withSpread } from './stats.js';

export interface Row {
  /** The engine issue's target number (1-7), for grouping. */
  readonly target: string;
  readonly figure: string;
  readonly unit: string;
  readonly digits: number;
  /** Measured per round, or a figure quoted from elsewhere (a number), or none. */
  readonly reference: readonly number[] | number | null;
  readonly sellout: readonly number[];
  /** The goal in words, and whether the medians meet it (null: no goal, only reported). */
  readonly goal: string;
  readonly met: boolean | null;
  /** Ratio digits (default 2). */
  readonly ratioDigits?: number;
  /** false: the reference ran in other rounds than sellout's, so the ratio is of the medians, not per round. */
  readonly paired?: boolean;
}

export interface FailedPart {
  readonly target: string;
  readonly what: string;
  readonly error: string;
}

export function ratiosOf(row: Pick<Row, 'reference' | 'sellout' | 'paired'>): number[] {
  const { reference, sellout } = row;
  if (reference === null) return [];
  if (typeof reference === 'number') return sellout.map((v) => v / reference);
  if (row.paired !== false && reference.length === sellout.length) return pairedRatios(reference, sellout);
  return [median(sellout) / median(reference)];
}

export function formatTable(rows: readonly Row[], failed: readonly FailedPart[]): string {
  const header = ['#', 'figure', 'reference', 'sellout', 'ratio', 'target', 'met?'];
  const body = rows.map((row) => {
    const ref = row.reference === null ? '—' : typeof row.reference === 'number' ? `${fmt(row.reference, row.digits)} (quoted)` : withSpread(row.reference, row.digits);
    const ratios = ratiosOf(row);
    const unit = row.unit ? ` ${row.unit}` : '';
    return [
      row.target,
      row.figure,
      ref === '—' ? ref : `${ref}${unit}`,
      `${withSpread(row.sellout, row.digits)}${unit}`,
      ratios.length === 0 ? '—' : `${withSpread(ratios, row.ratioDigits ?? 2)}x`,
      row.goal,
      row.met === null ? '—' : row.met ? 'yes' : 'NO',
    ];
  });
  for (const f of failed) body.push([f.target, f.what, '—', 'FAILED (below)', '—', '—', 'NO']);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ').trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('-|-');
  return [line(header), sep, ...body.map(line)].join('\n');
}
