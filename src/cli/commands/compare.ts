/** `sellout compare <baseline> <current>`: the main figures side by side; exit 4 on a regression beyond tolerance. */
import { relative } from 'node:path';
import { compareSummaries, formatComparison, parseTolerances } from '../../compare/compare.js';
import { ExitCode, UsageError } from '../../errors.js';
import { readSummary, summaryPath } from '../read-summary.js';

export interface CompareCommandOptions {
  tolerance?: string[];
}

export function compareCommand(baseline: string, current: string, options: CompareCommandOptions, io: { stdout: (t: string) => void }): number {
  const { tolerances, problems } = parseTolerances((options.tolerance ?? []).join(','));
  if (problems.length) throw new UsageError(problems.join('\n'));
  const base = readSummary(baseline);
  const cur = readSummary(current);
  const shown = (p: string) => { const rel = relative(process.cwd(), p); return rel && !rel.startsWith('..') ? rel : p; };
  const label = (p: string, s: typeof base) => `${shown(summaryPath(p))} (${s.scenario.name}, ${s.run.startedAt})`;
  const comparison = compareSummaries(base, cur, tolerances);
  io.stdout(`${formatComparison(comparison, label(baseline, base), label(current, cur))}\n`);
  return comparison.verdict === 'regression' ? ExitCode.thresholdFailed : ExitCode.ok;
}
