/** Parses durations written with a unit ("500ms", "30s", "2m", "1h", "1m30s") into milliseconds. */
const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:us|ms|s|m|h))+$/;
const PART_RE = /(\d+(?:\.\d+)?)(us|ms|s|m|h)/g;

export function parseDurationMs(text: string): number | undefined {
  const compact = text.trim();
  if (!DURATION_RE.test(compact)) return undefined;
  let total = 0;
  for (const [, value, unit] of compact.matchAll(PART_RE)) total += Number(value) * UNIT_MS[unit!]!;
  return total;
}

export function formatDurationMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(2)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}
