/**
 * Which side limited a run, from what the server says it spent (summary.json `server`): Redis runs
 * scripts on one thread, so a primary whose CPU share over the load nears one core was the limit;
 * well below that, the rate was set elsewhere: by an open model's schedule when it was held, else by
 * the load generator or the network (more connections, in flight or workers would go further).
 */
import type { ServerSummary, ShardFigures } from '../summary/summary.js';

/** A primary at this share of one core or more was the bottleneck (Redis's command thread is one core). */
export const SERVER_BUSY = 0.9;
/** An open model that achieved this share of its target rate or more held its schedule. */
const SCHEDULE_HELD = 0.95;

export interface BottleneckInput {
  readonly shards: readonly ShardFigures[];
  readonly model: string;
  readonly targetRate?: number | undefined;
  readonly achievedRate?: number | undefined;
}

/** Undefined when no primary reported its CPU (INFO refused): nothing can be said. */
export function serverSummaryOf(input: BottleneckInput): ServerSummary | undefined {
  const measured = input.shards.filter((s): s is ShardFigures & { serverCpu: number } => s.serverCpu !== null);
  if (measured.length === 0) return undefined;
  const busiest = measured.reduce((a, b) => (b.serverCpu > a.serverCpu ? b : a));
  const percent = `${Math.round(busiest.serverCpu * 100)}%`;
  const who = input.shards.length > 1 ? `The busiest primary (${busiest.node}) was ${percent} busy` : `Redis was ${percent} busy`;
  const open = input.model !== 'closed' && input.targetRate !== undefined && input.targetRate > 0;
  let limit: ServerSummary['limit'];
  let says: string;
  if (busiest.serverCpu >= SERVER_BUSY) {
    limit = 'server';
    says = `${who}: the server is the bottleneck`;
  } else if (open && (input.achievedRate ?? 0) >= SCHEDULE_HELD * input.targetRate!) {
    limit = 'schedule';
    says = `${who} at the offered rate: the schedule set the pace and the server had room`;
  } else {
    limit = 'client';
    says = `${who}: the load generator or the network limited this run`;
  }
  return { node: busiest.node, cpu: busiest.serverCpu, usecPerCall: busiest.usecPerCall, limit, says };
}
