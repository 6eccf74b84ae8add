/**
 * The workers' results as one: counts summed, histograms merged exactly (add, never averaged
 * percentiles), records concatenated in worker order, open-model rates from what was actually
 * sent, and the reasons a load ended early in words. Pure, apart from the histograms it allocates
 * (the caller destroys them).
 */
import type { Histogram } from '../metrics/histogram.js';
import { mergeEncoded } from '../metrics/merge.js';
import { concatRecords, type RequestRecords } from '../metrics/records.js';
import { emptyCounts, OUTCOMES, type OutcomeCounts } from '../outcomes.js';
import type { Scenario } from '../scenario/load.js';
import { mergeErrorReplies, type ErrorReplyCount } from './error-replies.js';
import { scheduleOf } from './executors/index.js';
import { isOpenModel } from '../scenario/load-models/index.js';
import type { WorkerResult } from './protocol.js';
import type { RedirectCounts } from './router.js';

export interface MergedResults {
  readonly records: RequestRecords;
  readonly histograms: Histogram[];
  readonly histogramsRaw?: Histogram[];
  readonly counts: OutcomeCounts;
  readonly firstSendUs: number;
  readonly lastReplyUs: number;
  readonly durationMs: number;
  readonly scheduled?: number;
  readonly dropped?: number;
  readonly targetRate?: number;
  readonly achievedRate?: number;
  readonly connectionErrors: string[];
  readonly loadLost?: string;
  readonly capped?: string;
  readonly rowsByWorker: number[];
  readonly errorReplies: ErrorReplyCount[];
  readonly reconnects: number;
  /** Cluster redirects followed, summed over the workers. */
  readonly redirects: RedirectCounts;
  /** Redirects that could not be followed (target problems), distinct. */
  readonly routeProblems: string[];
}

export function mergeResults(done: readonly WorkerResult[], scenario: Scenario): MergedResults {
  const open = isOpenModel(scenario.load.model);
  const firstSendUs = done.length > 0 ? Math.min(...done.map((r) => r.firstSendUs)) : 0;
  const lastReplyUs = done.length > 0 ? Math.max(...done.map((r) => r.lastReplyUs)) : 0;
  const counts = emptyCounts();
  OUTCOMES.forEach((o, code) => { counts[o] = done.reduce((a, r) => a + r.counts[code]!, 0); });
  const histograms = OUTCOMES.map((_, code) => mergeEncoded(done.map((r) => r.latency[code])));
  const histogramsRaw = open ? OUTCOMES.map((_, code) => mergeEncoded(done.map((r) => r.latencyRaw?.[code] ?? null))) : undefined;
  const rowsByWorker = done.map((r) => r.records.count);
  const sentSpanMs = done.length === 0 ? 0 : (Math.max(...done.map((r) => maxSent(r.records))) - firstSendUs) / 1000;
  const records = concatRecords(done.map((r) => r.records));
  const replies = records.count;
  const durationMs = replies === 0 ? 0 : (lastReplyUs - firstSendUs) / 1000;
  const schedule = scheduleOf(scenario.load, scenario.duration);
  const connectionErrors = [...new Set(done.flatMap((r) => r.connectionErrors))];
  return {
    records,
    histograms,
    ...(histogramsRaw ? { histogramsRaw } : {}),
    counts,
    firstSendUs,
    lastReplyUs,
    durationMs,
    ...(open && schedule
      ? {
          scheduled: done.reduce((a, r) => a + r.scheduled, 0),
          dropped: done.reduce((a, r) => a + r.dropped, 0),
          // The target is the schedule's average over the time the run actually sent.
          targetRate: round1(sentSpanMs > 0 ? (schedule.sendsBy(sentSpanMs) / sentSpanMs) * 1000 : schedule.rateAt(0)),
          achievedRate: round1(sentSpanMs > 0 ? ((replies - 1) / sentSpanMs) * 1000 : 0),
        }
      : {}),
    connectionErrors,
    ...(done.length > 0 && done.every((r) => r.lostAllConnections)
      ? { loadLost: `Redis dropped every load connection${lostShardOf(done)} ${(durationMs / 1000).toFixed(2)} s into the load (${connectionErrors[0] ?? 'no reason given'}), so it ended early` }
      : {}),
    ...(done.some((r) => r.capped)
      ? {
          capped:
            `stopped after ${replies.toLocaleString('en-US')} requests, before the planned ${((scenario.duration ?? 0) / 1000).toFixed(0)} s: ` +
            `a duration run records every request to verify it and stops at maxRecords (${scenario.maxRecords.toLocaleString('en-US')}); ` +
            'raise maxRecords if the machine has the memory (tens of bytes per request)',
        }
      : {}),
    rowsByWorker,
    errorReplies: mergeErrorReplies(done.map((r) => r.errorReplies)),
    reconnects: done.reduce((a, r) => a + r.reconnects, 0),
    redirects: {
      moved: done.reduce((a, r) => a + r.redirects.moved, 0),
      ask: done.reduce((a, r) => a + r.redirects.ask, 0),
      tryagain: done.reduce((a, r) => a + r.redirects.tryagain, 0),
    },
    routeProblems: [...new Set(done.flatMap((r) => r.routeProblems))],
  };
}

/** ` to the primary at host:port` when a cluster's shard was lost (its SKUs could not be served), else nothing. */
function lostShardOf(done: readonly WorkerResult[]): string {
  const node = done.find((r) => r.lostShard !== undefined)?.lostShard;
  return node === undefined ? '' : ` to the primary at ${node}`;
}

function maxSent(records: RequestRecords): number {
  let max = 0;
  for (let i = 0; i < records.count; i++) if (records.sentUs[i]! > max) max = records.sentUs[i]!;
  return max;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
