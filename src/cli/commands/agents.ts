/**
 * The distributed run's three commands (docs/distributed.md): `prepare` (seed, manifest, print the
 * run ID), `agent` (one segment of the load, its bundle stored in Redis) and `collect` (merge,
 * verify once, report, exit like `run`). Each needs a Redis every machine can reach: a URL, from
 * --redis or the environment, never the embedded server.
 */
import { hostname } from 'node:os';
import { ExitCode, TargetError, UsageError } from '../../errors.js';
import { parseDurationMs } from '../../duration.js';
import { runAgent, parseSegment } from '../../agents/agent.js';
import { collectRun, preparedRun } from '../../agents/collect.js';
import { prepareRun } from '../../agents/prepare.js';
import { MAX_AGENTS } from '../../agents/manifest.js';
import { chooseRedis, redactUrl } from '../../redis/url.js';
import { loadScenarioFromArgs } from '../scenario-args.js';
import { defaultReportDir, prepareReportDir } from '../output.js';
import { readTlsCa, runOnce, type CommandIO } from './run.js';

interface TargetArgs {
  redis?: string;
  tlsCa?: string;
}

/** A URL every agent can reach (the flag or SELLOUT_REDIS_URL / REDIS_URL), the password from the environment if need be. */
function sharedRedis(command: string, options: TargetArgs, env: Readonly<Record<string, string | undefined>>): { redis: string; origin: string | undefined; tlsCa: string | undefined } {
  const choice = chooseRedis(options.redis, env);
  if (choice.redis === undefined || choice.redis === 'docker' || choice.redis === 'cluster') {
    throw new UsageError(`${command}: --redis: expected a redis:// or rediss:// URL every agent can reach (or SELLOUT_REDIS_URL), got ${choice.redis ?? 'nothing'}`);
  }
  const tlsCa = options.tlsCa !== undefined ? readTlsCa(options.tlsCa, choice.redis) : undefined;
  return { redis: choice.redis, origin: choice.origin, tlsCa };
}

function waitOption(flag: string, text: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined || ms <= 0) throw new UsageError(`${flag}: expected a duration like 30s or 10m, got ${JSON.stringify(text)}`);
  return ms;
}

export interface PrepareArgs extends TargetArgs {
  agents?: string;
  runId?: string;
  script?: string;
  set: string[];
}

/** Prints the run ID alone on stdout (for `RUN_ID=$(sellout prepare …)`); what it did on stderr. */
export async function prepareCommand(file: string, options: PrepareArgs, io: Pick<CommandIO, 'stdout' | 'stderr' | 'env'>): Promise<number> {
  const scenario = loadScenarioFromArgs(file, options);
  const agents = options.agents === undefined ? 1 : Number(options.agents);
  if (options.agents !== undefined && (!/^\d+$/.test(options.agents.trim()) || agents < 1 || agents > MAX_AGENTS)) {
    throw new UsageError(`--agents: expected a number of agents from 1 to ${MAX_AGENTS}, got ${JSON.stringify(options.agents)}`);
  }
  const { redis, tlsCa } = sharedRedis('prepare', options, io.env ?? process.env);
  const prepared = await prepareRun(scenario, file, { redis, tlsCa, agents, runId: options.runId });
  io.stderr(
    `sellout prepare: run ${prepared.runId} of ${scenario.name} on ${prepared.target.url}: ${scenario.skus.count.toLocaleString('en-US')} SKU(s) seeded, script loaded, manifest stored for ${agents} agent(s); ` +
      `next: sellout agent --run-id ${prepared.runId} --segment I/${agents} (I = 0..${agents - 1}), then sellout collect --run-id ${prepared.runId}\n`,
  );
  io.stdout(`${prepared.runId}\n`);
  return ExitCode.ok;
}

export interface AgentArgs extends TargetArgs {
  runId?: string;
  segment?: string;
  host?: string;
  wait?: string;
  quiet?: boolean;
}

export async function agentCommand(options: AgentArgs, io: Pick<CommandIO, 'stdout' | 'stderr' | 'env' | 'signal'>): Promise<number> {
  const env = io.env ?? process.env;
  if (options.runId === undefined) throw new UsageError('agent: --run-id: expected the run ID `sellout prepare` printed, got nothing');
  const fromJob = env['JOB_COMPLETION_INDEX'];
  if (options.segment === undefined && (fromJob ?? '') === '') {
    throw new UsageError('agent: --segment: expected I/N (like 0/3), or JOB_COMPLETION_INDEX set (a Kubernetes Indexed Job), got neither');
  }
  const segment = options.segment !== undefined ? parseSegment(options.segment, '--segment') : parseSegment(fromJob!, 'JOB_COMPLETION_INDEX');
  const waitMs = waitOption('--wait', options.wait ?? '10m');
  const { redis, tlsCa } = sharedRedis('agent', options, env);
  const say = (line: string) => { if (!options.quiet) io.stderr(`sellout agent: ${line}\n`); };
  const done = await runAgent({ redis, tlsCa, runId: options.runId, segment, host: options.host ?? hostname(), waitMs, signal: io.signal, say });
  say(
    `segment ${done.segment}/${done.agents} sent ${done.requests.toLocaleString('en-US')} request(s)${done.interrupted ? ' (interrupted)' : ''}; ` +
      `clock ${done.clock.wallOffsetUs >= 0 ? '+' : ''}${done.clock.wallOffsetUs.toLocaleString('en-US')} us from Redis TIME (+/- ${done.clock.uncertaintyUs} us); ` +
      `bundle of ${(done.bundleBytes / 1024 / 1024).toFixed(2)} MiB stored for collect`,
  );
  io.stdout(`${done.segment}/${done.agents} stored ${done.requests}\n`);
  return done.interrupted ? ExitCode.interrupted : ExitCode.ok;
}

export interface CollectArgs extends TargetArgs {
  runId?: string;
  out?: string;
  wait?: string;
  keep?: boolean;
  quiet?: boolean;
  thresholds?: boolean;
}

export async function collectCommand(options: CollectArgs, io: CommandIO): Promise<number> {
  const env = io.env ?? process.env;
  if (options.runId === undefined) throw new UsageError('collect: --run-id: expected the run ID `sellout prepare` printed, got nothing');
  const runId = options.runId;
  const waitMs = waitOption('--wait', options.wait ?? '10m');
  const { redis, origin, tlsCa } = sharedRedis('collect', options, env);
  // The scenario's name for the default report directory; a run that is gone is said before anything is created.
  const prepared = await preparedRun(redis, tlsCa, runId).catch((err: unknown) => {
    if (err instanceof TargetError && origin !== undefined) throw new TargetError(`${err.message} (${origin})`, err.hint);
    throw err;
  });
  const { scenario } = prepared;
  const out = prepareReportDir(options.out ?? defaultReportDir(scenario.name));
  if (!options.quiet) io.stderr(`sellout collect: run ${runId} of ${scenario.name} on ${redactUrl(redis)}: waiting for its agents' results (at most ${options.wait ?? '10m'})\n`);
  const one = await runOnce(scenario, out, {
    redis: { redis, origin },
    tlsCa,
    options: { ...options, ...(options.quiet ? { quiet: true } : {}) },
    io,
    collecting: true,
    runner: (o) => collectRun({ ...o, redis, runId, waitMs, prepared, ...(options.quiet ? {} : { onWaiting: (line: string) => io.stderr(`sellout collect: ${line}\n`) }) }),
  });
  io.stdout(`${one.text}\n`);
  return one.exitCode;
}
