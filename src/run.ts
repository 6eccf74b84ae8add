/**
 * One run, end to end, as values: open the target, seed namespaced stock, load the script, drive
 * the load, read Redis back, check the invariants, clean up. Prints nothing, writes no file and
 * never exits: the CLI does that with what this returns.
 *
 * Whatever the server does, the verdict names the right culprit: a server that refuses load
 * connections or deductions, loses them, deletes the run's keys or cannot be read back is a target
 * failure (exit 3), reported with what was measured; only what the script did is held against the
 * script.
 */
import { isAbsolute, relative } from 'node:path';
import { newRunId, RunKeys } from './keys.js';
import { driveLoad, LoadRefusedError, resolveWorkers, type LoadProgress, type LoadResult } from './load/coordinator.js';
import { encodeHistogram, initHistograms, newHistogram, percentiles } from './metrics/histogram.js';
import { seriesIntervalMs } from './load/resolution.js';
import { emptyCounts, OUTCOMES, type Outcome } from './outcomes.js';
import { latencyByOutcome, statusOf, SUMMARY_VERSION, type AgentSummary, type InvariantResult, type SummaryV1, type TargetInfo, type VerdictV1 } from './summary/summary.js';
import type { Scenario } from './scenario/load.js';
import { PROJECT_ROOT } from './scenario/load.js';
import { checkFaultsTarget } from './scenario/faults.js';
import { connectAdmin, marksChanged, openTarget, serverMarks, type ServerMarks, type Target } from './redis/index.js';
import { loadScript } from './redis/script.js';
import { removeRunKeys, seedStock, type Cleanup } from './redis/seed.js';
import { ShardAdmins } from './redis/shards.js';
import { readServerStats, type ServerStats } from './redis/server-stats.js';
import { shardFigures } from './metrics/shards.js';
import { crossSlotSku } from './redis/topology.js';
import { SELLOUT_VERSION } from './version.js';
import { ScenarioError, TargetError } from './errors.js';
import { verdictOf } from './summary/verdict.js';
import { evaluateThresholds } from './thresholds/evaluate.js';
import { parseThresholds, withDefaultThresholds } from './thresholds/parse.js';
import { notChecked } from './verify/invariants.js';
import type { CoverageV1 } from './summary/coverage.js';
import { judgeRun } from './verify/judge.js';
import type { DurabilityFigures } from './verify/durability.js';
import { faultEffects, type FaultEvent } from './metrics/faults.js';
import { crashesOf, FaultSession } from './faults/session.js';
import { standaloneTopology } from './redis/topology.js';
import type { Redis } from 'ioredis';
import { skuTableOf } from './verify/sku-table.js';
import { serverSummaryOf } from './metrics/bottleneck.js';
import { checkServiceReachable, httpSummary, openSaleEndpoint, type SaleEndpoint } from './http-mode.js';
import { missingKeys, takeSnapshot, type Snapshot } from './verify/snapshot.js';
import { listedSkus, skuRanksOf, skuTotalsOf, soldOutSeries, type SkuTable } from './summary/skus.js';
import { newRecords } from './metrics/records.js';
import { withUnmeasured } from './verify/unmeasured.js';
import { planFor } from './load/plan.js';
import type { IntervalHistogram } from './metrics/series.js';
import type { HttpTarget } from './scenario/http.js';

export interface RunOptions {
  /** `redis://…`, `docker`, `cluster` (an embedded cluster of the scenario's cluster.shards), or undefined for the embedded redis-server. */
  readonly redis?: string | undefined;
  /** PEM text of the CA that signed a `rediss://` server's certificate (the CLI's `--tls-ca FILE`). */
  readonly tlsCa?: string | undefined;
  /** Keep the run's keys in Redis afterwards (they are deleted by default). */
  readonly keep?: boolean;
  /** Aborting stops the load; what ran is still verified and reported as interrupted. */
  readonly signal?: AbortSignal;
  /**
   * Aborting (a second interrupt) also skips what is left of the verification: the keys are
   * still removed and what was measured is still returned, marked interrupted.
   */
  readonly hardSignal?: AbortSignal;
  /** Called at each stage, for progress output. */
  readonly onStage?: (stage: 'target' | 'seed' | 'load' | 'verify' | 'cleanup', detail?: string, target?: TargetInfo) => void;
  /** Called about once a second while the load runs (for a live progress line). */
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Evaluate the scenario's thresholds (default true; the CLI's --no-thresholds sets false). */
  readonly thresholds?: boolean;
  /**
   * A distributed run's collect (src/agents/): the stock was seeded by `prepare` and the load sent
   * by agents; this waits for their results instead of driving a load, and the rest (verification,
   * summary, cleanup) is the run's as always.
   */
  readonly distributed?: DistributedRun;
}

export interface DistributedRun {
  readonly runId: string;
  /** The server's marks when `prepare` seeded (a FLUSHALL or restart any time since is seen). */
  readonly marksBefore: ServerMarks | undefined;
  /** Waits for the agents' results and merges them. */
  readonly collect: (ctx: { readonly target: Target; readonly keys: RunKeys }) => Promise<DistributedLoad>;
}

export interface DistributedLoad {
  readonly load: LoadResult;
  /** Each primary's CPU and script calls before t0, when an agent read them. */
  readonly statsBefore: (ServerStats | undefined)[];
  readonly agents: AgentSummary[];
  /** Why part of the load was not measured (lost agents), if it was not. */
  readonly incomplete?: string;
  /** Request IDs the lost agents may have sent, unmeasured: their journal entries count as unknown outcomes (verify/unmeasured.ts). */
  readonly unmeasured?: (index: number) => boolean;
  /** Cross-agent times are ordered only when further apart than this (the agents' combined clock uncertainty), microseconds. */
  readonly clockSlackUs: number;
  /** The agent (segment) of each row of the load's records, in order. */
  readonly rowAgent: Uint16Array;
  /** HTTP mode: where the agents' load went (summary.json `http`). */
  readonly http?: HttpTarget;
}

export type { IntervalHistogram };
export type { LoadProgress } from './load/coordinator.js';

export interface RunOutput {
  /** The run's summary, its verdict always set (optional in SummaryV1 only for older files). */
  readonly summary: SummaryV1 & { verdict: VerdictV1 };
  /** The whole run's latency histogram per outcome that occurred, encoded, microseconds. */
  readonly histograms: Partial<Record<Outcome, string>>;
  /** Per-second histograms per outcome (latency from the intended send), in time order. */
  readonly intervals: IntervalHistogram[];
  /** Every SKU's figures (skus.csv; summary.json lists only the few most worth a look). */
  readonly skus: SkuTable;
}

export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<RunOutput> {
  // Faults the target cannot take (kill/pause/failover, replicas: 1 need the embedded server): before anything starts.
  const faultProblems = checkFaultsTarget(scenario, options.redis, displayPath(scenario.file));
  if (faultProblems.length > 0) throw new ScenarioError(faultProblems);
  // A twin from another agent needs agents: one process would quietly send it as a concurrent one.
  if (scenario.duplicates.pattern === 'cross-agent' && options.distributed === undefined) {
    throw new ScenarioError([`${displayPath(scenario.file)}: duplicates.pattern: cross-agent needs agents (run --agents 2 or more, or sellout prepare / agent / collect), got one process`]);
  }
  await initHistograms();
  const stage = options.onStage ?? (() => {});
  stage('target');
  // Known to be standalone without starting anything; a URL is asked once connected.
  if (options.redis === undefined || options.redis === 'docker') checkClusterSection(scenario, options.redis, undefined);
  const target = await openTarget({ redis: options.redis, tlsCa: options.tlsCa, shards: scenario.cluster?.shards, persistence: scenario.persistence, replicas: scenario.replicas });
  const distributed = options.distributed;
  const runId = distributed?.runId ?? newRunId();
  const keys = new RunKeys(scenario.keys, runId);
  let shards: ShardAdmins | undefined;
  /** Admin connections opened after faults (the target closes only its own). */
  const extraAdmins: Redis[] = [];
  let seeded = false;
  let cleanup: Cleanup | undefined;
  /** HTTP mode: the sale service the load goes to (sellout's reference one is stopped after the load). */
  let sale: SaleEndpoint | undefined;
  let built: Omit<SummaryV1, 'run' | 'status'> & { startedAt: Date; interrupted: boolean; histograms: Partial<Record<Outcome, string>>; intervals: IntervalHistogram[]; skuTable: SkuTable; keysInRedis: number };
  try {
    checkClusterSection(scenario, options.redis, target);
    // Before anything is written: a naming the cluster cannot run.
    if (target.topology.cluster && scenario.preflight) preflight(scenario, keys);
    // HTTP mode with the team's own service: reachable, before anything is written.
    if (scenario.http?.url !== undefined) await checkServiceReachable(scenario.http.url);
    shards = await ShardAdmins.open(target, keys, scenario.skus.count);
    stage('seed', runId, target.info);
    // A distributed run's stock was seeded by prepare (its keys are this run's to remove all the same).
    if (distributed === undefined) await seedStock(shards, scenario.skus.stock);
    seeded = true;
    const script = await loadScript(shards.admins, scenario.scriptSource, scenario.scriptPath);
    const marksBefore = distributed !== undefined ? distributed.marksBefore : await serverMarks(shards);
    sale = distributed !== undefined ? undefined : await openSaleEndpoint(scenario, target, keys);

    stage('load');
    /** Why the target, not the script, failed this run (in the order it happened). */
    const targetProblems: string[] = [];
    let load: LoadResult;
    const loadStarted = new Date();
    // Each primary's CPU and script calls around the load (the per-shard figures), read once the
    // workers are warmed up so their warm-up does not count.
    const shardAdmins = shards.admins;
    let statsBefore: (ServerStats | undefined)[] = [];
    const home = shards;
    const faults = FaultSession.create(scenario.faults, target, () => home.admins[0]!, runId);
    let faultEvents: FaultEvent[] = [];
    let collected: DistributedLoad | undefined;
    try {
      if (distributed !== undefined) {
        collected = await distributed.collect({ target, keys });
        statsBefore = collected.statsBefore;
        load = collected.load;
      } else load = await driveLoad({
        scenario,
        topology: target.topology,
        keys,
        runId,
        scriptSha: script.sha,
        beforeStart: async () => { statsBefore = await Promise.all(shardAdmins.map(readServerStats)); },
        ...faults?.loadOptions(scenario.timeoutMs),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(sale !== undefined ? { http: sale.target } : {}),
      });
    } catch (err) {
      if (!(err instanceof LoadRefusedError)) throw err;
      // The server refused load connections (maxclients, auth): nothing was sent. The run is still
      // reported (and its keys removed), as a target failure.
      targetProblems.push(err.message);
      load = emptyLoad(loadStarted, resolveWorkers(scenario), seriesIntervalMs(scenario));
    } finally {
      // The reference service answers what it has in flight, then stops: the load is over.
      await sale?.close().catch(() => {});
      // Faults not started are not run; one in progress is ended (a paused server resumed, a killed one restarted as asked).
      if (faults !== undefined) faultEvents = await faults.finish();
    }
    if (faults !== undefined) {
      // The admin connections may have given up while the server was down, or point at a primary
      // that is not one any more (failover): verification and cleanup use fresh ones.
      const endpoint = faults.primaryMoved ?? target.endpoint;
      const admin = await connectAdmin(endpoint).catch(() => undefined);
      if (admin !== undefined) {
        extraAdmins.push(admin);
        shards.close();
        shards = await ShardAdmins.open({ admin, endpoint, topology: standaloneTopology(endpoint) }, keys, scenario.skus.count);
      }
    }
    const crashes = crashesOf(faultEvents, scenario.faults);
    const statsAfter = await Promise.all(shardAdmins.map(readServerStats));
    const byShard = await shardFigures({
      records: load.records,
      skuShard: load.skuShard.length === scenario.skus.count ? load.skuShard : shards.owners,
      topology: target.topology,
      durationMs: load.durationMs,
      intervals: load.series.t.length,
      intervalMs: load.series.intervalMs,
      serverBefore: statsBefore,
      serverAfter: statsAfter,
    });
    const faultFigures = faultEvents.length > 0 ? faultEffects({ records: load.records, events: faultEvents, durationMs: load.durationMs }) : undefined;
    targetProblems.push(...refusalProblems(load, faultFigures !== undefined && faultFigures.outcomesOutsideFaults.error === 0), ...load.routeProblems);
    if (load.loadLost !== undefined) targetProblems.push(load.loadLost);
    const latency = latencyByOutcome(load.histograms.map(percentiles));
    const latencyRaw = load.histogramsRaw ? latencyByOutcome(load.histogramsRaw.map(percentiles)) : undefined;
    const histograms: Partial<Record<Outcome, string>> = {};
    load.histograms.forEach((h, code) => { if (h.totalCount > 0) histograms[OUTCOMES[code]!] = encodeHistogram(h); });
    for (const h of load.histograms) h.destroy();
    for (const h of load.histogramsRaw ?? []) h.destroy();

    stage('verify');
    // If Redis cannot be read back (it died, or the connection did), what was measured is still
    // reported; the invariants are skipped and the run fails with exit 3, not blamed on the script.
    let snapshot: Snapshot | undefined;
    let invariants: InvariantResult[];
    // Omitted when Redis could not be read back: nothing was verified, so nothing was covered.
    let coverage: CoverageV1 | undefined;
    // Violations per SKU, when the invariants were checked.
    let skuViolations: Uint32Array | undefined;
    let durability: DurabilityFigures | undefined;
    let clockSkippedPairs: number | undefined;
    if (load.crashed !== undefined) {
      invariants = notChecked(`not verified: ${load.crashed}; the crashed worker's records are lost with it, so Redis's record cannot be checked against what was sent`);
    } else if (load.records.count === 0 && targetProblems.length > 0) {
      invariants = notChecked(`nothing was sent: ${targetProblems[0]}`);
    } else if (options.hardSignal?.aborted) {
      invariants = notChecked('interrupted again before verification: nothing was checked');
    } else {
      try {
        // Slots may have moved during the run (a resharding, a failover): read each key where it is now.
        await shards.refresh();
        snapshot = await takeSnapshot(shards, scenario.seed, options.hardSignal);
        // A crash the scenario asked for explains a restart and lost keys: durability judges those.
        const outside = crashes.length > 0 ? undefined : deletedFromOutside(snapshot, marksBefore, await serverMarks(shards), keys);
        if (outside !== undefined) {
          // The record Redis holds is not the sale's any more: checking it would blame the script.
          targetProblems.push(outside);
          invariants = notChecked(outside);
        } else {
          const judged = judgeRun({
            snapshot,
            // A lost agent's journaled deductions count as unknown outcomes (never measured).
            records: collected?.unmeasured !== undefined ? withUnmeasured(load.records, snapshot, collected.unmeasured, planFor(scenario)).records : load.records,
            ...(collected !== undefined && collected.clockSlackUs > 0 ? { clockSlackUs: collected.clockSlackUs, rowAgent: collected.rowAgent } : {}),
            initialStock: scenario.skus.stock,
            seed: scenario.seed,
            faults: faultEvents.map((e) => e.action),
            crashes,
            // Crashes need the embedded server, which runs the persistence the scenario declared.
            persistence: scenario.persistence,
          });
          invariants = judged.invariants;
          coverage = judged.coverage;
          skuViolations = judged.skuViolations;
          durability = judged.durability;
          clockSkippedPairs = judged.clockSkippedPairs;
        }
      } catch (err) {
        if (options.hardSignal?.aborted) {
          invariants = notChecked('interrupted again during verification: nothing was checked');
        } else {
          const reason = err instanceof TargetError ? err.message : `could not read the run's keys back from Redis: ${(err as Error).message.split('\n')[0]}`;
          targetProblems.push(reason);
          invariants = notChecked(reason);
        }
      }
    }
    const skuTable = skuTableOf(scenario.skus.count, scenario.skus.stock, snapshot, skuViolations, load.records);
    const skuRanks = skuRanksOf(skuTable);
    const skus = listedSkus(skuTable);

    const requests = load.records.count;
    const server = serverSummaryOf({ shards: byShard.shards, model: scenario.load.model, targetRate: load.targetRate, achievedRate: load.achievedRate });
    built = {
      version: SUMMARY_VERSION,
      sellout: { version: SELLOUT_VERSION, node: process.version },
      scenario: {
        name: scenario.name,
        ...(scenario.description !== undefined ? { description: scenario.description } : {}),
        file: displayPath(scenario.file),
        // Relative to the current directory or absolute, never to sellout's own directory: a bundled
        // script must not read like the team's lua/deduct.lua.
        script: scriptDisplayPath(scenario.scriptPath),
        scriptSha: script.sha,
        asRun: scenario.asRun,
      },
      startedAt: load.startedAt,
      interrupted: load.interrupted || (options.hardSignal?.aborted ?? false),
      requests,
      planned: scenario.requests ?? null,
      durationMs: round(load.durationMs, 3),
      throughput: load.durationMs > 0 ? round((requests / load.durationMs) * 1000, 1) : 0,
      outcomes: load.counts,
      latency,
      load: { model: scenario.load.model, connections: scenario.load.connections, inFlight: scenario.load.inFlight, workers: load.workers },
      ...(load.dropped !== undefined ? { dropped: load.dropped } : {}),
      ...(load.achievedRate !== undefined ? { achievedRate: load.achievedRate } : {}),
      ...(load.targetRate !== undefined ? { targetRate: load.targetRate } : {}),
      ...(latencyRaw ? { latencyRaw } : {}),
      series: {
        ...load.series,
        ...(byShard.shards.length > 1 ? { shardReplies: byShard.replies } : {}),
        ...(skuTable.load !== undefined ? { soldOut: soldOutSeries(skuTable.load, load.series.t, load.series.intervalMs) } : {}),
      },
      shards: byShard.shards,
      ...(server !== undefined ? { server } : {}),
      hottestShardShare: byShard.hottestShardShare,
      ...(byShard.warnings.length > 0 ? { shardWarnings: byShard.warnings } : {}),
      ...(target.topology.cluster ? { redirects: load.redirects } : {}),
      ...(faultFigures !== undefined ? { faults: faultFigures.faults, outcomesOutsideFaults: faultFigures.outcomesOutsideFaults } : {}),
      ...(durability !== undefined ? { durability } : {}),
      ...(sale !== undefined ? { http: httpSummary(sale.target, load.records) } : collected?.http !== undefined ? { http: httpSummary(collected.http, load.records) } : {}),
      invariants,
      ...(coverage !== undefined ? { coverage } : {}),
      ...(targetProblems.length > 0 ? { targetLost: targetProblems.join('; then ') } : {}),
      ...(load.crashed !== undefined ? { crashed: load.crashed } : {}),
      ...(collected?.incomplete !== undefined ? { incomplete: collected.incomplete } : {}),
      ...(collected !== undefined ? { agents: collected.agents } : {}),
      ...(clockSkippedPairs !== undefined ? { clockSkippedPairs } : {}),
      ...(load.capped !== undefined ? { capped: load.capped } : {}),
      ...(load.connectionErrors.length > 0 ? { connectionErrors: load.connectionErrors } : {}),
      ...(load.reconnects > 0 ? { reconnects: load.reconnects } : {}),
      ...(load.errorReplies.length > 0 ? { errorReplies: load.errorReplies } : {}),
      // Bounded at any SKU count: the few most worth a look and the totals; every SKU goes to skus.csv.
      skus,
      skuTotals: skuTotalsOf(skuTable, skus.length),
      ...(skuRanks !== undefined ? { skuRanks } : {}),
      target: target.info,
      persistence: target.persistence,
      histograms,
      intervals: load.intervals,
      skuTable,
      // What --keep leaves: each SKU's stock key and, once deducted from, its journal (-1: Redis could not be read back).
      keysInRedis: snapshot === undefined ? -1 : snapshot.finalRaw.filter((v) => v !== null).length + snapshot.journalLength.filter((n) => n > 0).length,
    };
  } finally {
    await sale?.close().catch(() => {});
    // The embedded server (and a container) goes away with its data: nothing to clean up there.
    if (shards !== undefined && seeded && !options.keep && target.info.kind === 'url') {
      stage('cleanup');
      // On every primary, where the keys are now (the verification may not have looked); with the
      // slot map of the start when the cluster cannot say.
      await shards.refresh().catch(() => {});
      cleanup = await removeRunKeys(shards).catch((err: Error) => ({ keysLeft: -1, error: err.message }));
    }
    shards?.close();
    for (const admin of extraAdmins) admin.disconnect();
    await target.close();
  }

  const { startedAt, interrupted, histograms, intervals, skuTable, keysInRedis, ...rest } = built;
  const keysLeft = cleanup !== undefined && cleanup.keysLeft !== 0
    ? { pattern: keys.pattern, count: cleanup.keysLeft, reason: cleanup.error ?? 'unknown' }
    : undefined;
  const summary: SummaryV1 = {
    ...rest,
    run: {
      id: runId,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      // True whenever the run's keys are still in Redis: asked for with --keep, or left by a cleanup that failed.
      keysKept: (options.keep ?? false) || keysLeft !== undefined,
      ...(keysLeft !== undefined ? { keysLeft } : {}),
      ...(options.keep ? { kept: { pattern: keys.pattern, count: keysInRedis } } : {}),
    },
    status: statusOf(rest.invariants, interrupted, rest.targetLost !== undefined, rest.crashed !== undefined, rest.incomplete !== undefined),
  };
  // The gate belongs to the run, not to one front end: API users get thresholds and the verdict too.
  // (Thresholds were validated when the scenario loaded, so parsing again cannot fail here.)
  const thresholds = options.thresholds === false ? [] : evaluateThresholds(withDefaultThresholds(parseThresholds(scenario.thresholds).thresholds), summary);
  if (thresholds.length > 0) summary.thresholds = thresholds;
  return { summary: { ...summary, verdict: verdictOf(summary) }, histograms, intervals, skus: skuTable };
}

/** One sentence per kind of outright refusal (OOM, NOPERM, BUSY, …), with how many deductions met it. */
function refusalProblems(load: LoadResult, duringFaultsOnly = false): string[] {
  const problems: string[] = [];
  for (const { reply, count, refusal } of load.errorReplies) {
    if (refusal === undefined) continue;
    // Every error fell inside a fault's window: a replica refusing writes during a failover, a
    // restarted server still loading its data are what the scenario asked for, not the target failing.
    if (duringFaultsOnly && refusal !== 'BUSY') continue;
    const what = refusal === 'BUSY'
      ? `Redis answered BUSY: the script ran longer than the server's busy-reply-threshold (lua-time-limit), so sellout stopped the load${load.busy ? `; ${load.busy}` : ''}`
      : `Redis refused ${count.toLocaleString('en-US')} deduction(s) outright: ${reply}`;
    problems.push(what);
  }
  // Refusals of what the load needs besides deductions (a SCRIPT LOAD after NOSCRIPT, say): the
  // deductions then fail with their own error, the refusal is the cause.
  for (const { reply, code } of load.refusals) {
    if (duringFaultsOnly && code !== 'BUSY') continue;
    if (!load.errorReplies.some((e) => e.reply === reply)) problems.push(`Redis refused a command the load needed: ${reply}`);
  }
  return problems;
}

/**
 * Keys of the run that vanished: a stock key missing with its journal gone too cannot be the
 * script's doing (a script that deducts writes the journal), so something outside deleted them:
 * FLUSHALL / FLUSHDB, a restart without persistence, eviction. The server's own marks (run_id,
 * FLUSHALL/FLUSHDB counts) say which when they can be read.
 */
function deletedFromOutside(snapshot: Snapshot, before: ServerMarks | undefined, after: ServerMarks, keys: RunKeys): string | undefined {
  const missing = missingKeys(snapshot);
  if (missing.length === 0) return undefined;
  const causes = marksChanged(before, after);
  const examples = missing.slice(0, 2).flatMap((sku) => [keys.stock(sku), keys.journal(sku)]);
  return (
    `${missing.length} of ${snapshot.skuCount} SKU(s) lost both their stock and journal keys during the run (e.g. ${examples.join(', ')}): ` +
    `${causes.length > 0 ? causes.join(' and ') : 'something outside the run deleted them (FLUSHALL/FLUSHDB, a restart without persistence, eviction under maxmemory)'}, so nothing can be verified`
  );
}

/**
 * In a cluster, every deduction names a SKU's two keys, so they must share a slot (the published
 * script's names do not: CROSSSLOT on every call). Checked before anything is written; names the
 * first SKU whose two keys fall in different slots, and the fix.
 */
export function preflight(scenario: Scenario, keys: RunKeys): void {
  const split = crossSlotSku(keys, scenario.skus.count);
  if (split === undefined) return;
  const { stock, journal } = scenario.keys;
  const fix = stock.includes('{') || journal.includes('{')
    ? 'give both keys the same hash tag, like {<sku>} in each'
    : `put the SKU in braces, like ${stock.replaceAll('<sku>', '{<sku>}')} and ${journal.replaceAll('<sku>', '{<sku>}')}`;
  throw new ScenarioError([
    `${displayPath(scenario.file)}: keys: SKU ${split.sku}'s stock key ${split.stock} (slot ${split.stockSlot}) and journal key ${split.journal} (slot ${split.journalSlot}) ` +
      `are in different slots, so every deduction would fail with CROSSSLOT: ${fix} (or --set preflight=false to watch the errors arrive)`,
  ]);
}

/**
 * The `cluster:` section sizes the embedded cluster of `--redis cluster`; with a standalone server
 * (the embedded default, a container, a URL of one: `target` undefined when known without
 * connecting) it would silently mean nothing.
 */
export function checkClusterSection(scenario: Scenario, redis: string | undefined, target: Target | undefined): void {
  if (scenario.cluster === undefined || target?.topology.cluster) return;
  const server = redis === undefined ? 'the embedded redis-server (standalone: use --redis cluster for a cluster)'
    : redis === 'docker' ? '--redis docker (a standalone container)'
    : `${target?.info.url ?? 'the --redis server'}, a standalone server`;
  throw new ScenarioError([
    `${displayPath(scenario.file)}: cluster.shards: expected no cluster section with a standalone server (it sizes the embedded cluster of --redis cluster), got ${scenario.cluster.shards} shards with ${server}`,
  ]);
}

/** The result of a load that never started (the server refused its connections). */
function emptyLoad(startedAt: Date, workers: number, intervalMs: number): LoadResult {
  return {
    records: newRecords(1),
    histograms: OUTCOMES.map(() => newHistogram()),
    counts: emptyCounts(),
    durationMs: 0,
    firstSendUs: 0,
    lastReplyUs: 0,
    startedAt,
    interrupted: false,
    workers,
    series: { intervalMs, t: [], replies: {}, p50: {}, p99: {}, max: {}, stock: [] },
    intervals: [],
    connectionErrors: [],
    rowsByWorker: [],
    errorReplies: [],
    reconnects: 0,
    refusals: [],
    redirects: { moved: 0, ask: 0, tryagain: 0 },
    skuShard: new Uint16Array(0),
    routeProblems: [],
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Paths inside the project or cwd are shown relative, so summaries don't leak home directories. */
function displayPath(absolute: string): string {
  for (const base of [process.cwd(), PROJECT_ROOT]) {
    const rel = relative(base, absolute);
    if (rel && !rel.startsWith('..')) return rel;
  }
  return absolute;
}

/** The script's path as reports show it: relative to the current directory when under it, else absolute. */
function scriptDisplayPath(absolute: string): string {
  const rel = relative(process.cwd(), absolute);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : absolute;
}
