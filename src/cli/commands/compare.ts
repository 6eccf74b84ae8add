/** `sellout compare <baseline> <current>`: the main figures side by side; exit 4 on a regression beyond tolerance. */
import { relative } from 'node:path';
import { compareSummaries, formatComparison, formatScenarioChanges, parseTolerances } from '../../compare/compare.js';
import { ExitCode, UsageError } from '../../errors.js';
import { readSummary, summaryPath } from '../read-summary.js';

export interface CompareCommandOptions {
  tolerance?: string[];
  /** Compare runs of different scenarios anyway, under a loud header (refused otherwise, exit 2). */
  allowDifferentScenarios?: boolean;
}

export const REFUSED_HEADER = 'sellout compare: refused: the two runs ran different scenarios, so their deltas would not mean a regression';

export function compareCommand(baseline: string, current: string, options: CompareCommandOptions, io: { stdout: (t: string) => void; stderr: (t: string) => void }): number {
  const { tolerances, problems } = parseTolerances((options.tolerance ?? []).join(','));
  if (problems.length) throw new UsageError(problems.join('\n'));
  const base = readSummary(baseline);
  const cur = readSummary(current);
  const shown = (p: string) => { const rel = relative(process.cwd(), p); return rel && !rel.startsWith('..') ? rel : p; };
  const label = (p: string, s: typeof base) => `${shown(summaryPath(p))} (${s.scenario.name}, ${s.run.startedAt})`;
  const comparison = compareSummaries(base, cur, tolerances);
  if (comparison.scenarioChanges.length > 0 && !options.allowDifferentScenarios) {
    // Exit 2 like any other usage error: comparing these two was the mistake, not the software.
    io.stderr(`${[
      ...formatScenarioChanges(comparison.scenarioChanges, REFUSED_HEADER),
      `  baseline ${label(baseline, base)}`,
      `  current  ${label(current, cur)}`,
      'sellout: compare two runs of the same scenario, or pass --allow-different-scenarios to compare them anyway (exit 2)',
    ].join('\n')}\n`);
    return ExitCode.usage;
  }
  io.stdout(`${formatComparison(comparison, label(baseline, base), label(current, cur))}\n`);
  return comparison.verdict === 'regression' ? ExitCode.thresholdFailed : ExitCode.ok;
}
