/**
 * A distributed run's per-agent figures as the reports print them (console, summary.md,
 * report.html): one wording of the clock and the bundle, not three that could drift apart.
 */
import type { AgentSummary } from '../summary/summary.js';
import { int } from '../numbers.js';

/** The agent's clock against Redis TIME and its uncertainty: `+15 us`, `± 44 us` (`unit`: µs in HTML). */
export function agentClock(a: AgentSummary, unit = 'us'): { offset: string; uncertainty: string | undefined } {
  return {
    offset: `${a.clockOffsetUs >= 0 ? '+' : ''}${int(a.clockOffsetUs)} ${unit}`,
    uncertainty: a.clockUncertaintyUs !== undefined ? `${int(a.clockUncertaintyUs)} ${unit}` : undefined,
  };
}

/** Offset and uncertainty in one table cell: `+15 us ± 44 us`. */
export function agentClockCell(a: AgentSummary, unit = 'us'): string {
  const { offset, uncertainty } = agentClock(a, unit);
  return uncertainty !== undefined ? `${offset} ± ${uncertainty}` : offset;
}

/** The bundle the agent stored: `0.03 MB (25.9 B/request)`; undefined when it stored none (lost, or no requests). */
export function agentBundle(a: AgentSummary, perRequest = true): string | undefined {
  if (a.bundleBytes === undefined || a.requests === 0) return undefined;
  const mb = `${(a.bundleBytes / 1e6).toFixed(2)} MB`;
  return perRequest ? `${mb} (${(a.bundleBytes / a.requests).toFixed(1)} B/request)` : mb;
}
