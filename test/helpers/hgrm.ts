/** Reads back an .hgrm file (HdrHistogram's percentile distribution text) for the report tests. */

export interface HgrmLine {
  /** Value in milliseconds, as printed. */
  valueMs: number;
  /** Percentile as a fraction 0..1, as printed. */
  percentile: number;
  totalCount: number;
}

/** The distribution lines and the footer of an .hgrm file. */
export function parseHgrm(text: string): { lines: HgrmLine[]; meanMs: number; maxMs: number; totalCount: number } {
  const lines: HgrmLine[] = [];
  for (const row of text.split('\n')) {
    const cols = row.trim().split(/\s+/);
    if (cols.length < 3 || !/^\d/.test(cols[0]!)) continue;
    lines.push({ valueMs: Number(cols[0]), percentile: Number(cols[1]), totalCount: Number(cols[2]) });
  }
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
  return {
    lines,
    meanMs: num(/#\[Mean\s+=\s+([\d.]+)/),
    maxMs: num(/#\[Max\s+=\s+([\d.]+)/),
    totalCount: num(/Total count\s+=\s+(\d+)/),
  };
}
