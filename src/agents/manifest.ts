/**
 * The run manifest: what `prepare` decided, stored in Redis for the agents and `collect` on other
 * machines, which may have neither the scenario file nor the script: the scenario as run (YAML),
 * the script's text, the number of agents, and the server's marks at seeding time.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { TargetError, UsageError } from '../errors.js';
import { connectAdmin, type ServerMarks, type Target } from '../redis/index.js';
import { endpointUrl } from '../redis/url.js';
import { parseScenario, type Scenario } from '../scenario/load.js';
import { AgentKeys } from './keys.js';

export const MANIFEST_VERSION = 1;
/** At most this many agents (a segment number fits the records' lanes, a Kubernetes Job's completions). */
export const MAX_AGENTS = 1000;

const manifestSchema = z.object({
  version: z.literal(MANIFEST_VERSION),
  runId: z.string(),
  agents: z.number().int().min(1).max(MAX_AGENTS),
  preparedAt: z.string(),
  sellout: z.string(),
  scenario: z.object({ file: z.string(), asRun: z.string(), scriptPath: z.string(), scriptSource: z.string() }),
  marks: z.record(z.string(), z.object({ runId: z.string().optional(), flushes: z.number() }).nullable()).optional(),
});
export type Manifest = z.infer<typeof manifestSchema>;

export function manifestOf(scenario: Scenario, runId: string, agents: number, marks: ServerMarks, sellout: string): Manifest {
  return {
    version: MANIFEST_VERSION,
    runId,
    agents,
    preparedAt: new Date().toISOString(),
    sellout,
    scenario: { file: scenario.file, asRun: scenario.asRun, scriptPath: scenario.scriptPath, scriptSource: scenario.scriptSource },
    marks: Object.fromEntries([...marks.nodes].map(([node, m]) => [node, m === undefined ? null : { ...(m.runId !== undefined ? { runId: m.runId } : {}), flushes: m.flushes }])),
  };
}

export function marksOf(manifest: Manifest): ServerMarks | undefined {
  if (manifest.marks === undefined) return undefined;
  return { nodes: new Map(Object.entries(manifest.marks).map(([node, m]) => [node, m === null ? undefined : { runId: m.runId, flushes: m.flushes }])) };
}

/** The scenario as prepared: parsed again from its YAML, with the manifest's script (not read from disk). */
export function scenarioOf(manifest: Manifest): Scenario {
  return parseScenario(manifest.scenario.asRun, manifest.scenario.file, { preparedScript: { path: manifest.scenario.scriptPath, source: manifest.scenario.scriptSource } });
}

/**
 * A connection to the node holding the run's agent keys: the target's own on a standalone server,
 * in a cluster the primary owning their slot.
 */
export async function agentAdmin(target: Target, keys: AgentKeys): Promise<{ admin: Redis; close: () => void }> {
  const { topology } = target;
  if (!topology.cluster) return { admin: target.admin, close: () => {} };
  const owner = topology.shards[topology.slotOwner[keys.slot]!];
  if (owner === undefined) throw new TargetError(`no primary of the cluster at ${target.info.url} serves slot ${keys.slot} (the run's agent keys): is the cluster whole?`);
  const admin = await connectAdmin(owner.endpoint);
  return { admin, close: () => admin.disconnect() };
}

/** Stores the manifest; refuses a run ID already prepared on this server (never overwrite). */
export async function storeManifest(admin: Redis, keys: AgentKeys, manifest: Manifest): Promise<void> {
  const set = await admin.set(keys.manifest, JSON.stringify(manifest), 'NX');
  if (set !== 'OK') throw new UsageError(`--run-id ${keys.runId}: a run with this ID is already prepared on this server (its keys are sellout:${keys.runId}:*): choose another ID, or collect that run first`);
}

/** The manifest of a run, or a target error (exit 3) naming the run when there is none. */
export async function readManifest(admin: Redis, keys: AgentKeys, target: Target): Promise<Manifest> {
  const text = await admin.get(keys.manifest);
  if (text === null) {
    throw new TargetError(
      `run ${keys.runId}: nothing on ${target.info.url ?? endpointUrl(target.endpoint)} (no manifest at ${keys.manifest}): it was collected already and its keys removed, or it was never prepared there`,
      'prepare it with `sellout prepare <scenario> --redis URL --run-id ID`, or check --redis and --run-id',
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const manifest = manifestSchema.safeParse(parsed);
  if (!manifest.success) {
    throw new TargetError(`run ${keys.runId}: the manifest at ${keys.manifest} is not one this sellout can read (written by another version, or not by sellout)`);
  }
  return manifest.data;
}
