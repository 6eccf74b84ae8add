/**
 * The main <-> worker protocol, all of it (piscina's src/types.ts idea: one file to read).
 *
 * 1. The coordinator runs one piscina task per worker: `WorkerTask` (plain data, structured-cloned)
 *    with a MessagePort and a SharedArrayBuffer for control.
 * 2. The worker opens its connections, warms them up on keys outside the run (warm-up.ts), and
 *    posts `ready` (or `failed`) on the port.
 * 3. When every worker is ready (the barrier), the coordinator posts `start` with one wall-clock
 *    origin t0 in the future; every worker waits for it, so the crowd arrives together, and all
 *    times (microseconds since t0) are comparable across threads.
 * 4. While running, a worker posts one `interval` per interval of the series (`WorkerTask.intervalMs`:
 *    counts and encoded histograms), never a message per request. The coordinator stops the workers by setting CONTROL_STOP in the
 *    shared control array (checked by the workers' timers).
 * 5. At the end the worker posts `result` with its records' buffers transferred (not copied),
 *    then its task resolves.
 */
import type { HttpTarget } from '../scenario/http.js';
import type { MessagePort } from 'node:worker_threads';
import type { ErrorReplyCount, RefusalCode } from './error-replies.js';
import type { RequestRecords } from '../metrics/records.js';
import type { WarmUpKeys } from './warm-up.js';
import type { IntervalReport } from '../metrics/interval.js';
import type { Scenario } from '../scenario/load.js';
import type { RedisEndpoint } from '../redis/url.js';
import type { KeyTemplates } from '../keys.js';
import type { RedirectCounts } from './router.js';

/** Int32 slots of the shared control array. */
export const CONTROL_STOP = 0;
/** 1: close every load connection now (a script that will not finish); requests in flight become unknown. */
export const CONTROL_ABORT = 1;
export const CONTROL_SLOTS = 4;

export interface WorkerTask {
  readonly worker: number;
  readonly workers: number;
  /** Connections this worker owns. */
  readonly connections: number;
  /** Its lane of the plan (lanes.ts): it sends the plan indices lane, lane+lanes, … */
  readonly lane: number;
  readonly lanes: number;
  /** Cross-worker and cross-agent duplicates: the first index of the lane whose twins it sends. */
  readonly twinLane: number;
  /** Sends this worker may make (its share of `requests`, or of `maxRecords` for duration runs). */
  readonly limit: number;
  /** Open models: this worker's share of max in flight. */
  readonly maxInFlight: number;
  readonly scenario: Scenario;
  /**
   * The series' interval, milliseconds (resolution.ts: chosen from the run's expected length, 100 ms
   * to 1 min): the worker's recorder closes its interval histograms on it.
   */
  readonly intervalMs: number;
  /** The primaries: a standalone server is one. The worker opens `connections` to each. */
  readonly shards: readonly { readonly node: string; readonly endpoint: RedisEndpoint }[];
  readonly cluster: boolean;
  /** SKU -> shard, and (cluster) SKU -> slot, computed once for the run (router.ts). */
  readonly skuShard: Uint16Array;
  readonly skuSlot?: Uint16Array;
  readonly keys: KeyTemplates;
  readonly runId: string;
  readonly scriptSha: string;
  /** Int32Array view over it: [CONTROL_STOP] = 1 asks the worker to stop sending. */
  readonly control: SharedArrayBuffer;
  /**
   * Float64Array view over it, one slot per outcome code: replies so far, bumped by the worker on
   * every reply so the live progress line is current without a message per request.
   */
  readonly liveCounts: SharedArrayBuffer;
  readonly port: MessagePort;
  /** CLIENT SETNAME of the load connections (a client-kill fault finds them by it); absent: unnamed. */
  readonly clientName?: string;
  /** How long a connection the server closed keeps trying to reconnect (faults that restart the server need longer). */
  readonly reconnectWindowMs: number;
  /** Keys this worker warms its connections on before t0, per shard (absent: no warm-up). */
  readonly warmUp?: readonly WarmUpKeys[];
  /** HTTP mode: `connections` connections to this sale service instead of Redis. */
  readonly http?: HttpTarget;
}

/** t0 is on the clock every thread shares (clock.ts: the process's monotonic clock, ms). */
export type CoordinatorMessage =
  | { readonly type: 'start'; readonly t0: number }
  /** A failover moved a shard's primary: its connections reopen there (requests in flight become unknown). */
  | { readonly type: 'retarget'; readonly shard: number; readonly endpoint: RedisEndpoint; readonly reason: string };

export type WorkerMessage =
  | { readonly type: 'ready'; readonly worker: number }
  | { readonly type: 'failed'; readonly worker: number; readonly message: string }
  /**
   * Intervals closed since the last such message (about a second's worth, and the rest before the
   * result); `dropped`: this worker's sends dropped so far (open models), when each interval closed.
   */
  | { readonly type: 'intervals'; readonly worker: number; readonly reports: readonly { readonly report: IntervalReport; readonly dropped: number }[] }
  /** The server refused a deduction outright (OOM, NOPERM, BUSY, …): once per distinct reply per worker. */
  | { readonly type: 'refused'; readonly worker: number; readonly code: RefusalCode; readonly reply: string }
  | { readonly type: 'result'; readonly worker: number; readonly result: WorkerResult };

export interface WorkerResult {
  /** Replies per outcome code (outcomes.ts order). */
  readonly counts: number[];
  /** Whole-run histograms per outcome code, encoded (null when empty): from the intended send. */
  readonly latency: (string | null)[];
  /** Open models: from the actual send. */
  readonly latencyRaw: (string | null)[] | null;
  /** The last, partial interval (the earlier ones came as `interval` messages). */
  readonly lastInterval: IntervalReport;
  readonly records: RequestRecords;
  readonly firstSendUs: number;
  readonly lastReplyUs: number;
  /** Open models: scheduled sends, and those dropped because max in flight was reached. */
  readonly scheduled: number;
  readonly dropped: number;
  /** Why connections closed early, if they did (distinct reasons). */
  readonly connectionErrors: string[];
  /** A duration run used up its share of maxRecords before its deadline. */
  readonly capped: boolean;
  /** Every connection of this worker died before the run's planned end (not a stop, deadline or limit). */
  readonly lostAllConnections: boolean;
  /** Cluster: the primary whose every connection was lost (that ended the load), if that is what happened. */
  readonly lostShard?: string;
  /** Distinct error replies to deductions (`error` outcomes) with counts. */
  readonly errorReplies: ErrorReplyCount[];
  /** Connections reopened after a timeout or a close by the server. */
  readonly reconnects: number;
  /** Cluster redirects met and followed (router.ts). */
  readonly redirects: RedirectCounts;
  /** Redirects that could not be followed (a node that refuses connections): target problems. */
  readonly routeProblems: string[];
}

/** The buffers of a records table, for a postMessage transfer list. */
export function recordBuffers(records: RequestRecords): ArrayBuffer[] {
  return [records.index, records.sku, records.quantity, records.outcome, records.twin, records.value, records.sentUs, records.repliedUs].map(
    (a) => a.buffer as ArrayBuffer,
  );
}
