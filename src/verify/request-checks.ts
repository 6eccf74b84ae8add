/**
 * Checks that join the client's record (each reply) with Redis's journal: acknowledged deductions
 * are journaled as acknowledged, the journal holds nothing the client was not owed, an ID is
 * deducted at most once, replies respect real time, and the run tested something at all.
 * DESIGN.md §5, invariants 4, 5, 6, 9, 11 and 12.
 */
import { sortRowsBy } from './sort-rows.js';
import { requestId } from '../keys.js';
import { Code, NOT_SENT, OUTCOMES } from '../outcomes.js';
import { timesKept, type VerifyContext } from './context.js';
import type { InvariantResult } from '../summary/summary.js';
import { groupBySku } from './by-sku.js';
import { Examples, journalId, plural, skipped, verdict } from './result.js';
import { isRecovered, journalRowIn } from './tally.js';

const outcomeName = (code: number) => (code === NOT_SENT ? 'not sent' : OUTCOMES[code] ?? `code ${code}`);

/** 4. no-lost-ack: every ok reply's ID is in its SKU's journal with change == quantity and to == the replied stock. */
export function checkNoLostAck({ snapshot, records, seed, tally, skuViolations }: VerifyContext): InvariantResult {
  const j = snapshot.journal;
  const bad = new Examples(skuViolations);
  let oks = 0;
  for (let row = 0; row < records.count; row++) {
    if (records.outcome[row] !== Code.ok) continue;
    oks++;
    const index = records.index[row]!;
    const q = records.quantity[row]!;
    const v = records.value[row]!;
    // Sentences are built only for the first few violations (closures inside add), nothing per row.
    const entry = journalRowIn(tally, snapshot, index, records.sku[row]!);
    if (entry < 0) bad.addAt(records.sku[row]!, () => `request ${requestId(seed, index)} got ok (stock ${v}) but has no journal entry in SKU ${records.sku[row]}`);
    else if (j.change[entry] !== q) bad.addAt(records.sku[row]!, () => `request ${requestId(seed, index)} deducted ${q} (ok, stock ${v}) but its journal entry records change ${j.change[entry]}`);
    // NaN: the reply carried no stock (HTTP mode without a stock field): nothing to compare.
    else if (!Number.isNaN(v) && j.to[entry] !== v) bad.addAt(records.sku[row]!, () => `request ${requestId(seed, index)} got ok (stock ${v}) but its journal entry says the stock went to ${j.to[entry]}`);
  }
  return verdict(
    {
      name: 'no-lost-ack',
      description: 'every deduction acknowledged ok is in the journal exactly as acknowledged',
      expected: `each of ${plural(oks, 'ok reply', 'ok replies')} journaled with its quantity as change and its replied stock as to`,
    },
    bad,
    `all ${plural(oks, 'ok reply', 'ok replies')} journaled as acknowledged`,
    `${bad.total} of ${plural(oks, 'ok reply', 'ok replies')} not journaled as acknowledged`,
  );
}

/**
 * 5. no-unexpected: every journal entry is a request this run sent to that SKU with that quantity,
 * and at least one of its sends ended ok or unknown (an ID refused every time must not be there).
 * Entries of unknown-outcome IDs are Jepsen's "recovered", not failures.
 */
export function checkNoUnexpected({ snapshot, seed, tally, skuViolations }: VerifyContext): InvariantResult {
  const j = snapshot.journal;
  const bad = new Examples(skuViolations);
  let recovered = 0;
  for (let row = 0; row < j.count; row++) {
    const index = j.index[row]!;
    const sku = j.sku[row]!;
    if (index < 0) { bad.addAt(sku, () => `SKU ${sku}'s journal has an entry for ${JSON.stringify(journalId(snapshot, seed, row))}, a request ID this run never sent`); continue; }
    if (index >= tally.ids || tally.attempts[index] === 0) { bad.addAt(sku, () => `SKU ${sku}'s journal has an entry for ${journalId(snapshot, seed, row)}, which this run never sent`); continue; }
    if (tally.sku[index] !== sku) { bad.addAt(sku, () => `${journalId(snapshot, seed, row)} was sent to SKU ${tally.sku[index]} but is journaled in SKU ${sku}`); continue; }
    const change = j.change[row]!;
    if (change !== tally.quantity[index]) { bad.addAt(sku, () => `${journalId(snapshot, seed, row)} asked for ${tally.quantity[index]} but its journal entry records change ${change}`); continue; }
    if (tally.ok[index] === 0) {
      if (isRecovered(tally, index)) recovered++;
      else bad.addAt(sku, () => `${journalId(snapshot, seed, row)} is in the journal although no send of it got ok (${plural(tally.attempts[index]!, 'send')}, last reply ${outcomeName(tally.lastCode[index]!)})`);
    }
  }
  return verdict(
    {
      name: 'no-unexpected',
      description: 'the journal holds only requests this run sent, with the quantity they asked for, that were not refused every time',
      expected: 'every entry: sent to that SKU with that quantity, and some send of it ended ok or unknown',
    },
    bad,
    `all ${plural(j.count, 'entry', 'entries')} expected${recovered > 0 ? ` (${recovered} recovered from unknown outcomes)` : ''}`,
    `${bad.total} of ${plural(j.count, 'entry', 'entries')} unexpected`,
  );
}

/** 6. at-most-once: no ID got two ok replies, and a duplicate reply implies the ID is in the journal. */
export function checkAtMostOnce({ snapshot, records, seed, tally, skuViolations }: VerifyContext): InvariantResult {
  const bad = new Examples(skuViolations);
  let duplicates = 0;
  for (let index = 0; index < tally.ids; index++) {
    if (tally.ok[index]! > 1) {
      bad.addAt(tally.sku[index]!, () => `request ${requestId(seed, index)} got ok ${tally.ok[index]! >= 255 ? '255+' : tally.ok[index]} times (first stock ${firstOkValue(records, index)}): it was deducted more than once`);
    }
  }
  for (let row = 0; row < records.count; row++) {
    if (records.outcome[row] !== Code.duplicate) continue;
    duplicates++;
    const index = records.index[row]!;
    if (journalRowIn(tally, snapshot, index, records.sku[row]!) < 0) {
      bad.addAt(records.sku[row]!, () => `request ${requestId(seed, index)} was rejected as a duplicate but is not in SKU ${records.sku[row]}'s journal`);
    }
  }
  return verdict(
    {
      name: 'at-most-once',
      description: 'a request ID is deducted at most once, and a duplicate rejection means it was deducted',
      expected: "no ID with two ok replies; every duplicate reply's ID in the journal",
    },
    bad,
    `${plural(duplicates, 'duplicate reply', 'duplicate replies')}, all journaled; no double ok`,
    `${plural(bad.total, 'violation')}`,
  );
}

/**
 * 9. real-time-order: for two ok deductions of one SKU, if r1's reply arrived before r2 was sent,
 * then v_r1 > v_r2. Times are the client's (send recorded before the write, reply after it
 * arrived), so "reply before send" on record implies it in reality: no false alarms from clock
 * slack. Per SKU, a sweep over sends in time order keeps the lowest stock replied so far.
 */
export function checkRealTimeOrder(ctx: VerifyContext): InvariantResult {
  const text = {
    name: 'real-time-order',
    description: 'a deduction that starts after another one was acknowledged sees a lower stock (linearizable per SKU)',
    expected: "for ok r1, r2 of one SKU: r1's reply before r2's send implies stock(r1) > stock(r2)",
  };
  if (!timesKept(ctx)) return skipped(text, 'the load engine kept no send/reply times for this run');
  const { snapshot, records, seed } = ctx;
  const { sentUs, repliedUs, value } = records;
  const isOk = (row: number) => records.outcome[row] === Code.ok && records.sku[row]! < snapshot.skuCount && Number.isFinite(value[row]!);
  const { starts, rows: bySent } = groupBySku(records.count, snapshot.skuCount, (row) => records.sku[row]!, isOk);
  const byReplied = bySent.slice();
  const bad = new Examples(ctx.skuViolations);
  let pairsChecked = 0;
  // Several agents: one agent's times share its clock, so its own pairs are ordered exactly; a
  // reply from another agent counts as before a send only when it came more than their clocks'
  // combined uncertainty earlier, and the pairs closer than that are counted, not judged.
  const slack = ctx.clockSlackUs ?? 0;
  const agentOf = ctx.rowAgent;
  // (A loop, not Math.max(...rows): a spread of a million rows overflows the stack.)
  let agents = 1;
  if (agentOf !== undefined) for (let row = 0; row < agentOf.length; row++) if (agentOf[row]! >= agents) agents = agentOf[row]! + 1;
  // Per agent: the row with the lowest stock among its own replies before the send, and how many
  // of its replies lie in the window between the two pointers (those are not skipped for it).
  const lowestOwn = new Int32Array(agents);
  const inWindow = new Uint32Array(agents);
  for (let sku = 0; sku < snapshot.skuCount; sku++) {
    const sends = sortRowsBy(bySent.subarray(starts[sku]!, starts[sku + 1]!), sentUs);
    const replies = sortRowsBy(byReplied.subarray(starts[sku]!, starts[sku + 1]!), repliedUs);
    let next = 0;
    let near = 0;
    let lowest = -1; // the row with the lowest stock among replies before the send by more than the slack
    lowestOwn.fill(-1);
    inWindow.fill(0);
    for (const r2 of sends) {
      if (slack > 0) {
        while (near < replies.length && repliedUs[replies[near]!]! < sentUs[r2]!) {
          const r1 = replies[near++]!;
          const a = agentOf?.[r1] ?? 0;
          inWindow[a]!++;
          if (lowestOwn[a]! < 0 || value[r1]! < value[lowestOwn[a]!]!) lowestOwn[a] = r1;
        }
      }
      while (next < replies.length && repliedUs[replies[next]!]! + slack < sentUs[r2]!) {
        const r1 = replies[next++]!;
        if (slack > 0) inWindow[agentOf?.[r1] ?? 0]!--;
        if (lowest < 0 || value[r1]! < value[lowest]!) lowest = r1;
      }
      let best = lowest;
      if (slack > 0) {
        const own = agentOf?.[r2] ?? 0;
        ctx.clockSkipped.pairs += near - next - inWindow[own]!;
        const mine = lowestOwn[own]!;
        if (mine >= 0 && (best < 0 || value[mine]! < value[best]!)) best = mine;
      }
      if (best < 0) continue;
      pairsChecked++;
      if (!(value[r2]! < value[best]!)) {
        const r1 = best;
        bad.addAt(sku, () =>
          `request ${requestId(seed, records.index[r2]!)} was sent ${((sentUs[r2]! - repliedUs[r1]!) / 1000).toFixed(2)} ms after ` +
          `request ${requestId(seed, records.index[r1]!)} got ok (stock ${value[r1]}), yet its reply says stock ${value[r2]} (SKU ${sku})`,
        );
      }
    }
  }
  return verdict(
    text,
    bad,
    `${plural(pairsChecked, 'ok reply', 'ok replies')} checked against every earlier acknowledgement of its SKU` +
      (slack > 0 ? `; ${plural(ctx.clockSkipped.pairs, 'pair')} closer than the agents' clock uncertainty (${Math.round(slack)} us) not judged` : ''),
    `${bad.total} ok ${bad.total === 1 ? 'reply sees' : 'replies see'} a stock not below one already acknowledged`,
  );
}

/** 11. durability without a crash: nothing to lose (a run with one: durability.ts). */
export function checkDurability({ faults }: VerifyContext): InvariantResult {
  const text = {
    name: 'durability',
    description: 'after a crash and restart, everything acknowledged before the crash still holds under the declared persistence mode',
    expected: 'invariants 1-9 hold after each injected crash for what was acknowledged before it',
  };
  if (!faults || faults.length === 0) return skipped(text, 'no crash was injected in this run (a kill or a failover fault tests it: README, "Faults and durability")');
  // A run with a crash is judged by checkDurabilityAfterCrash (durability.ts); the others lose nothing by design.
  return skipped(text, `no crash was injected in this run (its faults, ${[...new Set(faults)].join(', ')}, stop or slow the server but keep its data)`);
}

/** 12. no-empty-pass: a run in which nothing was deducted tested nothing. */
export function checkNoEmptyPass({ records, tally }: VerifyContext): InvariantResult {
  const bad = new Examples();
  const oks = tally.outcomeCounts[Code.ok]!;
  const seen = OUTCOMES.map((name, code) => [name, tally.outcomeCounts[code]!] as const).filter(([, n]) => n > 0);
  const outcomes = seen.map(([name, n]) => `${name} ${n}`).join(', ') || 'no replies';
  if (oks === 0) bad.add(() => `no request got ok (${records.count === 0 ? 'nothing was sent' : outcomes}): a run that deducts nothing proves nothing`);
  return verdict(
    {
      name: 'no-empty-pass',
      description: 'the run deducted something, so the other checks had something to prove',
      expected: 'at least one ok reply',
    },
    bad,
    `${plural(oks, 'ok reply', 'ok replies')}`,
    `no ok reply (${outcomes})`,
  );
}

/** The stock the first ok reply of a request ID said (looked up for a sentence, not kept per ID). */
function firstOkValue(records: VerifyContext['records'], index: number): number {
  for (let row = 0; row < records.count; row++) if (records.index[row] === index && records.outcome[row] === Code.ok) return records.value[row]!;
  return NaN;
}
