/**
 * compare and report read summary.json through readSummary: coverage is optional (summaries written
 * before it existed, or by a run that lost Redis, still load), and a damaged coverage is one line
 * naming the field.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSummary } from '../../src/cli/read-summary.js';
import { UsageError } from '../../src/errors.js';
import type { SummaryV1 } from '../../src/summary/summary.js';
import { buildFixture } from '../fixtures/report.js';

let dir: string;
let summary: SummaryV1;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sellout-read-summary-'));
  summary = (await buildFixture()).summary;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function written(value: unknown): string {
  const file = join(dir, `summary-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(value));
  return file;
}

function problem(value: unknown): string {
  try {
    readSummary(written(value));
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('readSummary accepted a damaged summary');
}

describe('readSummary and coverage', () => {
  it('reads coverage back as written', () => {
    expect(summary.coverage).toBeDefined();
    expect(readSummary(written(summary)).coverage).toEqual(summary.coverage);
  });

  it('loads a summary without coverage', () => {
    const { coverage: _, ...older } = summary;
    expect(readSummary(written(older)).coverage).toBeUndefined();
  });

  it('names the damaged coverage field in one line', () => {
    expect(problem({ ...summary, coverage: { ...summary.coverage, partialBoundary: 'many' } })).toMatch(/summary-\w+\.json: coverage\.partialBoundary: expected a number, got "many"$/);
    const { concurrentTwin: _, ...missing } = summary.coverage!;
    expect(problem({ ...summary, coverage: missing })).toMatch(/: coverage\.concurrentTwin: expected a number, got nothing$/);
    expect(problem({ ...summary, coverage: { ...summary.coverage, warnings: 'none' } })).toMatch(/: coverage\.warnings: expected a list of strings, got "none"$/);
  });
});
