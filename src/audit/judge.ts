/**
 * The audit's verdict on one case, from what Redis held before and after each call and what the
 * script replied: a pure function (no Redis), so every rule is pinned by unit tests.
 *
 * Unsafe means the script left state it should not have, or told the client something the state
 * contradicts:
 *  - the stock went up, was created, deleted, or stored as something other than an integer string;
 *  - a non-integer stock was changed (a correct script refuses it);
 *  - the stock fell by anything but the requested quantity, for a quantity that is not a positive
 *    integer in decimal digits (`1e3`, ` 1`, `-5`, …) by anything at all, or below zero;
 *  - the stock changed without a journal entry for the request ID, or an entry was written (the ID
 *    burned) with nothing deducted, or an entry was overwritten or removed;
 *  - the entry does not describe the deduction (by, change, from, to);
 *  - an integer (ok) reply differs from the stock stored, or says ok for a valid quantity when
 *    nothing was deducted;
 *  - a request ID already in the journal deducted again;
 *  - INVENTORY_NOT_ENOUGH for a valid quantity the stock covers (a false sold-out: the sale
 *    undersells; it changes no state, but a correct script never says it).
 * Anything else is safe, with why: "rejected: INVALID_QUANTITY, nothing written".
 */

/** A script's reply, as Redis sent it. Integers are kept as decimal strings (exact beyond 2^53). */
export type Reply =
  | { readonly type: 'integer'; readonly value: string }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'nil' }
  | { readonly type: 'array'; readonly value: readonly unknown[] }
  | { readonly type: 'error'; readonly message: string };

/** The journal as one call sees it: HLEN, and the entry under the request ID (raw) or null. */
export interface JournalState {
  readonly entries: number;
  readonly entry: string | null;
}

/** One EVALSHA and the state around it (raw strings; null for a missing stock key). */
export interface CallObservation {
  readonly reply: Reply;
  readonly stockBefore: string | null;
  readonly stockAfter: string | null;
  readonly journalBefore: JournalState;
  readonly journalAfter: JournalState;
}

/** What happened to the journal in one call. */
export type JournalWrite = 'none' | 'new' | 'overwritten' | 'removed' | 'other';

export interface CallJudgement {
  readonly written: JournalWrite;
  /** Why the call is unsafe (empty when safe). */
  readonly problems: readonly string[];
  /** What it did, in words, for a safe call. */
  readonly summary: string;
  /** Worth knowing, not unsafe (a journal entry that says `increase`, an ok reply to a repeat). */
  readonly notes: readonly string[];
}

export type Verdict = 'safe' | 'unsafe';

export interface Judgement {
  readonly verdict: Verdict;
  /** The problems when unsafe (a repeat's prefixed `repeat: `), else what the script did. */
  readonly reasons: readonly string[];
  readonly notes: readonly string[];
  readonly calls: readonly CallJudgement[];
}

const POSITIVE_INTEGER = /^[1-9][0-9]*$/;
const INTEGER = /^(0|-?[1-9][0-9]*)$/;

/** A canonical integer string as a BigInt, else undefined. */
function asInteger(value: string | null): bigint | undefined {
  return value !== null && INTEGER.test(value) ? BigInt(value) : undefined;
}

/** A value for a sentence: integers bare, anything else quoted, long values cut. */
export function shown(value: string | null): string {
  if (value === null) return '(none)';
  if (INTEGER.test(value) && value.length <= 24) return value;
  const cut = value.length > 40 ? `${value.slice(0, 24)}… (${value.length.toLocaleString('en-US')} chars)` : value;
  return JSON.stringify(cut);
}

/**
 * An error reply in a few words: `ERR ` dropped, and the `script: <sha>, on @user_script:N.`
 * trailer Redis 7 appends to a script's runtime error.
 */
export function errorText(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.replace(/^ERR /, '').replace(/\s+script: [0-9a-f]{40}, on @user_script:\d+\.?$/, '');
}

/** A reply as one short text (the table's `reply` column, and sentences). */
export function replyText(reply: Reply): string {
  switch (reply.type) {
    case 'integer': return reply.value;
    case 'string': return shown(reply.value);
    case 'nil': return 'nil';
    case 'array': return `array of ${reply.value.length}`;
    case 'error': return errorText(reply.message);
  }
}

/** A journal entry's number: a JSON number, or a string of digits (the published script writes `from` and `change` as strings). */
function entryNumber(value: unknown): bigint | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : undefined;
  if (typeof value === 'string' && INTEGER.test(value)) return BigInt(value);
  return undefined;
}

function entryField(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number') return String(value);
  return shown(typeof value === 'string' ? value : JSON.stringify(value));
}

/** Problems with the entry of a deduction from `from` to `to` by `requestId`; notes go to `notes`. */
function entryProblems(raw: string, requestId: string, from: bigint, to: bigint, notes: string[]): string[] {
  let entry: unknown;
  try {
    entry = JSON.parse(raw);
  } catch {
    return [`journal entry is not JSON: ${shown(raw)}`];
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return [`journal entry is not a JSON object: ${shown(raw)}`];
  const e = entry as Record<string, unknown>;
  const problems: string[] = [];
  if (e['by'] !== requestId) problems.push(`journal entry's by is ${entryField(e['by'])}, not the request ID`);
  const change = entryNumber(e['change']);
  if (change !== from - to) problems.push(`journal says change ${entryField(e['change'])}, stock fell by ${from - to}`);
  const entryFrom = entryNumber(e['from']);
  const entryTo = entryNumber(e['to']);
  if (entryFrom !== from || entryTo !== to) problems.push(`journal says ${entryField(e['from'])} -> ${entryField(e['to'])}, stock went ${from} -> ${to}`);
  if (typeof e['action'] === 'string' && e['action'] !== 'decrease') notes.push(`the journal entry says action ${JSON.stringify(e['action'])} for a decrease`);
  return problems;
}

export function judgeCall(quantity: string, requestId: string, call: CallObservation): CallJudgement {
  const q = POSITIVE_INTEGER.test(quantity) ? BigInt(quantity) : undefined;
  const { stockBefore: s0, stockAfter: s1, journalBefore: j0, journalAfter: j1, reply } = call;
  const i0 = asInteger(s0);
  const i1 = asInteger(s1);
  const stockChanged = s0 !== s1;
  /** The ID was already journaled before this call (the repeat of the same-ID case). */
  const repeat = j0.entry !== null;
  const written: JournalWrite = j1.entry !== j0.entry
    ? j0.entry === null ? 'new' : j1.entry === null ? 'removed' : 'overwritten'
    : j1.entries !== j0.entries ? 'other' : 'none';
  const problems: string[] = [];
  const notes: string[] = [];
  const moved = `${shown(s0)} -> ${shown(s1)}`;

  // The stock.
  if (s0 === null && s1 !== null) problems.push(`created the missing stock key (as ${shown(s1)})`);
  if (s0 !== null && s1 === null) problems.push('deleted the stock key');
  if (stockChanged && s0 !== null && s1 !== null && i0 === undefined) problems.push(`changed a stock that is not an integer (${moved})`);
  if (stockChanged && s1 !== null && i1 === undefined) problems.push(`stored a non-integer stock ${shown(s1)}`);
  let deducted: bigint | undefined;
  if (stockChanged && i0 !== undefined && i1 !== undefined) {
    const d = i0 - i1;
    if (d < 0n) problems.push(`raised the stock (${moved})`);
    else if (repeat) problems.push(`deducted again for a request ID already in the journal (${moved})`);
    else if (q === undefined) problems.push(`deducted ${d} for quantity ${JSON.stringify(quantity)}, not a positive integer`);
    else if (d !== q) problems.push(`stock fell by ${d}, not by the quantity ${q}`);
    if (d > 0n && i1 < 0n) problems.push(`deducted past zero (${moved})`);
    if (d > 0n) deducted = d;
  }

  // The journal.
  const grew = j1.entries - j0.entries;
  if (stockChanged && written === 'none') problems.push('changed the stock without a journal entry');
  if (stockChanged && written === 'other') problems.push('changed the stock but journaled it under another request ID');
  if (!stockChanged && written === 'new') problems.push('burned the request ID: journaled with nothing deducted');
  if (!stockChanged && written === 'other') problems.push('wrote a journal entry under another request ID with nothing deducted');
  if (written === 'overwritten') problems.push('overwrote the journal entry of a request ID already in the journal');
  if (written === 'removed') problems.push('removed the request ID\'s journal entry');
  if (grew > 1) problems.push(`wrote ${grew} journal entries for one request`);
  if (written === 'new' && deducted !== undefined && j1.entry !== null) problems.push(...entryProblems(j1.entry, requestId, i0!, i1!, notes));

  // The reply.
  if (reply.type === 'integer') {
    if (stockChanged) {
      if (s1 === null || i1 === undefined || BigInt(reply.value) !== i1) problems.push(`replied ${reply.value} but stored ${shown(s1)}`);
    } else if (repeat) {
      notes.push(`the repeat was answered ${reply.value} (ok) without deducting: an idempotent replay`);
    } else if (q !== undefined && written === 'none') {
      problems.push(`replied ${reply.value} (ok) but deducted nothing`);
    } else if (q === undefined && written === 'none') {
      notes.push(`replied ${reply.value} (ok) to an invalid quantity without writing anything`);
    }
  }
  if (
    reply.type === 'error' && /^(ERR )?INVENTORY_NOT_ENOUGH\b/.test(reply.message) && !stockChanged && !repeat
    && q !== undefined && i0 !== undefined && i0 >= q
  ) {
    problems.push(`false sold-out: INVENTORY_NOT_ENOUGH for ${q} with ${i0} in stock`);
  }

  let summary: string;
  if (!stockChanged && written === 'none') {
    summary = reply.type === 'error' ? `rejected: ${errorText(reply.message)}, nothing written` : `replied ${replyText(reply)}, nothing written`;
  } else if (deducted !== undefined && written === 'new') {
    summary = `deducted ${deducted} (${moved}) and journaled it`;
  } else {
    summary = `${stockChanged ? `stock ${moved}` : 'stock unchanged'}, journal ${written}`;
  }
  return { written, problems, summary, notes };
}

/** The verdict on a case: every call judged against the state just before it. */
export function judgeCase(quantity: string, requestId: string, calls: readonly CallObservation[]): Judgement {
  const judged = calls.map((call) => judgeCall(quantity, requestId, call));
  const label = (i: number) => (i === 0 ? '' : 'repeat: ');
  const problems = judged.flatMap((j, i) => j.problems.map((p) => `${label(i)}${p}`));
  const notes = judged.flatMap((j, i) => j.notes.map((n) => `${label(i)}${n}`));
  if (problems.length > 0) return { verdict: 'unsafe', reasons: problems, notes, calls: judged };
  return { verdict: 'safe', reasons: [judged.map((j, i) => `${label(i)}${j.summary}`).join('; ')], notes, calls: judged };
}
