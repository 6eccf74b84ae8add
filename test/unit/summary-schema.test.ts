/**
 * summary.json has one schema (src/summary/summary.ts): what runScenario writes and what compare
 * and report read. A reader takes fields it does not know and the optional fields older summaries
 * lack; a damaged field is one line naming it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSummary } from '../../src/cli/read-summary.js';
import { summarySchema, type SummaryV1 } from '../../src/summary/summary.js';
import { buildFixture } from '../fixtures/report.js';

let dir: string;
let summary: SummaryV1;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sellout-summary-schema-'));
  summary = (await buildFixture()).summary;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problem(value: unknown): string {
  const file = join(dir, 'summary.json');
  writeFileSync(file, JSON.stringify(value));
  try {
    readSummary(file);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('readSummary accepted a damaged summary');
}

describe('the summary.json schema', () => {
  it('takes a whole summary as built, and keeps what a newer sellout adds', () => {
    expect(summarySchema.safeParse(summary).success).toBe(true);
    const newer = { ...summary, fromTheFuture: { x: 1 }, run: { ...summary.run, region: 'eu' } };
    const file = join(dir, 'newer.json');
    writeFileSync(file, JSON.stringify(newer));
    expect(readSummary(file)).toMatchObject({ fromTheFuture: { x: 1 }, run: { region: 'eu' } });
  });

  it('takes a summary without the fields added within version 1', () => {
    const { coverage: _c, thresholds: _t, verdict: _v, environment: _e, series: _s, skuTotals: _k, ...older } = summary;
    expect(summarySchema.safeParse(older).success).toBe(true);
  });

  it('checks every part, not only what a renderer reads first', () => {
    expect(problem({ ...summary, planned: 'lots' })).toMatch(/: planned: expected a count, got "lots"$/);
    expect(problem({ ...summary, invariants: [{ ...summary.invariants[0], status: 'green' }] })).toMatch(/: invariants\.0\.status: expected one of pass, fail, skipped, got "green"$/);
    expect(problem({ ...summary, thresholds: [{ ...summary.thresholds![0], unit: 'parsecs' }] })).toMatch(/: thresholds\.0\.unit: expected one of us, per_s, count, share, got "parsecs"$/);
    expect(problem({ ...summary, skus: [{ sku: 0, initial: 5, final: {}, journal: 1 }] })).toMatch(/: skus\.0\.final: expected a number, a string or null, got a mapping \{\}$/);
    expect(problem({ ...summary, latency: { ...summary.latency, ok: { p50: 1 } } })).toMatch(/: latency\.ok\.count: expected a count, got nothing \(and \d+ more problem\(s\)\)$/);
  });

  it('docs/summary.md describes every field of the schema, and no other', () => {
    const doc = readFileSync(new URL('../../docs/summary.md', import.meta.url), 'utf8');
    const table = doc.slice(doc.indexOf('| field | type | meaning |'), doc.indexOf('\n\n', doc.indexOf('| field | type | meaning |')));
    const documented = [...table.matchAll(/^\| (`[^|]+`) \|/gm)].flatMap((m) => [...m[1]!.matchAll(/`([a-zA-Z]+)[^`]*`/g)].map((n) => n[1]!));
    expect([...new Set(documented)].sort()).toEqual(Object.keys(summarySchema.shape).sort());
  });
});
