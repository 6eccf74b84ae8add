/**
 * The audit's judge over hand-built observations (no Redis): each rule that makes a case unsafe,
 * and the safe answers with their why. The end-to-end tests (test/e2e/cli-audit.test.ts) show the
 * same rules firing on real scripts.
 */
import { describe, expect, it } from 'vitest';
import { errorText, judgeCase, type CallObservation, type Reply } from '../../src/audit/judge.js';
import { auditCases, LONG_ID_BYTES } from '../../src/audit/cases.js';
import { auditReport, caseReport, formatAuditTable, renderAuditMarkdown } from '../../src/audit/report.js';

const ID = 'DEC-audit-1';
const none = { entries: 0, entry: null };
const entry = (fields: Record<string, unknown> = {}) => JSON.stringify({ action: 'decrease', from: 10, to: 7, change: 3, by: ID, timestamp: 1, ...fields });
const journaled = (fields: Record<string, unknown> = {}) => ({ entries: 1, entry: entry(fields) });
const int = (value: string | number): Reply => ({ type: 'integer', value: String(value) });
const err = (message: string): Reply => ({ type: 'error', message });

/** One call: by default a rejection that wrote nothing on a stock of 10. */
function call(o: Partial<CallObservation> = {}): CallObservation {
  return { reply: err('ERR INVALID_QUANTITY'), stockBefore: '10', stockAfter: '10', journalBefore: none, journalAfter: none, ...o };
}

/** A correct deduction of 3 from 10. */
const deduction = call({ reply: int(7), stockAfter: '7', journalAfter: journaled() });

describe('audit judge: safe', () => {
  it('a rejection that writes nothing is safe, and says so', () => {
    const j = judgeCase('-5', ID, [call()]);
    expect(j.verdict).toBe('safe');
    expect(j.reasons).toEqual(['rejected: INVALID_QUANTITY, nothing written']);
  });

  it('a deduction of exactly the quantity, journaled as it happened and replied, is safe', () => {
    const j = judgeCase('3', ID, [deduction]);
    expect(j).toMatchObject({ verdict: 'safe', reasons: ['deducted 3 (10 -> 7) and journaled it'], notes: [] });
    expect(j.calls[0]!.written).toBe('new');
  });

  it('accepts the published script\'s entry (from and change as strings) and notes its action "increase" without calling it unsafe', () => {
    const j = judgeCase('3', ID, [call({ reply: int(7), stockAfter: '7', journalAfter: journaled({ action: 'increase', from: '10', change: '3' }) })]);
    expect(j.verdict).toBe('safe');
    expect(j.notes).toEqual(['the journal entry says action "increase" for a decrease']);
  });

  it('INVENTORY_NOT_ENOUGH when the stock does not cover the quantity is safe', () => {
    const j = judgeCase('3', ID, [call({ reply: err('ERR INVENTORY_NOT_ENOUGH'), stockBefore: '2', stockAfter: '2' })]);
    expect(j).toMatchObject({ verdict: 'safe', reasons: ['rejected: INVENTORY_NOT_ENOUGH, nothing written'] });
  });

  it('a pre-existing non-integer stock left as it was is not the script\'s doing', () => {
    expect(judgeCase('1', ID, [call({ reply: err('current value is not a number'), stockBefore: 'abc', stockAfter: 'abc' })]).verdict).toBe('safe');
    expect(judgeCase('1', ID, [call({ reply: err('ERR KEY_NOT_FOUND'), stockBefore: null, stockAfter: null })]).verdict).toBe('safe');
  });

  it('the same ID twice: deducted once, the repeat rejected with nothing written', () => {
    const first = call({ reply: int(9), stockAfter: '9', journalAfter: journaled({ from: 10, to: 9, change: 1 }) });
    const repeat = call({ reply: err('ERR OPERATION_ALREADY_EXECUTED'), stockBefore: '9', stockAfter: '9', journalBefore: first.journalAfter, journalAfter: first.journalAfter });
    const j = judgeCase('1', ID, [first, repeat]);
    expect(j.verdict).toBe('safe');
    expect(j.reasons).toEqual(['deducted 1 (10 -> 9) and journaled it; repeat: rejected: OPERATION_ALREADY_EXECUTED, nothing written']);
  });

  it('a repeat answered with the stock (an idempotent replay) is safe, with a note', () => {
    const first = call({ reply: int(9), stockAfter: '9', journalAfter: journaled({ from: 10, to: 9, change: 1 }) });
    const repeat = call({ reply: int(9), stockBefore: '9', stockAfter: '9', journalBefore: first.journalAfter, journalAfter: first.journalAfter });
    const j = judgeCase('1', ID, [first, repeat]);
    expect(j.verdict).toBe('safe');
    expect(j.notes).toEqual(['repeat: the repeat was answered 9 (ok) without deducting: an idempotent replay']);
  });
});

describe('audit judge: unsafe', () => {
  const unsafe = (quantity: string, calls: CallObservation[]) => {
    const j = judgeCase(quantity, ID, calls);
    expect(j.verdict).toBe('unsafe');
    return j.reasons;
  };

  it('stock raised (a negative quantity)', () => {
    expect(unsafe('-5', [call({ reply: int(15), stockAfter: '15', journalAfter: journaled({ from: '10', to: 15, change: '-5' }) })])).toEqual(['raised the stock (10 -> 15)']);
  });

  it('a request ID burned: journaled with nothing deducted (quantity 0)', () => {
    expect(unsafe('0', [call({ reply: int(10), journalAfter: journaled({ to: 10, change: '0' }) })])).toEqual(['burned the request ID: journaled with nothing deducted']);
  });

  it('a non-integer stock stored, and an ok reply that differs from it (quantity 0.5)', () => {
    expect(unsafe('0.5', [call({ reply: int(9), stockAfter: '9.5', journalAfter: journaled({ to: 9.5, change: '0.5' }) })]))
      .toEqual(['stored a non-integer stock "9.5"', 'replied 9 but stored "9.5"']);
  });

  it('stock changed without a journal entry (nan stored, then the script failed)', () => {
    const reasons = unsafe('nan', [call({ reply: err('ERR user_script:22: Cannot serialise number: must not be NaN or Inf script: 5371f3308f198ee6e451c4276ee1318739af3616, on @user_script:22.'), stockAfter: 'nan' })]);
    expect(reasons).toEqual(['stored a non-integer stock "nan"', 'changed the stock without a journal entry']);
    // An integer-to-integer change with no entry at all.
    expect(unsafe('3', [call({ reply: int(7), stockAfter: '7' })])).toEqual(['changed the stock without a journal entry']);
  });

  it('stock changed but journaled under another request ID', () => {
    expect(unsafe('3', [call({ reply: int(7), stockAfter: '7', journalAfter: { entries: 1, entry: null } })])).toEqual(['changed the stock but journaled it under another request ID']);
    expect(unsafe('3', [call({ journalAfter: { entries: 1, entry: null } })])).toEqual(['wrote a journal entry under another request ID with nothing deducted']);
  });

  it('anything deducted for a quantity that is not a positive integer in decimal digits', () => {
    expect(unsafe(' 1', [call({ reply: int(9), stockAfter: '9', journalAfter: journaled({ to: 9, change: 1 }) })])).toEqual(['deducted 1 for quantity " 1", not a positive integer']);
  });

  it('stock fell by something other than the quantity (2^53+1 rounded by a double)', () => {
    const reasons = unsafe('9007199254740993', [call({
      reply: int(8), stockBefore: '9007199254740999', stockAfter: '8',
      journalAfter: journaled({ from: '9007199254740999', to: 8, change: '9007199254740993' }),
    })]);
    expect(reasons).toEqual(['stock fell by 9007199254740991, not by the quantity 9007199254740993', 'journal says change 9007199254740993, stock fell by 9007199254740991']);
  });

  it('a deduction past zero', () => {
    expect(unsafe('3', [call({ reply: int(-1), stockBefore: '2', stockAfter: '-1', journalAfter: journaled({ from: 2, to: -1 }) })])).toEqual(['deducted past zero (2 -> -1)']);
  });

  it('a missing stock key created, or the stock key deleted', () => {
    expect(unsafe('1', [call({ reply: int(-1), stockBefore: null, stockAfter: '-1' })])).toEqual(['created the missing stock key (as -1)', 'changed the stock without a journal entry']);
    expect(unsafe('1', [call({ reply: err('ERR oops'), stockAfter: null, journalAfter: journaled() })])).toEqual(['deleted the stock key']);
  });

  it('a non-integer stock changed, even into an integer', () => {
    expect(unsafe('1', [call({ reply: int(9), stockBefore: '10.5', stockAfter: '9', journalAfter: journaled({ from: 10.5, to: 9, change: 1 }) })])).toEqual(['changed a stock that is not an integer ("10.5" -> 9)']);
  });

  it('an ok reply that is not the stock stored (the stock before the deduction)', () => {
    expect(unsafe('3', [call({ reply: int(10), stockAfter: '7', journalAfter: journaled() })])).toEqual(['replied 10 but stored 7']);
  });

  it('an ok reply for a valid quantity with nothing deducted', () => {
    expect(unsafe('3', [call({ reply: int(10) })])).toEqual(['replied 10 (ok) but deducted nothing']);
  });

  it('a journal entry that does not describe the deduction: change, from/to, by, not JSON', () => {
    expect(unsafe('3', [call({ reply: int(7), stockAfter: '7', journalAfter: journaled({ change: 1 }) })])).toEqual(['journal says change 1, stock fell by 3']);
    expect(unsafe('3', [call({ reply: int(7), stockAfter: '7', journalAfter: journaled({ from: 9, to: 6 }) })])).toEqual(['journal says 9 -> 6, stock went 10 -> 7']);
    expect(unsafe('3', [call({ reply: int(7), stockAfter: '7', journalAfter: journaled({ by: 'someone' }) })])).toEqual(['journal entry\'s by is "someone", not the request ID']);
    expect(unsafe('3', [call({ reply: int(7), stockAfter: '7', journalAfter: { entries: 1, entry: 'ok' } })])).toEqual(['journal entry is not JSON: "ok"']);
  });

  it('the same ID twice: the repeat deducts again and overwrites the entry', () => {
    const first = call({ reply: int(9), stockAfter: '9', journalAfter: journaled({ from: 10, to: 9, change: 1 }) });
    const repeat = call({ reply: int(8), stockBefore: '9', stockAfter: '8', journalBefore: first.journalAfter, journalAfter: journaled({ from: 9, to: 8, change: 1, timestamp: 2 }) });
    expect(unsafe('1', [first, repeat])).toEqual([
      'repeat: deducted again for a request ID already in the journal (9 -> 8)',
      'repeat: overwrote the journal entry of a request ID already in the journal',
    ]);
  });

  it('a false sold-out: INVENTORY_NOT_ENOUGH for a quantity the stock covers', () => {
    expect(unsafe('10', [call({ reply: err('ERR INVENTORY_NOT_ENOUGH') })])).toEqual(['false sold-out: INVENTORY_NOT_ENOUGH for 10 with 10 in stock']);
  });

  it('several journal entries for one request, or the entry removed', () => {
    expect(unsafe('3', [call({ reply: int(7), stockAfter: '7', journalAfter: { entries: 2, entry: entry() } })])).toEqual(['wrote 2 journal entries for one request']);
    const before = journaled();
    expect(unsafe('3', [call({ reply: err('ERR OPERATION_ALREADY_EXECUTED'), journalBefore: before, journalAfter: none })])).toEqual(['removed the request ID\'s journal entry']);
  });
});

describe('audit output', () => {
  it('errorText drops ERR and the script trailer Redis 7 appends', () => {
    expect(errorText('ERR user_script:12: attempt to compare number with nil script: 5371f3308f198ee6e451c4276ee1318739af3616, on @user_script:12.')).toBe('user_script:12: attempt to compare number with nil');
    expect(errorText('current value is not a number')).toBe('current value is not a number');
  });

  it('the cases cover the issue\'s list, each with its own slug, and the long ID is 1 MiB', () => {
    const cases = auditCases();
    expect(cases.map((c) => c.quantity)).toEqual(expect.arrayContaining(['-5', '0', '0.5', '1e3', ' 1', '', 'nan', 'inf', '-inf', '9007199254740993', '100000000000000']));
    expect(cases.map((c) => c.stock)).toEqual(expect.arrayContaining([null, 'abc', '10.5', '123456789012345']));
    expect(new Set(cases.map((c) => c.slug)).size).toBe(cases.length);
    expect(cases.find((c) => c.slug === 'id-1mib')!.requestId).toHaveLength(LONG_ID_BYTES);
    expect(cases.find((c) => c.slug === 'id-empty')!.requestId).toBe('');
    expect(cases.find((c) => c.slug === 'id-twice')!.calls).toBe(2);
  });

  it('the table is aligned, cuts the 1 MiB ID in audit.json, and the verdict line agrees with the exit code', () => {
    const long = auditCases().find((c) => c.slug === 'id-1mib')!;
    const runCase = (c: typeof long, calls: CallObservation[]) => ({ case: c, keys: { stock: 's', journal: 'j' }, node: 'n', calls, judgement: judgeCase(c.quantity, c.requestId, calls) });
    const valid = auditCases()[0]!;
    const run = {
      cases: [
        runCase(long, [call({ reply: int(9), stockAfter: '9', journalAfter: { entries: 1, entry: JSON.stringify({ from: 10, to: 9, change: 1, by: long.requestId }) } })]),
        runCase(valid, [call({ reply: int(10), stockAfter: '7', journalAfter: { entries: 1, entry: entry({ by: valid.requestId }) } })]),
      ],
      notRun: [],
      interrupted: false,
    };
    const report = auditReport(run, {
      id: 'x', startedAt: new Date(0), finishedAt: new Date(0), selloutVersion: '0', script: { path: 'a.lua', sha1: 'f'.repeat(40) },
      target: { redisVersion: '7', mode: 'standalone', url: 'redis://h:1', kind: 'url' },
    });
    expect(report).toMatchObject({ verdict: 'unsafe', exitCode: 1, counts: { cases: 2, safe: 1, unsafe: 1, notRun: 0 } });
    expect(JSON.stringify(report).length).toBeLessThan(10_000);
    expect(caseReport(run.cases[0]!).input).toMatchObject({ requestIdBytes: LONG_ID_BYTES });
    const lines = formatAuditTable(report).split('\n');
    const header = lines.find((l) => l.includes('stock before -> after'))!;
    const rows = lines.filter((l) => /^\s+\d+ {2}/.test(l));
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row.indexOf(' -> ')).toBeGreaterThan(header.indexOf('stock') - 1);
    expect(new Set(rows.map((r) => r.search(/ (safe|UNSAFE):/))).size).toBe(1);
    expect(lines.at(-1)).toMatch(/^UNSAFE: 1 of 2 cases/);
    expect(renderAuditMarkdown(report)).toContain('| 19 | request ID of 1 MiB | 10 -> 9 | 9 | yes | safe: deducted 1 (10 -> 9) and journaled it |');
  });
});
