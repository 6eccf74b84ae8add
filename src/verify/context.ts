/** What the checks read: Redis's record (snapshot), the client's record (records) and the tallies joining them. */
import type { RequestRecords } from '../metrics/records.js';
import type { Snapshot } from './snapshot.js';
import { buildTally, type Tally } from './tally.js';

export interface VerifyInput {
  readonly snapshot: Snapshot;
  readonly records: RequestRecords;
  /** S0: every SKU starts with this stock. */
  readonly initialStock: number;
  /** Scenario seed: request IDs are `DEC-<seed>-<index>`. */
  readonly seed: number;
  /** Faults injected during the run; none yet (durability is skipped without them). */
  readonly faults?: readonly string[];
  /**
   * A distributed run: times from different agents agree only to within this (their combined
   * clock uncertainty, microseconds), so the real-time checks order a reply before a send only
   * when it came this much earlier. 0 (one process): exact.
   */
  readonly clockSlackUs?: number;
  /** With clockSlackUs: the agent that sent each row (its own pairs are ordered exactly). */
  readonly rowAgent?: Uint16Array;
}

export interface VerifyContext extends VerifyInput {
  readonly tally: Tally;
  /**
   * Per SKU, the violations the checks found there: filled as they run (checkAll clears it
   * first), read afterwards to list the failing SKUs first (summary/skus.ts).
   */
  readonly skuViolations: Uint32Array;
  /** Pairs real-time-order did not judge because they were closer than `clockSlackUs` (filled as it runs). */
  readonly clockSkipped: { pairs: number };
}

/** Whether the load engine kept send and reply times (the real-time checks need them). */
export function timesKept({ records }: VerifyContext): boolean {
  if (!records.sentUs || !records.repliedUs) return false;
  for (let row = 0; row < records.count; row++) if (records.repliedUs[row]! > 0) return true;
  return false;
}

export function prepare(input: VerifyInput): VerifyContext {
  return { ...input, tally: buildTally(input.snapshot, input.records), skuViolations: new Uint32Array(input.snapshot.skuCount), clockSkipped: { pairs: 0 } };
}
