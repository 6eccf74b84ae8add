/**
 * `sellout collect`: waits for the agents' bundles, merges them exactly, and hands the merged load
 * to the run's own verification, thresholds and report (run.ts), so a distributed run has one
 * verdict as a single process has. An agent that never stores its bundle (its heartbeat gone, or
 * the wait over) is lost: its segment is named, its requests are not measured, its deductions in
 * the journal count as unknown outcomes, and the run is incomplete (exit 3).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { planFor } from '../load/plan.js';
import { skuShards } from '../redis/topology.js';
import { connectAdmin, openTarget, type Target } from '../redis/index.js';
import { runScenario, type DistributedLoad, type RunOptions, type RunOutput } from '../run.js';
import type { Scenario } from '../scenario/load.js';
import type { AgentSummary } from '../summary/summary.js';
import type { RunKeys } from '../keys.js';
import { formatMs } from '../scenario/faults.js';
import { httpTarget } from '../scenario/http.js';
import { decodeBundle, type AgentBundle } from './bundle.js';
import { AgentKeys } from './keys.js';
import { agentAdmin, marksOf, readManifest, scenarioOf, type Manifest } from './manifest.js';
import { mergeBundles } from './merge.js';

/** An agent whose heartbeat expired this long ago without a bundle is lost (it died). */
const LOST_GRACE_MS = 2000;
const POLL_MS = 200;
/** After an interrupt, how long collect still waits for the bundles the interrupted agents are storing. */
const INTERRUPTED_WAIT_MS = 15_000;

export interface CollectOptions extends Omit<RunOptions, 'distributed' | 'redis'> {
  readonly redis: string;
  readonly runId: string;
  readonly waitMs: number;
  /** Told what is still awaited, every few seconds. */
  readonly onWaiting?: (line: string) => void;
  /**
   * Aborted when no agent can store a bundle any more (run --agents: every agent process has
   * exited): what is stored then is all there will be, the missing agents are lost at once.
   */
  readonly agentsGone?: AbortSignal;
  /** The run's manifest and scenario, when the caller has read them already (collect's CLI does, for the report directory). */
  readonly prepared?: { readonly manifest: Manifest; readonly scenario: Scenario };
}

/** The manifest and scenario of a prepared run (a target error, exit 3, when the run is not there). */
export async function preparedRun(redis: string, tlsCa: string | undefined, runId: string): Promise<{ manifest: Manifest; scenario: Scenario }> {
  const target = await openTarget({ redis, tlsCa });
  try {
    const keys = new AgentKeys(runId);
    const home = await agentAdmin(target, keys);
    try {
      const manifest = await readManifest(home.admin, keys, target);
      return { manifest, scenario: scenarioOf(manifest) };
    } finally {
      home.close();
    }
  } finally {
    await target.close();
  }
}

export async function collectRun(options: CollectOptions): Promise<RunOutput & { scenario: Scenario }> {
  const { manifest, scenario } = options.prepared ?? (await preparedRun(options.redis, options.tlsCa, options.runId));
  const agentKeys = new AgentKeys(options.runId);
  const output = await runScenario(scenario, {
    ...options,
    distributed: {
      runId: options.runId,
      marksBefore: marksOf(manifest),
      collect: (ctx) => gather(ctx, manifest, scenario, agentKeys, options),
    },
  });
  if (!options.keep) await removeAgentKeys(options.redis, options.tlsCa, agentKeys, manifest.agents).catch(() => {});
  return { ...output, scenario };
}

async function gather(ctx: { target: Target; keys: RunKeys }, manifest: Manifest, scenario: Scenario, keys: AgentKeys, options: CollectOptions): Promise<DistributedLoad> {
  const count = manifest.agents;
  const home = await agentAdmin(ctx.target, keys);
  try {
    const { stored, lost, interrupted } = await waitForBundles(home.admin, keys, count, options);
    const plan = planFor(scenario);
    const bundles: AgentBundle[] = [];
    const sizes = new Map<number, number>();
    const unreadable = new Map<number, string>();
    for (const segment of stored) {
      try {
        const bytes = await readBundle(home.admin, keys, segment);
        sizes.set(segment, bytes.length);
        bundles.push(decodeBundle(bytes, plan));
      } catch (err) {
        unreadable.set(segment, (err as Error).message);
      }
    }
    const hosts = await home.admin.hgetall(keys.present);
    const lostSegments = new Set([...lost, ...unreadable.keys()]);
    const load = mergeBundles(bundles, scenario, skuShards(ctx.target.topology, ctx.keys, scenario.skus.count));
    const agents: AgentSummary[] = Array.from({ length: count }, (_, segment) => {
      const b = bundles.find((x) => x.header.segment === segment);
      return b === undefined
        ? { segment, host: hosts[String(segment)] ?? 'never joined', requests: 0, clockOffsetUs: 0, status: 'lost' as const }
        : { segment, host: b.header.host, requests: b.records.count, clockOffsetUs: b.header.clockOffsetUs, clockUncertaintyUs: b.header.clockUncertaintyUs, bundleBytes: sizes.get(segment) ?? 0, status: 'ok' as const };
    });
    // Records are concatenated in bundle order (mergeResults): each bundle's rows are its agent's.
    const rowAgent = new Uint16Array(load.records.count);
    let row = 0;
    for (const b of bundles) { rowAgent.fill(b.header.segment, row, row + b.records.count); row += b.records.count; }
    const uncertainties = bundles.map((b) => b.header.clockUncertaintyUs).sort((a, b) => b - a);
    const first = bundles.find((b) => b.header.statsBefore !== undefined)?.header.statsBefore ?? [];
    const cross = scenario.duplicates.pattern === 'cross-agent';
    const http = scenario.http;
    const result: DistributedLoad = {
      load: interrupted ? { ...load, interrupted: true } : load,
      // Read in the agent's process: its clock is not ours, and the figures need only the counters.
      statsBefore: first.map((s) => (s === undefined || s === null ? undefined : { ...s, atMs: 0 })),
      agents,
      rowAgent,
      // Two agents' times agree to within the sum of their uncertainties; the two largest bound every pair.
      clockSlackUs: bundles.length > 1 ? uncertainties[0]! + uncertainties[1]! : 0,
      // HTTP mode: the team's service, or the reference service each agent ran on its own machine.
      ...(http !== undefined ? { http: httpTarget(http, http.url ?? 'http://127.0.0.1/deduct (each agent ran its own reference service)', http.url === undefined) } : {}),
      ...(lostSegments.size > 0
        ? {
            incomplete: lostText([...lostSegments].sort((a, b) => a - b), count, unreadable, hosts),
            // Its own lane, and (cross-agent) the lane whose twins it sent.
            unmeasured: (index: number) => lostSegments.has(index % count) || (cross && lostSegments.has(((index % count) + 1) % count)),
          }
        : {}),
    };
    return result;
  } finally {
    home.close();
  }
}

function lostText(lost: readonly number[], count: number, unreadable: ReadonlyMap<number, string>, hosts: Record<string, string>): string {
  const each = lost.map((s) => {
    const host = hosts[String(s)];
    const why = unreadable.get(s) ?? (host === undefined ? 'it never joined the run' : 'it stored no result (it died or was killed)');
    return `segment ${s}/${count}${host !== undefined ? ` on ${host}` : ''}: ${why}`;
  });
  return `${lost.length} of ${count} agent(s) lost (${each.join('; ')}): their requests were not measured, and their deductions in the journal count as unknown outcomes`;
}

/**
 * Polls until every segment's bundle is stored, every missing agent is lost (its heartbeat gone
 * for LOST_GRACE_MS once the run started), or the wait is over.
 */
async function waitForBundles(admin: Redis, keys: AgentKeys, count: number, options: CollectOptions): Promise<{ stored: number[]; lost: number[]; interrupted: boolean }> {
  const started = Date.now();
  let deadline = started + options.waitMs;
  let interrupted = false;
  let told = started;
  const goneSince = new Map<number, number>();
  for (;;) {
    const stored = (await admin.smembers(keys.stored)).map(Number).filter((s) => s >= 0 && s < count).sort((a, b) => a - b);
    const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !stored.includes(i));
    if (missing.length === 0) return { stored, lost: [], interrupted };
    if (!interrupted && options.signal?.aborted) {
      interrupted = true;
      deadline = Math.min(deadline, Date.now() + INTERRUPTED_WAIT_MS);
    }
    const now = Date.now();
    const runStarted = (await admin.exists(keys.t0)) === 1;
    const dead: number[] = [];
    for (const segment of missing) {
      const alive = (await admin.exists(keys.heartbeat(segment))) === 1;
      if (alive || !runStarted) { goneSince.delete(segment); continue; }
      if (!goneSince.has(segment)) goneSince.set(segment, now);
      if (now - goneSince.get(segment)! >= LOST_GRACE_MS) dead.push(segment);
    }
    if (dead.length === missing.length || now >= deadline || options.hardSignal?.aborted) return { stored, lost: missing, interrupted };
    // Every agent has exited: one more look (a bundle stored just before its agent exited counts), then they are lost.
    if (options.agentsGone?.aborted) {
      const last = (await admin.smembers(keys.stored)).map(Number).filter((s) => s >= 0 && s < count).sort((a, b) => a - b);
      return { stored: last, lost: missing.filter((s) => !last.includes(s)), interrupted };
    }
    if (now - told >= 5000) {
      told = now;
      options.onWaiting?.(`waiting for ${missing.length} of ${count} agent(s) (segment${missing.length > 1 ? 's' : ''} ${missing.join(', ')}): ${formatMs(now - started)} of --wait ${formatMs(options.waitMs)}`);
    }
    await sleep(POLL_MS);
  }
}

async function readBundle(admin: Redis, keys: AgentKeys, segment: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let c = 0; ; c++) {
    const part = await admin.getBuffer(keys.bundle(segment, c));
    if (part === null) break;
    parts.push(part);
  }
  if (parts.length === 0) throw new Error('its bundle was marked stored but is not there');
  return Buffer.concat(parts);
}

/**
 * Every key of the run's agents: manifest, barrier, heartbeats, bundles, and the warm-up keys an
 * agent that was killed had no chance to remove (`sellout:<run>:agent<i>:warmup:*`, on any primary).
 */
async function removeAgentKeys(redis: string, tlsCa: string | undefined, keys: AgentKeys, count: number): Promise<void> {
  const target = await openTarget({ redis, tlsCa });
  try {
    for (const shard of target.topology.shards) {
      const admin = target.topology.cluster ? await connectAdmin(shard.endpoint) : target.admin;
      try {
        let cursor = '0';
        do {
          const [next, found] = await admin.scan(cursor, 'MATCH', `sellout:${keys.runId}:agent*:warmup:*`, 'COUNT', 1000);
          cursor = next;
          if (found.length > 0) await admin.unlink(...found);
        } while (cursor !== '0');
      } finally {
        if (admin !== target.admin) admin.disconnect();
      }
    }
    const home = await agentAdmin(target, keys);
    try {
      const names = [keys.manifest, keys.present, keys.t0, keys.stored];
      for (let s = 0; s < count; s++) {
        names.push(keys.heartbeat(s));
        for (let c = 0; (await home.admin.exists(keys.bundle(s, c))) === 1; c++) names.push(keys.bundle(s, c));
      }
      for (let i = 0; i < names.length; i += 500) await home.admin.unlink(...names.slice(i, i + 500));
    } finally {
      home.close();
    }
  } finally {
    await target.close();
  }
}
