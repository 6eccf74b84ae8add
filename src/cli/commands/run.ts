/**
 * `sellout run <scenario>`: load, run, evaluate the thresholds, write the report directory, print
 * the summary, pick the exit code (from the one verdict every report shows).
 */
import { relative } from 'node:path';
import { formatSummary } from '../../report/console.js';
import { renderOutputs } from '../../report/registry.js';
import type { SummaryV1 } from '../../report/summary.js';
import { formatThresholds, formatVerdictLine } from '../../report/thresholds-console.js';
import { verdictOf } from '../../report/verdict.js';
import { runScenario } from '../../run.js';
import { loadScenario, parseOverride } from '../../scenario/load.js';
import { evaluateThresholds } from '../../thresholds/evaluate.js';
import { parseThresholds } from '../../thresholds/parse.js';
import { environment } from '../environment.js';
import { defaultReportDir, writeFiles } from '../output.js';
import { progressLine } from '../progress.js';

export interface RunCommandOptions {
  redis?: string;
  script?: string;
  set: string[];
  out?: string;
  keep?: boolean;
  quiet?: boolean;
  /** false with --no-thresholds. */
  thresholds?: boolean;
}

export interface CommandIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Aborted on the first Ctrl-C. */
  signal: AbortSignal;
  /** A live progress line is drawn only on a terminal. */
  stderrIsTTY?: boolean;
  stderrColumns?: number;
}

export async function runCommand(file: string, options: RunCommandOptions, io: CommandIO): Promise<number> {
  const overrides = options.set.map(parseOverride);
  if (options.script !== undefined) overrides.push(parseOverride(`script=${JSON.stringify(options.script)}`));
  const scenario = loadScenario(file, { overrides });
  const progress = io.stderrIsTTY && !options.quiet ? progressLine(io.stderr, io.stderrColumns) : undefined;
  const run = await runScenario(scenario, {
    redis: options.redis,
    keep: options.keep ?? false,
    signal: io.signal,
    onStage: (stage, detail) => {
      if (stage === 'verify') progress?.done();
      if (!options.quiet && stage === 'seed') io.stderr(`sellout: run ${detail} on ${scenario.name}: seeding ${scenario.skus.count} SKU(s)\n`);
    },
    ...(progress ? { onProgress: (p) => progress.update(p) } : {}),
  }).finally(() => progress?.done());
  // Thresholds were validated when the scenario loaded, so parsing again cannot fail here.
  const thresholds = options.thresholds === false ? [] : evaluateThresholds(parseThresholds(scenario.thresholds).thresholds, run.summary);
  const summary: SummaryV1 = {
    ...run.summary,
    environment: environment(),
    ...(thresholds.length ? { thresholds } : {}),
  };
  summary.verdict = verdictOf(summary);
  const dir = options.out ?? defaultReportDir(scenario.name);
  writeFiles(dir, renderOutputs({ summary, histograms: run.histograms, intervals: run.intervals }));
  const shown = relative(process.cwd(), dir) || '.';
  const text = [formatSummary(summary, shown.startsWith('..') ? dir : shown), formatThresholds(thresholds), formatVerdictLine(summary)];
  io.stdout(`${text.filter(Boolean).join('\n')}\n`);
  return summary.verdict.exitCode;
}
