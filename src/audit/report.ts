/**
 * What `sellout audit` reports: one object (audit.json), the console table, and audit.md. Pure:
 * builds strings from an AuditRun; the CLI prints and writes them.
 */
import type { TargetInfo } from '../summary/summary.js';
import type { AuditRun, CaseResult } from './audit.js';
import { replyText, shown, type JournalWrite, type Reply } from './judge.js';

export const AUDIT_VERSION = 1;

/** Strings longer than this are cut in audit.json (the 1 MiB request ID would otherwise be copied in whole, twice). */
const MAX_JSON_STRING = 200;

export interface AuditReport {
  readonly tool: 'sellout audit';
  readonly auditVersion: number;
  readonly selloutVersion: string;
  readonly id: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly script: { readonly path: string; readonly sha1: string };
  readonly target: TargetInfo & { readonly origin?: string };
  /** safe: every case safe; unsafe: at least one case unsafe; interrupted: stopped before every case ran. */
  readonly verdict: 'safe' | 'unsafe' | 'interrupted';
  readonly exitCode: number;
  readonly counts: { readonly cases: number; readonly safe: number; readonly unsafe: number; readonly notRun: number };
  readonly cases: readonly AuditCaseReport[];
  readonly notRun: readonly string[];
  readonly keysLeft?: { readonly count: number; readonly pattern: string; readonly reason: string };
}

export interface AuditCaseReport {
  readonly number: number;
  /** Stable name of the case (its keys' hash tag), for scripts reading audit.json. */
  readonly slug: string;
  readonly name: string;
  readonly about: string;
  readonly keys: { readonly stock: string; readonly journal: string };
  readonly node: string;
  readonly input: { readonly stock: string | null; readonly quantity: string; readonly requestId: string; readonly requestIdBytes: number };
  readonly calls: readonly {
    readonly reply: Reply;
    readonly stockBefore: string | null;
    readonly stockAfter: string | null;
    readonly journal: {
      readonly entriesBefore: number;
      readonly entriesAfter: number;
      readonly written: JournalWrite;
      /** The entry under the request ID after the call: parsed JSON when it is JSON, else the raw text. */
      readonly entry: unknown;
    };
  }[];
  readonly verdict: 'safe' | 'unsafe';
  readonly reasons: readonly string[];
  readonly notes: readonly string[];
}

/** A long string as its start and its length. */
function cut(text: string): string {
  return text.length > MAX_JSON_STRING ? `${text.slice(0, 40)}… (${text.length.toLocaleString('en-US')} chars)` : text;
}

function cutDeep(value: unknown): unknown {
  if (typeof value === 'string') return cut(value);
  if (Array.isArray(value)) return value.map(cutDeep);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [cut(k), cutDeep(v)]));
  return value;
}

function parsedEntry(raw: string | null): unknown {
  if (raw === null) return null;
  try {
    return cutDeep(JSON.parse(raw));
  } catch {
    return cut(raw);
  }
}

export function caseReport(r: CaseResult): AuditCaseReport {
  return {
    number: r.case.number,
    slug: r.case.slug,
    name: r.case.name,
    about: r.case.about,
    keys: r.keys,
    node: r.node,
    input: { stock: r.case.stock, quantity: r.case.quantity, requestId: cut(r.case.requestId), requestIdBytes: Buffer.byteLength(r.case.requestId) },
    calls: r.calls.map((call, i) => ({
      reply: cutDeep(call.reply) as Reply,
      stockBefore: call.stockBefore === null ? null : cut(call.stockBefore),
      stockAfter: call.stockAfter === null ? null : cut(call.stockAfter),
      journal: {
        entriesBefore: call.journalBefore.entries,
        entriesAfter: call.journalAfter.entries,
        written: r.judgement.calls[i]!.written,
        entry: parsedEntry(call.journalAfter.entry),
      },
    })),
    verdict: r.judgement.verdict,
    reasons: r.judgement.reasons.map(cut),
    notes: r.judgement.notes,
  };
}

export interface AuditMeta {
  readonly id: string;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly selloutVersion: string;
  readonly script: { readonly path: string; readonly sha1: string };
  readonly target: TargetInfo & { readonly origin?: string };
}

/** Exit codes (DESIGN.md §8): 130 interrupted wins over 1 unsafe. */
export function auditReport(run: AuditRun, meta: AuditMeta): AuditReport {
  const unsafe = run.cases.filter((c) => c.judgement.verdict === 'unsafe').length;
  const verdict = run.interrupted ? 'interrupted' : unsafe > 0 ? 'unsafe' : 'safe';
  return {
    tool: 'sellout audit',
    auditVersion: AUDIT_VERSION,
    selloutVersion: meta.selloutVersion,
    id: meta.id,
    startedAt: meta.startedAt.toISOString(),
    finishedAt: meta.finishedAt.toISOString(),
    script: meta.script,
    target: meta.target,
    verdict,
    exitCode: verdict === 'interrupted' ? 130 : verdict === 'unsafe' ? 1 : 0,
    counts: { cases: run.cases.length + run.notRun.length, safe: run.cases.length - unsafe, unsafe, notRun: run.notRun.length },
    cases: run.cases.map(caseReport),
    notRun: run.notRun.map((c) => `${c.number} ${c.name}`),
    ...(run.keysLeft !== undefined ? { keysLeft: run.keysLeft } : {}),
  };
}

export function renderAuditJson(report: AuditReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** A table cell: at most `width` characters. */
function cell(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

const JOURNAL_WORD: Record<JournalWrite, string> = { none: 'no', new: 'yes', overwritten: 'overwrote', removed: 'removed', other: 'other ID' };

/** One row per case: #, case, stock before -> after, reply, journal entry written?, verdict with why. */
export function caseRow(c: AuditCaseReport): [string, string, string, string, string, string] {
  const stocks = [c.calls[0]?.stockBefore ?? null, ...c.calls.map((call) => call.stockAfter)].map((s) => cell(stockCell(s), 22));
  return [
    String(c.number),
    c.name,
    stocks.join(' -> '),
    c.calls.map((call) => cell(replyText(call.reply), c.calls.length > 1 ? 30 : 32)).join(' / '),
    c.calls.map((call) => JOURNAL_WORD[call.journal.written]).join(' / '),
    `${c.verdict === 'safe' ? 'safe' : 'UNSAFE'}: ${c.reasons.join('; ')}`,
  ];
}

function stockCell(value: string | null): string {
  return value === null ? '(none)' : shown(value);
}

const HEADER = ['#', 'case', 'stock before -> after', 'reply', 'journal entry', 'verdict'] as const;

function targetLine(report: AuditReport): string {
  const t = report.target;
  return `redis ${t.redisVersion} ${t.mode} (${t.kind}, ${t.url}${t.origin ? `; ${t.origin}` : ''})`;
}

export function verdictLine(report: AuditReport): string {
  const { counts } = report;
  if (report.verdict === 'interrupted') return `INTERRUPTED: ${counts.cases - counts.notRun} of ${counts.cases} cases ran (${counts.unsafe} unsafe); not run: ${report.notRun.join(', ')}`;
  return report.verdict === 'unsafe'
    ? `UNSAFE: ${counts.unsafe} of ${counts.cases} cases left state the script should not have (or a reply the state contradicts)`
    : `SAFE: all ${counts.cases} cases safe`;
}

/** Each distinct note once, with the numbers of the cases it came from. */
function groupedNotes(report: AuditReport): { note: string; cases: number[] }[] {
  const byNote = new Map<string, number[]>();
  for (const c of report.cases) for (const note of c.notes) byNote.set(note, [...(byNote.get(note) ?? []), c.number]);
  return [...byNote].map(([note, cases]) => ({ note, cases }));
}

/** The console output: a header, the aligned table, notes, the verdict line. */
export function formatAuditTable(report: AuditReport, reportDir?: string): string {
  const rows = [HEADER as readonly string[], ...report.cases.map(caseRow)];
  const widths = HEADER.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = [
    `sellout audit: ${report.script.path} (sha ${report.script.sha1.slice(0, 12)})`,
    `  target  ${targetLine(report)}`,
    '',
    ...rows.map((r) => `  ${r.map((text, i) => (i === 0 ? text.padStart(widths[i]!) : i === r.length - 1 ? text : text.padEnd(widths[i]!))).join('  ')}`.trimEnd()),
  ];
  const notes = groupedNotes(report).map(({ note, cases }) => `  note    ${note} (case ${cases.join(', ')})`);
  if (notes.length > 0) lines.push('', ...notes);
  lines.push('');
  if (report.keysLeft) {
    const k = report.keysLeft;
    lines.push(`  keys left ${k.count < 0 ? 'an unknown number of' : k.count} key(s) ${k.pattern} are still in Redis (cleanup failed: ${k.reason}); delete them with: redis-cli --scan --pattern '${k.pattern}' | xargs redis-cli unlink`);
  }
  if (reportDir) lines.push(`  report  ${reportDir}`);
  lines.push(verdictLine(report));
  return lines.join('\n');
}

function mdCell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/`/g, '\\`').replace(/\n/g, ' ');
}

/** audit.md: the same table, for a CI step summary or a pull request. */
export function renderAuditMarkdown(report: AuditReport): string {
  const lines = [
    `# sellout audit: ${report.verdict.toUpperCase()}`,
    '',
    `- script: \`${report.script.path}\` (SHA-1 \`${report.script.sha1}\`)`,
    `- target: ${mdCell(targetLine(report))}`,
    `- audit ${report.id}, ${report.startedAt}`,
    `- ${mdCell(verdictLine(report))}`,
    '',
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map((h) => (h === '#' ? '--:' : '---')).join('|')}|`,
    ...report.cases.map((c) => `| ${caseRow(c).map(mdCell).join(' | ')} |`),
  ];
  const notes = groupedNotes(report).map(({ note, cases }) => `- ${mdCell(note)} (case ${cases.join(', ')})`);
  if (notes.length > 0) lines.push('', 'Notes:', '', ...notes);
  if (report.keysLeft) lines.push('', `Keys left in Redis: ${report.keysLeft.count} matching \`${report.keysLeft.pattern}\` (${mdCell(report.keysLeft.reason)})`);
  return `${lines.join('\n')}\n`;
}
