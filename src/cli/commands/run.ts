/**
 * `sellout run <scenario>`: load, run, evaluate the thresholds, write the report directory, print
 * the summary, pick the exit code (from the one verdict every report shows).
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { formatSummary } from '../../report/console.js';
import { renderOutputs } from '../../report/registry.js';
import { formatThresholds, formatVerdictLine } from '../../report/thresholds-console.js';
import { runScenario } from '../../run.js';
import { loadScenarioFromArgs } from '../scenario-args.js';
import { environment } from '../environment.js';
import { RunKeys } from '../../keys.js';
import { ExitCode, TargetError, UsageError } from '../../errors.js';
import { checkTlsCaTarget, chooseRedis } from '../../redis/url.js';
import { defaultReportDir, discardReportDir, prepareReportDir, writeReport } from '../output.js';
import { progressLine } from '../progress.js';

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
}

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
  // Checked before the load: a finished run must not be lost to an unusable --out.
  const out = prepareReportDir(options.out ?? defaultReportDir(scenario.name));
  const dir = out.dir;
  const progress = io.stderrIsTTY && !options.quiet ? progressLine(io.stderr, io.stderrColumns) : undefined;
  let run: Awaited<ReturnType<typeof runScenario>>;
  try {
    run = await runScenario(scenario, {
      redis: redis.redis,
      ...(tlsCa !== undefined ? { tlsCa } : {}),
      keep: options.keep ?? false,
      signal: io.signal,
      ...(io.hardSignal ? { hardSignal: io.hardSignal } : {}),
      onStage: (stage, detail, target) => {
        if (stage === 'seed' && detail !== undefined) io.onRunId?.(detail, new RunKeys(scenario.keys, detail).pattern);
        if (stage === 'verify') progress?.done();
        if (!options.quiet && stage === 'seed') io.stderr(`sellout: run ${detail} on ${scenario.name}: seeding ${scenario.skus.count} SKU(s) on ${target?.url ?? 'Redis'} (${target?.kind ?? ''})\n`);
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
  io.stdout(`${text.filter(Boolean).join('\n')}\n`);
  if (writeError !== undefined) {
    io.stderr(`sellout: could not write the report to ${dir} (${writeError}); the summary above is all that is left of this run\n`);
    return exitCode === ExitCode.ok ? ExitCode.usage : exitCode;
  }
  return exitCode;
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

