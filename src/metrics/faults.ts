/**
 * What each timed fault did, pure: from the run's per-request records and the fault events the
 * runner reports, summary.json's `faults` (each fault's window and effect) and
 * `outcomesOutsideFaults`.
 *
 * A fault's window runs from its start to the first ok reply of a request sent at or after the
 * fault's end: until then the sale has not shown it works again. Requests sent before the end do
 * not close the window even when their ok arrives after it: an ok already in flight when an
 * instant fault (script-flush, client-kill) struck may have been executed before it, and would end
 * the window ahead of the errors the fault causes. With no such ok, the window stays open to the
 * run's end and the fault has no recovery time.
 *
 * A request belongs to a window by its reply time (for an unknown outcome, the time it was given
 * up: a timeout or the connection's loss), both ends included. Each fault's effect counts every
 * request in its own window; `outcomesOutsideFaults` counts the error and unknown outcomes in no
 * window at all, so a request inside two overlapping windows is counted once there. A row without
 * a reply time (hand-built records) is outside every window.
 *
 * Latency is taken as the records allow, as in shards.ts: from the intended send when `intendedUs`
 * is given, else from the actual send (`sentUs`, the only send time the records keep). Unknown
 * outcomes are left out of the latency peak: their "latency" is the timeout or the time until the
 * connection dropped, not a reply.
 */
import { Code, NOT_SENT, OUTCOMES } from '../outcomes.js';
import type { FaultV1, OutcomesOutsideFaultsV1 } from '../summary/summary.js';
import type { RequestRecords } from './records.js';

export const FAULT_ACTIONS = ['kill', 'pause', 'client-pause', 'script-flush', 'client-kill', 'failover'] as const;
export type FaultAction = (typeof FAULT_ACTIONS)[number];

/** One fault as the runner executed it. Times are milliseconds since the run's t0 (the records' clock). */
export interface FaultEvent {
  /** Its position in the scenario's `faults` list (0-based). */
  index: number;
  action: FaultAction;
  /** When the scenario planned it. */
  atMs: number;
  /** When its action began. */
  startedMs: number;
  /** When its action ended: restart done, SIGCONT sent, pause over; = startedMs for an instant fault. */
  endedMs: number;
  /** What it did, e.g. `restarted after 500 ms`, `failover safe: new primary 127.0.0.1:6400`. */
  detail?: string;
  /** Why it did not do all it should (a restart that failed, a failover refused). */
  failed?: string;
}

export interface FaultEffectsInput {
  readonly records: RequestRecords;
  readonly events: readonly FaultEvent[];
  /** The load's duration (summary.durationMs): a window with no ok after its fault ends there (or at the last reply, if later). */
  readonly durationMs: number;
  /** Intended send time of each record, microseconds since t0 (open models); `sentUs` when absent. */
  readonly intendedUs?: Float64Array;
}

export interface FaultEffectsResult {
  /** summary.json `faults`, in the order of `startedMs` (then `index`). */
  readonly faults: FaultV1[];
  /** summary.json `outcomesOutsideFaults`. */
  readonly outcomesOutsideFaults: OutcomesOutsideFaultsV1;
}

export function faultEffects(input: FaultEffectsInput): FaultEffectsResult {
  const { records } = input;
  const events = [...input.events].sort((a, b) => a.startedMs - b.startedMs || a.index - b.index);
  const n = events.length;
  const outcomeCount = OUTCOMES.length;
  const endedUs = Float64Array.from(events, (e) => e.endedMs * 1000);
  const fromUs = Float64Array.from(events, (e) => e.startedMs * 1000);
  // Pass 1: the first ok of a request sent at or after each fault's end, and the run's last reply.
  const firstOkUs = new Float64Array(n).fill(Infinity);
  let lastReplyUs = 0;
  for (let row = 0; row < records.count; row++) {
    const code = records.outcome[row]!;
    if (code >= outcomeCount) continue; // NOT_SENT: reserved, never sent
    const repliedUs = records.repliedUs[row]!;
    if (!Number.isFinite(repliedUs)) continue;
    if (repliedUs > lastReplyUs) lastReplyUs = repliedUs;
    if (code !== Code.ok) continue;
    const sentUs = records.sentUs[row]!;
    for (let f = 0; f < n; f++) {
      if (sentUs >= endedUs[f]! && repliedUs < firstOkUs[f]!) firstOkUs[f] = repliedUs;
    }
  }
  const runEndUs = Math.max(input.durationMs * 1000, lastReplyUs);
  const toUs = Float64Array.from(events, (e, f) => (firstOkUs[f]! < Infinity ? firstOkUs[f]! : Math.max(runEndUs, e.endedMs * 1000, fromUs[f]!)));

  // Pass 2: each window's requests, errors, unknowns and latency peak; outcomes outside every window.
  const requests = new Float64Array(n);
  const errors = new Float64Array(n);
  const unknown = new Float64Array(n);
  const peakUs = new Float64Array(n).fill(-Infinity);
  const outside = { error: 0, unknown: 0 };
  const from = input.intendedUs ?? records.sentUs;
  for (let row = 0; row < records.count; row++) {
    const code = records.outcome[row]!;
    if (code === NOT_SENT || code >= outcomeCount) continue;
    const repliedUs = records.repliedUs[row]!;
    let inside = false;
    if (Number.isFinite(repliedUs)) {
      const latencyUs = repliedUs - from[row]!;
      for (let f = 0; f < n; f++) {
        if (repliedUs < fromUs[f]! || repliedUs > toUs[f]!) continue;
        inside = true;
        requests[f]!++;
        if (code === Code.error) errors[f]!++;
        else if (code === Code.unknown) unknown[f]!++;
        // A row without a send time has no latency to give.
        else if (Number.isFinite(latencyUs) && latencyUs > peakUs[f]!) peakUs[f] = latencyUs;
      }
    }
    if (inside) continue;
    if (code === Code.error) outside.error++;
    else if (code === Code.unknown) outside.unknown++;
  }

  const faults: FaultV1[] = events.map((e, f) => ({
    index: e.index,
    action: e.action,
    at: round(e.atMs, 3),
    startedMs: round(e.startedMs, 3),
    endedMs: round(e.endedMs, 3),
    window: { fromMs: round(fromUs[f]! / 1000, 3), toMs: round(toUs[f]! / 1000, 3) },
    effect: {
      requests: requests[f]!,
      errors: errors[f]!,
      unknown: unknown[f]!,
      latencyPeakUs: peakUs[f]! > -Infinity ? round(Math.max(0, peakUs[f]!), 1) : null,
      recoveryMs: firstOkUs[f]! < Infinity ? round(Math.max(0, firstOkUs[f]! - endedUs[f]!) / 1000, 3) : null,
    },
    ...(e.detail !== undefined ? { detail: e.detail } : {}),
    ...(e.failed !== undefined ? { failed: e.failed } : {}),
  }));
  return { faults, outcomesOutsideFaults: outside };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
