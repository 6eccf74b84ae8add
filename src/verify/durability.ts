/**
 * Invariant 11, durability: after a crash (kill -9, with or without a restart, or an unsafe
 * failover), compare what was acknowledged with what Redis still has. For a flash sale a lost
 * acknowledgement is concrete: the unit is back on sale, so it is sold twice.
 *  - lost: ok replies received before a crash whose request ID is not in the journal any more;
 *  - sold twice: units acknowledged in total beyond a SKU's initial stock (after a restart that
 *    restored an older stock, the continuing sale sells the same units again).
 * Both are failures; the result says what the declared persistence mode promised.
 *
 * The other checks then judge what survived: a lost acknowledgement is, for them, a request that
 * may or may not have happened (an unknown outcome), so it is reported once, here, and not again
 * as a lost ack, a broken balance or a double deduction.
 */
import { requestId } from '../keys.js';
import type { RequestRecords } from '../metrics/records.js';
import { Code } from '../outcomes.js';
import type { InvariantResult } from '../summary/summary.js';
import { Examples, plural, type CheckText } from './result.js';
import type { Snapshot } from './snapshot.js';
import { journalRowIn, type Tally } from './tally.js';

export type Persistence = 'none' | 'rdb' | 'aof-everysec' | 'aof-always';

/** A crash the run injected: when it began and when the server was back (ms since t0), and what it was. */
export interface Crash {
  readonly atMs: number;
  /** The restart or the promotion done: a reply read before this was sent before the crash (it was in transit). */
  readonly untilMs: number;
  readonly what: string;
  /** A failover (safe or unsafe) is judged by what replication promises, a kill by the persistence mode. */
  readonly failover?: 'safe' | 'unsafe';
}

/** What replication promises through a failover. */
const FAILOVER_PROMISES = {
  safe: 'a safe failover (FAILOVER) waits until the replica has every write before it takes over: nothing acknowledged is lost',
  unsafe: 'an unsafe failover promotes the replica as it is: acknowledged writes it had not received yet are lost',
} as const;

export interface DurabilityFigures {
  readonly persistence: Persistence | 'unknown';
  readonly crashes: number;
  /** Acknowledged before a crash, gone from the journal. */
  readonly lost: { readonly requests: number; readonly units: number };
  /** Units acknowledged beyond the initial stock, over all SKUs. */
  readonly soldTwice: number;
  /** SKUs whose stock and journal keys were both gone after the crash (nothing of them survived). */
  readonly skusGone: number;
}

/** What each mode promises for a process crash (kill -9), in the words the result uses. */
export const PROMISES: Record<Persistence | 'unknown', string> = {
  'none': 'persistence none keeps nothing across a restart: every acknowledged deduction is lost',
  'rdb': 'persistence rdb keeps what the last snapshot saved: deductions acknowledged after it are lost',
  'aof-everysec': 'persistence aof-everysec writes each deduction to the AOF before replying, so a process crash (kill -9: the OS keeps what Redis wrote) loses nothing; a power loss could lose about the last second, which one machine cannot simulate',
  'aof-always': 'persistence aof-always writes and fsyncs each deduction before replying: nothing acknowledged is lost',
  'unknown': 'the server\'s persistence is not known',
};

const TEXT: CheckText = {
  name: 'durability',
  description: 'after a crash, everything acknowledged before it is still in the journal, and no unit is sold twice',
  expected: 'no acknowledged deduction lost and no unit acknowledged beyond the initial stock',
};

/**
 * Rows of ok replies read before the last crash was over whose deduction is not in their SKU's
 * journal: no entry for the ID, or an entry that records another deduction (a retry of the same ID
 * that ran again after the restart forgot the first: its `to` is not the stock this reply gave).
 */
export function lostAckRows(records: RequestRecords, snapshot: Snapshot, tally: Tally, crashes: readonly Crash[]): number[] {
  if (crashes.length === 0) return [];
  const lastCrashUs = Math.max(...crashes.map((c) => c.untilMs)) * 1000;
  const rows: number[] = [];
  for (let row = 0; row < records.count; row++) {
    if (records.outcome[row] !== Code.ok || records.repliedUs[row]! > lastCrashUs) continue;
    const entry = journalRowIn(tally, snapshot, records.index[row]!, records.sku[row]!);
    if (entry < 0 || snapshot.journal.to[entry] !== records.value[row]) rows.push(row);
  }
  return rows;
}

/**
 * Rows of duplicate replies read before the last crash was over whose ID is not in the journal any
 * more: the deduction they pointed to was lost with the crash (reported with it), so they are not
 * a duplicate rejected without cause.
 */
export function lostDuplicateRows(records: RequestRecords, snapshot: Snapshot, tally: Tally, crashes: readonly Crash[]): number[] {
  if (crashes.length === 0) return [];
  const lastCrashUs = Math.max(...crashes.map((c) => c.untilMs)) * 1000;
  const rows: number[] = [];
  for (let row = 0; row < records.count; row++) {
    if (records.outcome[row] !== Code.duplicate || records.repliedUs[row]! > lastCrashUs) continue;
    if (journalRowIn(tally, snapshot, records.index[row]!, records.sku[row]!) < 0) rows.push(row);
  }
  return rows;
}

/** The records as the other checks should judge them: each reply the crash made untrue an unknown outcome. */
export function forgivingLostAcks(records: RequestRecords, lostRows: readonly number[]): RequestRecords {
  if (lostRows.length === 0) return records;
  const outcome = Uint8Array.from(records.outcome);
  for (const row of lostRows) outcome[row] = Code.unknown;
  return { ...records, outcome };
}

export function checkDurabilityAfterCrash(input: {
  readonly records: RequestRecords;
  readonly snapshot: Snapshot;
  readonly lostRows: readonly number[];
  readonly crashes: readonly Crash[];
  readonly initialStock: number;
  readonly seed: number;
  readonly persistence: Persistence | 'unknown';
}): { result: InvariantResult; figures: DurabilityFigures } {
  const { records, snapshot, lostRows, crashes, initialStock, seed, persistence } = input;
  const bad = new Examples();
  const crashAt = (us: number) => crashes.find((c) => c.untilMs * 1000 >= us) ?? crashes[crashes.length - 1]!;
  let lostUnits = 0;
  for (const row of lostRows) {
    const q = records.quantity[row]!;
    lostUnits += q;
    const replied = records.repliedUs[row]!;
    const crash = crashAt(replied);
    bad.add(() => `request ${requestId(seed, records.index[row]!)} (${plural(q, 'unit')} of SKU ${records.sku[row]}) was acknowledged ${fmtMs(crash.atMs - replied / 1000)} before the ${crash.what} at ${fmtMs(crash.atMs)} and is not in the journal`);
  }
  // Every ok reply counts here (lost ones too): a customer holds each of them.
  const okUnits = new Float64Array(snapshot.skuCount);
  for (let row = 0; row < records.count; row++) {
    if (records.outcome[row] === Code.ok && records.sku[row]! < snapshot.skuCount) okUnits[records.sku[row]!]! += records.quantity[row]!;
  }
  let soldTwice = 0;
  for (let sku = 0; sku < snapshot.skuCount; sku++) {
    const over = okUnits[sku]! - initialStock;
    if (over <= 0) continue;
    soldTwice += over;
    bad.add(() => `SKU ${sku}: ${okUnits[sku]} units acknowledged from a stock of ${initialStock}: ${over} sold twice`);
  }
  let skusGone = 0;
  for (let sku = 0; sku < snapshot.skuCount; sku++) if (snapshot.finalRaw[sku] === null && snapshot.journalLength[sku] === 0) skusGone++;
  const figures: DurabilityFigures = { persistence, crashes: crashes.length, lost: { requests: lostRows.length, units: lostUnits }, soldTwice, skusGone };
  const failovers = crashes.filter((c) => c.failover !== undefined).length;
  const noun = failovers === 0 ? ['crash', 'crashes'] as const : failovers === crashes.length ? ['failover', 'failovers'] as const : ['fault', 'faults'] as const;
  const what = `${plural(crashes.length, noun[0], noun[1])} (${crashes.map((c) => `${c.what} at ${fmtMs(c.atMs)}`).join(', ')})`;
  const found = `${plural(lostRows.length, 'acknowledged deduction')} (${plural(lostUnits, 'unit')}) lost, ${plural(soldTwice, 'unit')} sold twice${skusGone > 0 ? `, ${plural(skusGone, 'SKU')} with no key left` : ''}`;
  const result: InvariantResult = {
    ...TEXT,
    status: bad.total === 0 ? 'pass' : 'fail',
    actual: `${found} after ${what}; ${promisesOf(crashes, persistence)}`,
    violations: bad.total,
    examples: bad.list,
  };
  return { result, figures };
}

function promisesOf(crashes: readonly Crash[], persistence: Persistence | 'unknown'): string {
  const promises = new Set<string>();
  for (const c of crashes) promises.add(c.failover !== undefined ? FAILOVER_PROMISES[c.failover] : PROMISES[persistence]);
  return [...promises].join('; ');
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.max(0, Math.round(ms))} ms`;
}
