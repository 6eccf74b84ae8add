/** Whole numbers as every report and progress line prints them: rounded, with thousands separators (`1,234`). */
export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
