/**
 * The error replies one worker's connections received, by exact text, with counts. The hot path
 * matches a reply's bytes against the few lines already seen (a run meets a handful of distinct
 * error texts), so classifying an error allocates nothing after its first occurrence.
 *
 * Some error replies are not the script's answer but the server refusing the command outright
 * (DESIGN.md §8: a target problem, exit 3): out of memory, no permission, a read-only replica, a
 * cluster redirect, a script that will not finish, a dataset still loading. Those are flagged here
 * so the run can name them instead of blaming the script.
 */
import { Code, classifyErrorReply, type OutcomeCode } from '../outcomes.js';
import type { ErrorReplyCount } from '../summary/summary.js';

export type { ErrorReplyCount };

/** Error codes (first word of the reply) with which a server refuses a command it did not run. */
export const REFUSAL_CODES = ['OOM', 'NOPERM', 'READONLY', 'MOVED', 'ASK', 'BUSY', 'LOADING', 'MASTERDOWN', 'CLUSTERDOWN', 'TRYAGAIN', 'MISCONF', 'NOREPLICAS', 'NOAUTH', 'WRONGPASS'] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

/** The refusal code an error reply starts with, if it is one. */
export function refusalCodeOf(text: string): RefusalCode | undefined {
  const word = /^[A-Z]+/.exec(text)?.[0];
  return (REFUSAL_CODES as readonly string[]).includes(word ?? '') ? (word as RefusalCode) : undefined;
}

export interface ErrorReplyEntry {
  readonly bytes: Buffer;
  readonly text: string;
  readonly code: OutcomeCode;
  readonly noscript: boolean;
  readonly refusal: RefusalCode | undefined;
  /**
   * A cluster's answer that the command belongs elsewhere or later (MOVED, ASK, TRYAGAIN,
   * CLUSTERDOWN): in cluster mode the router resends it (router.ts); elsewhere it is a refusal.
   */
  readonly redirect: 'moved' | 'ask' | 'tryagain' | undefined;
  /** MOVED / ASK: the slot and the `host:port` of its owner. */
  readonly slot: number | undefined;
  readonly node: string | undefined;
  /** Deductions answered with this text. */
  count: number;
}

/** Distinct texts kept; further texts (a script's message with a variable part) share one bucket. */
const MAX_DISTINCT = 32;
const MAX_TEXT = 200;

export class ErrorReplies {
  private readonly entries: ErrorReplyEntry[] = [];
  /** Counts of texts beyond MAX_DISTINCT, per outcome code, with the first such text as an example. */
  private overflowCount = 0;
  private overflowExample = '';

  /** The entry for the error line buf[from, to) (the bytes after '-', without CRLF). */
  lookup(buf: Buffer, from: number, to: number): ErrorReplyEntry {
    const len = to - from;
    const entries = this.entries;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const bytes = entry.bytes;
      if (bytes.length !== len) continue;
      let same = true;
      for (let k = 0; k < len; k++) {
        if (bytes[k] !== buf[from + k]) { same = false; break; }
      }
      if (same) return entry;
    }
    const text = buf.toString('latin1', from, to);
    const redirect = redirectOf(text);
    const entry: ErrorReplyEntry = {
      bytes: Buffer.from(buf.subarray(from, to)),
      text,
      code: classifyErrorReply(text),
      noscript: text.startsWith('NOSCRIPT'),
      refusal: refusalCodeOf(text),
      ...redirect,
      count: 0,
    };
    if (entries.length < MAX_DISTINCT) entries.push(entry);
    else this.overflowExample ||= text;
    return entry;
  }

  /** Counts one deduction answered with this entry (only `error` outcomes are listed). */
  count(entry: ErrorReplyEntry): void {
    if (entry.code !== Code.error) return;
    if (this.entries.includes(entry)) entry.count++;
    else this.overflowCount++;
  }

  list(): ErrorReplyCount[] {
    const out: ErrorReplyCount[] = this.entries
      .filter((e) => e.count > 0)
      .map((e) => ({ reply: clip(e.text), count: e.count, ...(e.refusal ? { refusal: e.refusal } : {}) }));
    if (this.overflowCount > 0) out.push({ reply: `${clip(this.overflowExample)} (and other texts)`, count: this.overflowCount });
    return out;
  }
}

/** `MOVED 3999 127.0.0.1:6381` -> moved, slot 3999, node 127.0.0.1:6381 (the cluster spec's redirect replies). */
export function redirectOf(text: string): Pick<ErrorReplyEntry, 'redirect' | 'slot' | 'node'> {
  const moved = /^(MOVED|ASK) (\d+) (\S+)$/.exec(text);
  if (moved) return { redirect: moved[1] === 'ASK' ? 'ask' : 'moved', slot: Number(moved[2]), node: moved[3] };
  if (/^(TRYAGAIN|CLUSTERDOWN)\b/.test(text)) return { redirect: 'tryagain', slot: undefined, node: undefined };
  return { redirect: undefined, slot: undefined, node: undefined };
}

/** Merges the lists of several workers: same text adds up; sorted by count, most first. */
export function mergeErrorReplies(lists: readonly (readonly ErrorReplyCount[])[]): ErrorReplyCount[] {
  const byText = new Map<string, ErrorReplyCount>();
  for (const list of lists) {
    for (const e of list) {
      const seen = byText.get(e.reply);
      byText.set(e.reply, seen ? { ...seen, count: seen.count + e.count } : e);
    }
  }
  return [...byText.values()].sort((a, b) => b.count - a.count || a.reply.localeCompare(b.reply));
}

function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
}
