/** `sellout run <scenario>`: load, run, print the summary, write summary.json, pick the exit code. */
import { relative } from 'node:path';
import { ExitCode } from '../../errors.js';
import { formatSummary } from '../../report/console.js';
import { runScenario } from '../../run.js';
import { loadScenario, parseOverride } from '../../scenario/load.js';
import { defaultReportDir, writeJson } from '../output.js';
import { progressLine } from '../progress.js';

export interface RunCommandOptions {
  redis?: string;
  script?: string;
  set: string[];
  out?: string;
  keep?: boolean;
  quiet?: boolean;
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
  const { summary } = await runScenario(scenario, {
    redis: options.redis,
    keep: options.keep ?? false,
    signal: io.signal,
    onStage: (stage, detail) => {
      if (stage === 'verify') progress?.done();
      if (!options.quiet && stage === 'seed') io.stderr(`sellout: run ${detail} on ${scenario.name}: seeding ${scenario.skus.count} SKU(s)\n`);
    },
    ...(progress ? { onProgress: (p) => progress.update(p) } : {}),
  }).finally(() => progress?.done());
  const dir = options.out ?? defaultReportDir(scenario.name);
  writeJson(dir, 'summary.json', summary);
  const shown = relative(process.cwd(), dir) || '.';
  io.stdout(`${formatSummary(summary, shown.startsWith('..') ? dir : shown)}\n`);
  if (summary.status === 'interrupted') return ExitCode.interrupted;
  return summary.status === 'fail' ? ExitCode.invariantFailed : ExitCode.ok;
}
