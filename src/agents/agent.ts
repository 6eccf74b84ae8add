/**
 * `sellout agent`: one load agent of a distributed run. Reads the manifest, joins the start
 * barrier, runs its plan segment with its own workers from the one t0 every agent takes from Redis
 * TIME, and stores its result bundle. While it runs it keeps a heartbeat key alive, so `collect`
 * tells an agent that died from one that is slow.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { RunKeys } from '../keys.js';
import { ExitCode, SelloutError, TargetError, UsageError } from '../errors.js';
import { driveLoad } from '../load/coordinator.js';
import type { ThreadClock } from '../load/clock.js';
import { initHistograms } from '../metrics/histogram.js';
import { openTarget } from '../redis/index.js';
import { scriptSha } from '../redis/script.js';
import { readServerStats, type ServerStats } from '../redis/server-stats.js';
import { ShardAdmins } from '../redis/shards.js';
import { formatMs } from '../scenario/faults.js';
import { encodeBundle } from './bundle.js';
import { measureOffset, redisNowUs, type ClockOffset } from './clock.js';
import { AgentKeys } from './keys.js';
import { agentAdmin, readManifest, scenarioOf } from './manifest.js';
import { bundleHeaderOf } from './merge.js';
import { openSaleEndpoint, type SaleEndpoint } from '../http-mode.js';

/** t0 is this far after the moment the last agent joined: every agent sees it (polling) and measures its clock before it. */
export const START_MARGIN_US = 500_000;
const BARRIER_POLL_MS = 50;
/** The heartbeat key lives this long unless refreshed (every HEARTBEAT_EVERY_MS). */
export const HEARTBEAT_TTL_MS = 5000;
const HEARTBEAT_EVERY_MS = 1000;
/** A Redis string holds 512 MB; bundles go in chunks well under it. */
export const BUNDLE_CHUNK_BYTES = 32 * 1024 * 1024;

export interface AgentOptions {
  readonly redis: string;
  readonly tlsCa?: string | undefined;
  readonly runId: string;
  /** I/N as given (`--segment`), or undefined: I from JOB_COMPLETION_INDEX, N from the manifest. */
  readonly segment?: { readonly index: number; readonly count: number | undefined } | undefined;
  readonly host: string;
  /** How long to wait at the start barrier for the other agents. */
  readonly waitMs: number;
  readonly signal?: AbortSignal;
  readonly say?: (line: string) => void;
}

export interface AgentDone {
  readonly segment: number;
  readonly agents: number;
  readonly requests: number;
  readonly bundleBytes: number;
  readonly interrupted: boolean;
  readonly clock: ClockOffset;
}

export async function runAgent(options: AgentOptions): Promise<AgentDone> {
  await initHistograms();
  const say = options.say ?? (() => {});
  const target = await openTarget({ redis: options.redis, tlsCa: options.tlsCa });
  const agentKeys = new AgentKeys(options.runId);
  const home = await agentAdmin(target, agentKeys).catch(async (err: unknown) => { await target.close(); throw err; });
  let heartbeat: NodeJS.Timeout | undefined;
  let shards: ShardAdmins | undefined;
  let sale: SaleEndpoint | undefined;
  let index = -1;
  try {
    const manifest = await readManifest(home.admin, agentKeys, target);
    const count = manifest.agents;
    index = options.segment?.index ?? -1;
    if (options.segment?.count !== undefined && options.segment.count !== count) {
      throw new UsageError(`--segment ${index}/${options.segment.count}: run ${options.runId} was prepared for ${count} agent(s), not ${options.segment.count}`);
    }
    if (!Number.isInteger(index) || index < 0 || index >= count) throw new UsageError(`--segment: expected a segment from 0 to ${count - 1} of run ${options.runId}'s ${count}, got ${index}`);
    const scenario = scenarioOf(manifest);
    const keys = new RunKeys(scenario.keys, options.runId);
    await join(home.admin, agentKeys, index, count, options.host);
    const beat = () => { home.admin.set(agentKeys.heartbeat(index), options.host, 'PX', HEARTBEAT_TTL_MS).catch(() => {}); };
    beat();
    heartbeat = setInterval(beat, HEARTBEAT_EVERY_MS);
    say(`agent ${index}/${count} of run ${options.runId} (${scenario.name}) on ${options.host}: waiting for ${count === 1 ? 'the start' : `all ${count} agents`}`);
    shards = await ShardAdmins.open(target, keys, scenario.skus.count);
    const admins = shards.admins;
    // HTTP mode: the team's service, or a reference service of this agent's own (as run starts one).
    sale = await openSaleEndpoint(scenario, target, keys);
    const http = sale?.target;
    let statsBefore: (ServerStats | undefined)[] | undefined;
    let clock: ClockOffset | undefined;
    const load = await driveLoad({
      scenario,
      topology: target.topology,
      keys,
      runId: options.runId,
      scriptSha: scriptSha(scenario.scriptSource),
      segment: { index, count },
      ...(http !== undefined ? { http } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      // Segment 0 reads the server's counters for the per-shard figures (one reading is enough).
      ...(index === 0 ? { beforeStart: async () => { statsBefore = await Promise.all(admins.map(readServerStats)); } } : {}),
      startAt: async (threadClock) => {
        const start = await barrier(home.admin, agentKeys, index, count, threadClock, options);
        clock = start.clock;
        return start.t0;
      },
    });
    const header = {
      ...bundleHeaderOf(load),
      segment: index,
      agents: count,
      host: options.host,
      clockOffsetUs: clock!.wallOffsetUs,
      clockUncertaintyUs: clock!.uncertaintyUs,
      ...(statsBefore !== undefined ? { statsBefore } : {}),
    };
    await sale?.close();
    for (const h of load.histograms) h.destroy();
    for (const h of load.histogramsRaw ?? []) h.destroy();
    const bytes = encodeBundle({ header, records: load.records });
    await storeBundle(home.admin, agentKeys, index, bytes);
    return { segment: index, agents: count, requests: load.records.count, bundleBytes: bytes.length, interrupted: load.interrupted, clock: clock! };
  } finally {
    clearInterval(heartbeat);
    await sale?.close().catch(() => {});
    if (index >= 0) await home.admin.unlink(agentKeys.heartbeat(index)).catch(() => {});
    shards?.close();
    home.close();
    await target.close();
  }
}

/**
 * Joins the barrier as segment `index`. A segment already there is refused once the run has
 * started (a restarted agent must not send its slice twice); before the start, the one there is
 * taken to be an earlier attempt of this agent that died (a Kubernetes Job retries a failed pod).
 */
async function join(admin: Redis, keys: AgentKeys, index: number, count: number, host: string): Promise<void> {
  if ((await admin.hsetnx(keys.present, String(index), host)) === 1) return;
  if ((await admin.exists(keys.t0)) === 1 || (await admin.sismember(keys.stored, String(index))) === 1) {
    throw new UsageError(`--segment ${index}/${count}: segment ${index} of run ${keys.runId} has already started (another agent runs it, or this one was restarted after the start): a segment runs once`);
  }
  await admin.hset(keys.present, String(index), host);
}

/**
 * Waits for every segment, then takes the one start: the first agent to see them all proposes
 * Redis TIME + START_MARGIN_US (SET NX), and every agent reads what won, then measures its own
 * clock against Redis's to turn it into its own t0.
 */
async function barrier(admin: Redis, keys: AgentKeys, index: number, count: number, clock: ThreadClock, options: AgentOptions): Promise<{ t0: number; clock: ClockOffset }> {
  const deadline = Date.now() + options.waitMs;
  for (;;) {
    if (options.signal?.aborted) throw new SelloutError(`agent ${index}/${count}: interrupted at the start barrier, before sending anything (collect will count this segment as lost)`, ExitCode.interrupted);
    const present = await admin.hkeys(keys.present);
    if (present.length >= count) break;
    if (Date.now() > deadline) {
      const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !present.includes(String(i)));
      throw new TargetError(
        `agent ${index}/${count}: only ${present.length} of ${count} agents of run ${keys.runId} joined within ${formatMs(options.waitMs)} (missing segment(s) ${missing.join(', ')}): nothing was sent`,
        'start every agent (sellout agent --segment I/N for each I), or raise --wait',
      );
    }
    await sleep(BARRIER_POLL_MS);
  }
  await admin.set(keys.t0, String((await redisNowUs(admin)) + START_MARGIN_US), 'NX');
  const t0Redis = Number(await admin.get(keys.t0));
  const offset = await measureOffset(admin, clock);
  const t0 = (t0Redis + offset.offsetUs) / 1000;
  const late = clock.nowMs() - t0;
  if (late > 0) options.say?.(`agent ${index}/${count}: reached the start ${late.toFixed(1)} ms late: its first sends go out late, timed from the common t0`);
  return { t0, clock: offset };
}

/** The bundle in chunks, then its segment marked stored (collect reads only bundles marked whole). */
async function storeBundle(admin: Redis, keys: AgentKeys, index: number, bytes: Buffer): Promise<void> {
  const chunks = Math.max(1, Math.ceil(bytes.length / BUNDLE_CHUNK_BYTES));
  for (let c = 0; c < chunks; c++) await admin.set(keys.bundle(index, c), bytes.subarray(c * BUNDLE_CHUNK_BYTES, (c + 1) * BUNDLE_CHUNK_BYTES));
  await admin.sadd(keys.stored, String(index));
}

/** Segment I of N as `--segment` writes it (`2/3`), or I alone (N from the manifest), as JOB_COMPLETION_INDEX gives it. */
export function parseSegment(text: string, source: string): { index: number; count: number | undefined } {
  const m = /^(\d{1,4})(?:\/(\d{1,4}))?$/.exec(text.trim());
  if (m === null) throw new UsageError(`${source}: expected a segment like 0/3 (I/N, I from 0 to N-1), got ${JSON.stringify(text)}`);
  const index = Number(m[1]);
  const count = m[2] === undefined ? undefined : Number(m[2]);
  if (count !== undefined && (count < 1 || index >= count)) throw new UsageError(`${source}: expected I/N with I from 0 to N-1, got ${JSON.stringify(text)}`);
  return { index, count };
}
