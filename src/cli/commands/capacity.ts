/**
 * `sellout capacity <scenario> [options]`: the highest rate one server (or shard) holds under an
 * SLO, where the time goes, what the journal costs and how many shards a peak needs. Prints a line
 * per step as it runs, then the answer; writes capacity.json, capacity.md and capacity.html.
 * Exit 0 when the search finished, 4 when --target-rate is not reachable, 2 usage, 3 target, 130
 * interrupted (the steps that ran are written).
 */
import { relative } from 'node:path';
import { runCapacity } from '../../capacity/capacity.js';
import { renderCapacityHtml } from '../../capacity/html.js';
import { formatCapacityAnswer, formatCapacityStep, renderCapacityJson, renderCapacityMarkdown } from '../../capacity/render.js';
import { sloThresholds } from '../../capacity/slo.js';
import { parseDurationMs } from '../../duration.js';
import { TargetError, UsageError } from '../../errors.js';
import { chooseRedis } from '../../redis/url.js';
import { parseThresholds } from '../../thresholds/parse.js';
import { defaultReportDir, discardReportDir, prepareReportDir, writeReport } from '../output.js';
import { loadScenarioFromArgs } from '../scenario-args.js';
import { readTlsCa } from './run.js';

export interface CapacityCommandOptions {
  slo: string[];
  targetRate?: string;
  orders?: string;
  step?: string;
  budget?: string;
  headroom?: string;
  redis?: string;
  tlsCa?: string;
  script?: string;
  set: string[];
  out?: string;
  quiet?: boolean;
}

export interface CapacityIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Aborted on Ctrl-C: the step running stops, the search ends, what ran is written (exit 130). */
  signal?: AbortSignal;
  env?: Readonly<Record<string, string | undefined>>;
}

/** Shortest step: an open loop needs a few hundred ms to settle and the series an interval or two. */
const MIN_STEP_MS = 1000;

export async function capacityCommand(file: string, options: CapacityCommandOptions, io: CapacityIO): Promise<number> {
  const scenario = loadScenarioFromArgs(file, options);
  const stepMs = durationOption('--step', options.step ?? '10s', MIN_STEP_MS);
  const budgetMs = durationOption('--budget', options.budget ?? '5m', stepMs);
  const headroom = numberOption('--headroom', options.headroom ?? '0.7', (v) => v > 0 && v <= 1, 'a share above 0 and at most 1, like 0.7');
  const targetRate = options.targetRate === undefined ? undefined : numberOption('--target-rate', options.targetRate, (v) => v > 0, 'a rate in deductions per second above 0');
  const orders = options.orders === undefined ? undefined : numberOption('--orders', options.orders, (v) => Number.isInteger(v) && v > 0, 'a whole number of journal entries above 0');
  // The SLO is checked as thresholds are, before anything starts.
  const { problems } = parseThresholds(sloThresholds(options.slo));
  if (problems.length > 0) {
    const p = problems[0]!;
    throw new UsageError(`--slo: expected ${p.expected}, got ${JSON.stringify(p.got)}`);
  }
  const redis = chooseRedis(options.redis, io.env ?? process.env);
  if (redis.redis === 'docker') throw new UsageError('--redis docker: capacity measures one server across every step; start it yourself and give its URL (--redis redis://host:port), or leave --redis out for a private redis-server');
  const tlsCa = options.tlsCa !== undefined ? readTlsCa(options.tlsCa, redis.redis) : undefined;
  const out = prepareReportDir(options.out ?? defaultReportDir(`${scenario.name}-capacity`));
  if (!options.quiet) io.stderr(`sellout capacity ${scenario.name}: ${formatSearch(stepMs, budgetMs)}\n`);
  let report: Awaited<ReturnType<typeof runCapacity>>;
  try {
    report = await runCapacity({
      scenario, redis: redis.redis, tlsCa, slos: options.slo, targetRate, orders, stepMs, budgetMs, headroom,
      ...(io.signal ? { signal: io.signal } : {}),
      onTarget: (t) => { if (!options.quiet) io.stderr(`  target      redis ${t.redisVersion} ${t.mode} (${t.kind}, ${t.url})\n`); },
      onStep: (s) => { if (!options.quiet) io.stdout(`${formatCapacityStep(s)}\n`); },
    });
  } catch (err) {
    discardReportDir(out);
    if (err instanceof TargetError && redis.origin !== undefined) throw new TargetError(`${err.message} (${redis.origin})`, err.hint);
    throw err;
  }
  writeReport(out.dir, [
    { name: 'capacity.json', content: renderCapacityJson(report) },
    { name: 'capacity.md', content: renderCapacityMarkdown(report) },
    { name: 'capacity.html', content: renderCapacityHtml(report) },
  ], { runId: `capacity-${report.steps[0]?.runId ?? 'none'}` });
  const shown = relative(process.cwd(), out.dir) || '.';
  io.stdout(`${formatCapacityAnswer(report, shown.startsWith('..') ? out.dir : shown)}\n`);
  return report.exitCode;
}

function formatSearch(stepMs: number, budgetMs: number): string {
  return `constant-rate steps of ${stepMs / 1000} s (confirmation ${(stepMs * 2) / 1000} s), budget ${budgetMs / 1000} s; one line per step`;
}

function durationOption(flag: string, text: string, minMs: number): number {
  const ms = parseDurationMs(text);
  if (ms === undefined) throw new UsageError(`${flag}: expected a duration like 10s or 2m, got ${JSON.stringify(text)}`);
  if (ms < minMs) throw new UsageError(`${flag}: expected at least ${minMs / 1000} s${flag === '--budget' ? ' (one step)' : ''}, got ${JSON.stringify(text)}`);
  return ms;
}

function numberOption(flag: string, text: string, ok: (v: number) => boolean, expected: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || !ok(v)) throw new UsageError(`${flag}: expected ${expected}, got ${JSON.stringify(text)}`);
  return v;
}
