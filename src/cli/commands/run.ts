/**
 * `sellout run <scenario>`: load, run, evaluate the thresholds, write the report directory, print
 * the summary, pick the exit code (from the one verdict every report shows).
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { formatSummary } from '../../report/console.js';
import { renderOutputs } from '../../report/registry.js';
import { formatThresholds, formatVerdictLine } from '../../report/thresholds-console.js';
import { runScenario, type RunOptions, type RunOutput } from '../../run.js';
import type { Scenario } from '../../scenario/load.js';
import { runWithAgents } from '../../agents/local.js';
import { distributedProblems } from '../../agents/prepare.js';
import { MAX_AGENTS } from '../../agents/manifest.js';
import { loadScenarioFromArgs } from '../scenario-args.js';
import { environment } from '../environment.js';
import { RunKeys } from '../../keys.js';
import { ExitCode, ScenarioError, TargetError, UsageError } from '../../errors.js';
import { checkTlsCaTarget, chooseRedis } from '../../redis/url.js';
import { defaultReportDir, discardReportDir, prepareReportDir, writeReport } from '../output.js';
import { progressLine } from '../progress.js';
import type { SummaryV1, VerdictV1 } from '../../summary/summary.js';
import { parseThresholds, withDefaultThresholds } from '../../thresholds/parse.js';
import { repeatVerdict, type RepeatVerdict } from '../../thresholds/repeat.js';
import { formatValue } from '../../thresholds/evaluate.js';

export interface RunCommandOptions {
  redis?: string;
  /** --tls-ca: PEM file of the CA that signed a rediss:// server's certificate. */
  tlsCa?: string;
  script?: string;
  set: string[];
  out?: string;
  keep?: boolean;
  quiet?: boolean;
  /** false with --no-thresholds. */
  thresholds?: boolean;
  /** --repeat N: N runs on fresh keys, gated on the median of each thresholded figure. */
  repeat?: number;
  /** --repeat as written (for its error message). */
  repeatText?: string;
  /** --agents N: N agent processes on this machine, one verdict (src/agents/local.ts). */
  agents?: number;
  /** --agents as written (for its error message). */
  agentsText?: string;
}

/** Runs the scenario with the options the CLI built (runScenario, or a distributed run's collect). */
export type Runner = (options: RunOptions) => Promise<RunOutput>;

export interface CommandIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Aborted on the first Ctrl-C (or SIGTERM). */
  signal: AbortSignal;
  /** Aborted on the second: skip what is left of the verification. */
  hardSignal?: AbortSignal;
  /** Told the run ID and a glob of its keys (`sellout:<id>:*` by default) once keys are about to be written (for a last-resort message). */
  onRunId?: (runId: string, keysPattern: string) => void;
  /** A live progress line is drawn only on a terminal. */
  stderrIsTTY?: boolean;
  stderrColumns?: number;
  /** Where SELLOUT_REDIS_URL, REDIS_URL, SELLOUT_REDIS_PASSWORD and REDISCLI_AUTH are read (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

export async function runCommand(file: string, options: RunCommandOptions, io: CommandIO): Promise<number> {
  const scenario = loadScenarioFromArgs(file, options);
  // The target URL (flag or environment) is checked before anything is created.
  const redis = chooseRedis(options.redis, io.env ?? process.env);
  const tlsCa = options.tlsCa !== undefined ? readTlsCa(options.tlsCa, redis.redis) : undefined;
  const repeat = options.repeat ?? 1;
  const agents = options.agents;
  let runner: Runner | undefined;
  if (agents !== undefined) {
    if (!Number.isInteger(agents) || agents < 1 || agents > MAX_AGENTS) throw new UsageError(`--agents: expected a number of agents from 1 to ${MAX_AGENTS}, got ${JSON.stringify(options.agentsText ?? String(agents))}`);
    const problems = distributedProblems(scenario, agents, file);
    if (problems.length > 0) throw new ScenarioError(problems);
    const ca = options.tlsCa !== undefined && tlsCa !== undefined ? { file: options.tlsCa, pem: tlsCa } : undefined;
    runner = (o) => runWithAgents(scenario, { ...o, agents, shown: file, tlsCa: ca, ...(options.quiet ? {} : { onAgentLine: (line: string) => io.stderr(`sellout: ${line}\n`) }) });
  }
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 100) throw new UsageError(`--repeat: expected a number of runs from 1 to 100, got ${JSON.stringify(options.repeatText ?? String(repeat))}`);
  // Checked before the load: a finished run must not be lost to an unusable --out.
  const out = prepareReportDir(options.out ?? defaultReportDir(scenario.name));
  if (repeat === 1) {
    const one = await runOnce(scenario, out, { redis, tlsCa, options, io, ...(runner !== undefined ? { runner, collecting: true } : {}) });
    io.stdout(`${one.text}\n`);
    return one.exitCode;
  }
  // --repeat N: N runs on fresh keys, each with its report in run-<i>/, one gate on the medians.
  const summaries: SummaryV1[] = [];
  for (let i = 1; i <= repeat && !io.signal.aborted; i++) {
    const one = await runOnce(scenario, prepareReportDir(join(out.dir, `run-${i}`)), { redis, tlsCa, options, io, ...(runner !== undefined ? { runner, collecting: true } : {}) });
    summaries.push(one.summary);
    const ok = one.summary.latency.ok;
    io.stdout(`run ${i} of ${repeat}: ${formatVerdictLine(one.summary).trim().replace(/^verdict\s+/, '')}; ${one.summary.throughput.toLocaleString('en-US')} replies/s${ok ? `, ok p99 ${formatValue(ok.p99, 'us')}` : ''} (report run-${i}/)\n`);
  }
  const thresholds = options.thresholds === false ? [] : withDefaultThresholds(parseThresholds(scenario.thresholds).thresholds);
  const verdict = repeatVerdict(summaries, thresholds);
  const interrupted = io.signal.aborted && summaries.length < repeat;
  const exitCode = interrupted && verdict.exitCode !== ExitCode.internal ? ExitCode.interrupted : verdict.exitCode;
  const repeated = { tool: 'sellout', scenario: scenario.name, runs: summaries.map((s, i) => ({ dir: `run-${i + 1}`, id: s.run.id, status: s.status, exitCode: s.verdict?.exitCode ?? 0 })), planned: repeat, thresholds: verdict.thresholds, exitCode };
  writeReport(out.dir, [{ name: 'repeat.json', content: `${JSON.stringify(repeated, null, 2)}\n` }], { runId: `repeat-${summaries[0]?.run.id ?? 'none'}` });
  io.stdout(`${formatRepeat(scenario.name, summaries, verdict, exitCode, repeat)}\n`);
  return exitCode;
}

/** One run: target, load, verification, the report written to `out`, the console text. */
export async function runOnce(
  scenario: Scenario,
  out: ReturnType<typeof prepareReportDir>,
  ctx: { redis: ReturnType<typeof chooseRedis>; tlsCa: string | undefined; options: Omit<RunCommandOptions, 'set'>; io: CommandIO; runner?: Runner; collecting?: boolean },
): Promise<{ summary: SummaryV1 & { verdict: VerdictV1 }; exitCode: number; text: string }> {
  const { redis, tlsCa, options, io } = ctx;
  const runner: Runner = ctx.runner ?? ((o) => runScenario(scenario, o));
  const dir = out.dir;
  const progress = io.stderrIsTTY && !options.quiet ? progressLine(io.stderr, io.stderrColumns) : undefined;
  let run: Awaited<ReturnType<typeof runScenario>>;
  try {
    run = await runner({
      redis: redis.redis,
      ...(tlsCa !== undefined ? { tlsCa } : {}),
      keep: options.keep ?? false,
      signal: io.signal,
      ...(io.hardSignal ? { hardSignal: io.hardSignal } : {}),
      onStage: (stage, detail, target) => {
        if (stage === 'seed' && detail !== undefined) io.onRunId?.(detail, new RunKeys(scenario.keys, detail).pattern);
        if (stage === 'verify') progress?.done();
        if (!options.quiet && stage === 'seed' && ctx.collecting) io.stderr(`sellout: run ${detail} on ${scenario.name}: ${scenario.skus.count} SKU(s) seeded by prepare on ${target?.url ?? 'Redis'}; collecting the agents' results\n`);
        else if (!options.quiet && stage === 'seed') io.stderr(`sellout: run ${detail} on ${scenario.name}: seeding ${scenario.skus.count} SKU(s) on ${target?.url ?? 'Redis'} (${target?.kind ?? ''})\n`);
      },
      ...(progress ? { onProgress: (p) => progress.update(p) } : {}),
      thresholds: options.thresholds !== false,
    });
  } catch (err) {
    // No report will come (Redis unavailable, …): don't leave an empty directory behind.
    discardReportDir(out);
    // A refused password that came from the environment: say which variable held it.
    if (err instanceof TargetError && redis.origin !== undefined) throw new TargetError(`${err.message} (${redis.origin})`, err.hint);
    throw err;
  } finally {
    progress?.done();
  }
  // Where it ran is read from this machine, at the edge (the run itself stays machine-agnostic).
  const summary = { ...run.summary, environment: environment() };
  const thresholds = summary.thresholds ?? [];
  const exitCode = summary.verdict.exitCode;
  let writeError: string | undefined;
  try {
    writeReport(dir, renderOutputs({ summary, histograms: run.histograms, intervals: run.intervals, skus: run.skus }), { runId: summary.run.id });
  } catch (err) {
    writeError = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
  const shown = relative(process.cwd(), dir) || '.';
  const text = [formatSummary(summary, shown.startsWith('..') ? dir : shown, { targetOrigin: redis.origin }), formatThresholds(thresholds), formatVerdictLine(summary)];
  if (writeError !== undefined) {
    io.stderr(`sellout: could not write the report to ${dir} (${writeError}); the summary above is all that is left of this run\n`);
    return { summary, exitCode: exitCode === ExitCode.ok ? ExitCode.usage : exitCode, text: text.filter(Boolean).join('\n') };
  }
  return { summary, exitCode, text: text.filter(Boolean).join('\n') };
}

/** The gate over N runs: each threshold's median and spread, and the verdict. */
function formatRepeat(name: string, summaries: readonly SummaryV1[], verdict: RepeatVerdict, exitCode: number, planned: number): string {
  const lines = [`sellout ${name}: ${summaries.length} of ${planned} run(s), gated on the median of each thresholded figure`];
  lines.push(`  runs        ${summaries.map((s, i) => `run-${i + 1} ${s.status}`).join(' · ')}`);
  lines.push('  thresholds  (median [min .. max])');
  for (const t of verdict.thresholds) lines.push(`    ${t.status.toUpperCase().padEnd(4)}  ${t.text}`);
  const failedRuns = summaries.filter((s) => (s.verdict?.exitCode ?? 0) !== 0 && (s.verdict?.exitCode ?? 0) !== ExitCode.thresholdFailed).length;
  const why = exitCode === 0 ? 'PASS' : failedRuns > 0 ? `FAIL: ${failedRuns} run(s) failed beyond their thresholds (see each run's report)` : exitCode === ExitCode.interrupted ? 'INTERRUPTED' : 'FAIL: a threshold failed on the median';
  lines.push(`  verdict     ${why} (exit ${exitCode})`);
  return lines.join('\n');
}

/** Largest --tls-ca file read: a CA bundle is a few hundred KiB at most. */
const TLS_CA_MAX_BYTES = 4 * 1024 * 1024;

/**
 * The PEM text of `--tls-ca FILE`, checked before anything is created: the target must be TLS and
 * the file a readable PEM certificate; each problem is one line, exit 2.
 */
export function readTlsCa(file: string, redis: string | undefined): string {
  checkTlsCaTarget(redis);
  let text: string;
  try {
    const bytes = readFileSync(file);
    if (bytes.length > TLS_CA_MAX_BYTES) throw new UsageError(`--tls-ca ${file}: expected a PEM certificate file, got ${bytes.length.toLocaleString('en-US')} bytes (more than 4 MiB)`);
    text = bytes.toString('utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new UsageError(`--tls-ca ${file}: cannot read it (${why})`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new UsageError(`--tls-ca ${file}: expected a PEM certificate (-----BEGIN CERTIFICATE-----), found none`);
  }
  return text;
}

