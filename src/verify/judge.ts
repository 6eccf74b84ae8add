/**
 * The invariants of one run, with or without a crash in it. Without one, every check reads the
 * records against Redis as they are. After a crash, durability (durability.ts) reports what was
 * lost and sold twice, and the other checks judge what survived: lost acknowledgements count as
 * unknown outcomes for them, and when a crash took every key of some SKUs (persistence none) there
 * is nothing left for them to judge, which they say instead of failing.
 */
import type { RequestRecords } from '../metrics/records.js';
import type { CoverageV1 } from '../summary/coverage.js';
import type { InvariantResult } from '../summary/summary.js';
import { coverageOf } from './coverage.js';
import { checkDurabilityAfterCrash, forgivingLostAcks, lostAckRows, lostDuplicateRows, type Crash, type DurabilityFigures, type Persistence } from './durability.js';
import { checkAll, notChecked, prepare } from './invariants.js';
import type { Snapshot } from './snapshot.js';
import { buildTally } from './tally.js';

export interface JudgeInput {
  readonly snapshot: Snapshot;
  readonly records: RequestRecords;
  readonly initialStock: number;
  readonly seed: number;
  /** The actions of the faults injected (durability says what a run without a crash in them means). */
  readonly faults: readonly string[];
  readonly crashes: readonly Crash[];
  readonly persistence: Persistence | 'unknown';
  /** A distributed run: the agents' combined clock uncertainty, microseconds (context.ts). */
  readonly clockSlackUs?: number;
  /** With clockSlackUs: the agent of each row (context.ts). */
  readonly rowAgent?: Uint16Array;
}

export interface Judgement {
  readonly invariants: InvariantResult[];
  /** Undefined when nothing could be judged (every key of some SKUs gone). */
  readonly coverage?: CoverageV1;
  readonly skuViolations: Uint32Array;
  /** After a crash: what was lost and sold twice. */
  readonly durability?: DurabilityFigures;
  /** A distributed run: pairs real-time-order left unjudged because the agents' clocks could not order them. */
  readonly clockSkippedPairs?: number;
}

export function judgeRun(input: JudgeInput): Judgement {
  const { snapshot, records, initialStock, seed, crashes } = input;
  if (crashes.length === 0) {
    const verifying = prepare({ snapshot, records, initialStock, seed, faults: input.faults, ...(input.clockSlackUs ? { clockSlackUs: input.clockSlackUs } : {}), ...(input.rowAgent ? { rowAgent: input.rowAgent } : {}) });
    const invariants = checkAll(verifying);
    return {
      invariants,
      coverage: coverageOf(verifying),
      skuViolations: verifying.skuViolations,
      ...(input.clockSlackUs ? { clockSkippedPairs: verifying.clockSkipped.pairs } : {}),
    };
  }
  const tally = buildTally(snapshot, records);
  const lostRows = lostAckRows(records, snapshot, tally, crashes);
  const { result, figures } = checkDurabilityAfterCrash({ records, snapshot, lostRows, crashes, initialStock, seed, persistence: input.persistence });
  if (figures.skusGone > 0) {
    const reason = `the crash took every key of ${figures.skusGone} of ${snapshot.skuCount} SKU(s) (persistence ${input.persistence}): nothing of them is left to check; durability says what was lost`;
    return {
      invariants: notChecked(reason).map((i) => (i.name === 'durability' ? result : i)),
      skuViolations: new Uint32Array(snapshot.skuCount),
      durability: figures,
    };
  }
  const forgiven = [...lostRows, ...lostDuplicateRows(records, snapshot, tally, crashes)];
  const verifying = prepare({ snapshot, records: forgivingLostAcks(records, forgiven), initialStock, seed, faults: input.faults });
  const invariants = checkAll(verifying).map((i) => (i.name === 'durability' ? result : i));
  return { invariants, coverage: coverageOf(verifying), skuViolations: verifying.skuViolations, durability: figures };
}
