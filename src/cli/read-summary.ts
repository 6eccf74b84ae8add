/** Reads a summary.json given as the file itself or its report directory (for compare and report). */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { UsageError } from '../errors.js';
import { SUMMARY_VERSION, summarySchema, type SummaryV1 } from '../summary/summary.js';
import { formatIssues } from '../scenario/load.js';

export function summaryPath(pathOrDir: string): string {
  return existsSync(pathOrDir) && statSync(pathOrDir).isDirectory() ? join(pathOrDir, 'summary.json') : pathOrDir;
}

export function readSummary(pathOrDir: string): SummaryV1 {
  const file = summaryPath(pathOrDir);
  const rel = relative(process.cwd(), file);
  const shown = rel && !rel.startsWith('..') ? rel : file;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`${shown}: expected a summary.json or a report directory holding one, got ${code === 'ENOENT' ? 'no such file' : code ?? String(err)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${shown}: expected JSON, got ${(err as Error).message.split('\n')[0]}`);
  }
  const s = value as Partial<SummaryV1> | null;
  if (!s || typeof s !== 'object' || Array.isArray(s) || s.version !== SUMMARY_VERSION) {
    const version = s && typeof s === 'object' && 'version' in s ? `version ${JSON.stringify(s.version)}` : 'no version field';
    throw new UsageError(`${shown}: expected a sellout summary.json (version ${SUMMARY_VERSION}), got ${version}`);
  }
  // summary.json's one schema (src/summary/summary.ts), checked up front: a hand-edited or truncated
  // file gets one line naming the field, not a TypeError deep inside a renderer. It accepts fields
  // it does not know (a newer sellout may add them within version 1); they are kept as read.
  const checked = summarySchema.safeParse(s, { reportInput: true });
  if (!checked.success) {
    const problems = formatIssues(checked.error.issues, shown, new Set());
    throw new UsageError(`${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more problem(s))` : ''}`);
  }
  return s as SummaryV1;
}
