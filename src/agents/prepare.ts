/**
 * `sellout prepare`: everything a distributed run does once before its agents start. Validates
 * what one process would (the cluster section, the key naming's preflight), stores the manifest
 * (first, with SET NX: two prepares of one run ID cannot both seed), seeds the stock and loads the
 * script. Nothing of the run is left when it fails half-way.
 */
import { newRunId, RunKeys } from '../keys.js';
import { ScenarioError, UsageError } from '../errors.js';
import { openTarget, serverMarks, type Target } from '../redis/index.js';
import { loadScript } from '../redis/script.js';
import { removeRunKeys, seedStock } from '../redis/seed.js';
import { ShardAdmins } from '../redis/shards.js';
import type { Scenario } from '../scenario/load.js';
import type { TargetInfo } from '../summary/summary.js';
import { SELLOUT_VERSION } from '../version.js';
import { checkClusterSection, preflight } from '../run.js';
import { AgentKeys, RUN_ID_PATTERN } from './keys.js';
import { agentAdmin, manifestOf, MAX_AGENTS, storeManifest } from './manifest.js';

export interface PrepareOptions {
  /** A `redis://` or `rediss://` URL every agent can reach. */
  readonly redis: string;
  readonly tlsCa?: string | undefined;
  readonly agents: number;
  readonly runId?: string | undefined;
}

export interface Prepared {
  readonly runId: string;
  readonly agents: number;
  readonly target: TargetInfo;
}

/** What a distributed run cannot do (yet), one line each, before anything is written. */
export function distributedProblems(scenario: Scenario, agents: number, shown: string): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(agents) || agents < 1 || agents > MAX_AGENTS) problems.push(`--agents: expected a whole number of agents from 1 to ${MAX_AGENTS}, got ${agents}`);
  if (scenario.faults.length > 0) problems.push(`${shown}: faults: expected none with agents (a fault acts on the server from the one process that owns the load), got ${scenario.faults.length}`);
  if (scenario.duplicates.pattern === 'cross-agent' && agents < 2) problems.push(`${shown}: duplicates.pattern: cross-agent needs at least 2 agents (--agents 2 or more), got ${agents}`);
  if ((scenario.replicas ?? 0) !== 0) problems.push(`${shown}: replicas: expected 0 with agents (replicas are for failover faults), got ${scenario.replicas}`);
  return problems;
}

export async function prepareRun(scenario: Scenario, shown: string, options: PrepareOptions): Promise<Prepared> {
  const problems = distributedProblems(scenario, options.agents, shown);
  if (problems.length > 0) throw new ScenarioError(problems);
  const runId = options.runId ?? newRunId();
  if (!RUN_ID_PATTERN.test(runId)) throw new UsageError(`--run-id: expected lowercase letters, digits and dashes (at most 63, like 20261127t210000-a1b2c3), got ${JSON.stringify(runId)}`);
  checkClusterSection(scenario, options.redis, undefined);
  const target: Target = await openTarget({ redis: options.redis, tlsCa: options.tlsCa, persistence: scenario.persistence });
  const keys = new RunKeys(scenario.keys, runId);
  const agentKeys = new AgentKeys(runId);
  let shards: ShardAdmins | undefined;
  let home: Awaited<ReturnType<typeof agentAdmin>> | undefined;
  let stored = false;
  let seeded = false;
  try {
    checkClusterSection(scenario, options.redis, target);
    if (target.topology.cluster && scenario.preflight) preflight(scenario, keys);
    shards = await ShardAdmins.open(target, keys, scenario.skus.count);
    home = await agentAdmin(target, agentKeys);
    await storeManifest(home.admin, agentKeys, manifestOf(scenario, runId, options.agents, await serverMarks(shards), SELLOUT_VERSION));
    stored = true;
    await seedStock(shards, scenario.skus.stock);
    seeded = true;
    await loadScript(shards.admins, scenario.scriptSource, scenario.scriptPath);
    return { runId, agents: options.agents, target: target.info };
  } catch (err) {
    // Half-prepared is not prepared: the manifest and whatever stock was written go.
    // (A seeding that failed removed what it wrote itself, and never touched a key it did not create.)
    if (stored) await home?.admin.unlink(agentKeys.manifest).catch(() => {});
    if (seeded && shards !== undefined) await removeRunKeys(shards).catch(() => {});
    throw err;
  } finally {
    home?.close();
    shards?.close();
    await target.close();
  }
}
