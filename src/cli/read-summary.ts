/** Reads a summary.json given as the file itself or its report directory (for compare and report). */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { SUMMARY_VERSION, type SummaryV1 } from '../summary/summary.js';
import { COVERAGE_COUNTS } from '../summary/coverage.js';
import { formatIssues } from '../scenario/load.js';

// What compare and report read from a summary.json, checked up front: a hand-edited or truncated
// file gets one line naming the field, not a TypeError deep inside a renderer. Loose objects: a
// newer sellout may add fields within version 1.
const num = z.number({ error: 'a number' });
const text = z.string({ error: 'a string' });
const percentiles = z.looseObject({ count: num, p50: num, p90: num, p99: num, p999: num, max: num, mean: num }).nullable();
const summarySchema = z.looseObject({
  sellout: z.looseObject({ version: text, node: text }),
  run: z.looseObject({ id: text, startedAt: text, finishedAt: text }),
  scenario: z.looseObject({ name: text, file: text, script: text, scriptSha: text, asRun: text }),
  status: z.enum(['pass', 'fail', 'interrupted', 'crashed'], { error: 'one of pass, fail, interrupted, crashed' }),
  requests: num,
  durationMs: num,
  throughput: num,
  outcomes: z.record(text, num, { error: 'a mapping of outcome to count' }),
  latency: z.record(text, percentiles, { error: 'a mapping of outcome to percentiles' }),
  load: z.looseObject({ model: text, connections: num, inFlight: num, workers: num }),
  invariants: z.array(
    z.looseObject({ name: text, status: z.enum(['pass', 'fail', 'skipped'], { error: 'one of pass, fail, skipped' }), expected: text, actual: text, examples: z.array(text) }),
    { error: 'a list of invariant results' },
  ),
  // Optional: summaries written before coverage existed (or with Redis lost) still load.
  coverage: z.looseObject({
    ...Object.fromEntries(COVERAGE_COUNTS.map((name) => [name, num])),
    warnings: z.array(text, { error: 'a list of strings' }),
  }).optional(),
  skus: z.array(z.looseObject({ sku: num, initial: num, final: z.union([num, text, z.null()], { error: 'a number, a string or null' }), journal: num }), { error: 'a list of SKUs' }),
  target: z.looseObject({ redisVersion: text, mode: text, url: text, kind: text }),
});

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
  const checked = summarySchema.safeParse(s, { reportInput: true });
  if (!checked.success) {
    const problems = formatIssues(checked.error.issues, shown, new Set());
    throw new UsageError(`${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more problem(s))` : ''}`);
  }
  return s as SummaryV1;
}
