/**
 * What every load model (executor) gets and provides. An executor runs inside one worker thread
 * over that worker's connections; it is the connections' ReplyHandler, so a reply goes straight
 * from the socket parser to the executor's bookkeeping and the next send, with no promise between.
 */
import type { Plan } from '../plan.js';
import type { Recorder } from '../../metrics/recorder.js';
import type { Flusher, LoadConnection, ReplyHandler } from '../resp.js';
import type { ErrorReplyEntry } from '../error-replies.js';
import type { RequestSource } from '../source.js';
import type { Router } from '../router.js';

export interface ExecutorContext {
  readonly plan: Plan;
  readonly source: RequestSource;
  readonly recorder: Recorder;
  readonly flusher: Flusher;
  /** Microseconds since the run's common t0. */
  readonly nowUs: () => number;
  /** Stop sending at this time (microseconds since t0; Infinity when the run has no duration). */
  readonly deadlineUs: number;
  /** This worker's lane of the plan (lanes.ts): open models take every lanes-th send of the schedule from lane. */
  readonly lane: number;
  readonly lanes: number;
  /** Open models: this worker's share of max in flight. */
  readonly maxInFlight: number;
  /**
   * Which connection serves which SKU (a cluster's shards) and where redirects go. Absent: every
   * connection serves every SKU (a standalone server, the warm-up).
   */
  readonly router?: Router;
  /** A due send found no live connection (an error outcome, never written): the worker lists why. */
  readonly onNotSent?: () => void;
  /** A deduction was refused by the server (OOM, NOPERM, BUSY, …): the worker reports it. */
  readonly onRefused?: (entry: ErrorReplyEntry) => void;
}

export interface Executor extends ReplyHandler {
  /** Starts sending over the connections (all connected). */
  start(conns: readonly LoadConnection[]): void;
  /** Stops sending; what is in flight still completes (or times out as unknown). */
  stop(): void;
  /** Called by the worker's ticker a few times a second: deadlines and late timers. */
  tick(nowUs: number): void;
  /** Resolves when nothing is in flight and nothing more will be sent. */
  readonly done: Promise<void>;
  /** Open models: sends scheduled and dropped (0 for the closed model). */
  readonly scheduled: number;
  readonly dropped: number;
  /** Distinct reasons connections closed early. */
  readonly connectionErrors: Set<string>;
  /**
   * Set when the last live connection was given up while the executor still had work (not after
   * a stop, the deadline or the end of the requests): the load ended early.
   */
  readonly lostAllConnections: boolean;
}
