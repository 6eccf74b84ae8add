/**
 * One run, end to end, as values: open the target, seed namespaced stock, load the script, drive
 * the load, read Redis back, check the invariants, clean up. Prints nothing, writes no file and
 * never exits: the CLI does that with what this returns.
 */
import { relative } from 'node:path';
import { newRunId } from './keys.js';
import { driveLoad, type LoadProgress } from './load/coordinator.js';
import { encodeHistogram, initHistograms, percentiles } from './metrics/histogram.js';
import { OUTCOMES, type Outcome } from './outcomes.js';
import { latencyByOutcome, statusOf, SUMMARY_VERSION, type SummaryV1, type VerdictV1 } from './summary/summary.js';
import type { Scenario } from './scenario/load.js';
import { PROJECT_ROOT } from './scenario/load.js';
import { openTarget } from './redis/index.js';
import { loadScript } from './redis/script.js';
import { removeRunKeys, seedStock } from './redis/seed.js';
import { SELLOUT_VERSION } from './version.js';
import { TargetError } from './errors.js';
import { verdictOf } from './summary/verdict.js';
import { evaluateThresholds } from './thresholds/evaluate.js';
import { parseThresholds } from './thresholds/parse.js';
import { checkAll, notChecked, prepare, type InvariantResult } from './verify/invariants.js';
import type { CoverageV1 } from './summary/coverage.js';
import { coverageOf } from './verify/coverage.js';
import { takeSnapshot, type Snapshot } from './verify/snapshot.js';

export interface RunOptions {
  /** `redis://…`, `docker`, or undefined for the embedded redis-server. */
  readonly redis?: string | undefined;
  /** Keep the run's keys in Redis afterwards (they are deleted by default). */
  readonly keep?: boolean;
  /** Aborting stops the load; what ran is still verified and reported as interrupted. */
  readonly signal?: AbortSignal;
  /** Called at each stage, for progress output. */
  readonly onStage?: (stage: 'target' | 'seed' | 'load' | 'verify' | 'cleanup', detail?: string) => void;
  /** Called about once a second while the load runs (for a live progress line). */
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Evaluate the scenario's thresholds (default true; the CLI's --no-thresholds sets false). */
  readonly thresholds?: boolean;
}

import type { IntervalHistogram } from './metrics/series.js';
export type { IntervalHistogram };
export type { LoadProgress } from './load/coordinator.js';

export interface RunOutput {
  /** The run's summary, its verdict always set (optional in SummaryV1 only for older files). */
  readonly summary: SummaryV1 & { verdict: VerdictV1 };
  /** The whole run's latency histogram per outcome that occurred, encoded, microseconds. */
  readonly histograms: Partial<Record<Outcome, string>>;
  /** Per-second histograms per outcome (latency from the intended send), in time order. */
  readonly intervals: IntervalHistogram[];
}

export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<RunOutput> {
  await initHistograms();
  const stage = options.onStage ?? (() => {});
  stage('target');
  const target = await openTarget({ redis: options.redis });
  const runId = newRunId();
  let seeded = false;
  try {
    stage('seed', runId);
    await seedStock(target.admin, runId, scenario.skus.count, scenario.skus.stock);
    seeded = true;
    const script = await loadScript(target.admin, scenario.scriptSource, scenario.scriptPath);

    stage('load');
    const load = await driveLoad({
      scenario,
      endpoint: target.endpoint,
      runId,
      scriptSha: script.sha,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
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
    // Every load connection lost before the planned end: the invariants still hold for what ran,
    // but the sale was not replayed, so the run fails as a target failure.
    let targetLost: string | undefined = load.loadLost;
    try {
      snapshot = await takeSnapshot(target.admin, runId, scenario.skus.count, scenario.seed);
      const verifying = prepare({ snapshot, records: load.records, initialStock: scenario.skus.stock, seed: scenario.seed });
      invariants = checkAll(verifying);
      coverage = coverageOf(verifying);
    } catch (err) {
      const reason = err instanceof TargetError ? err.message : `could not read the run's keys back from Redis: ${(err as Error).message.split('\n')[0]}`;
      targetLost = targetLost === undefined ? reason : `${targetLost}; then ${reason}`;
      invariants = notChecked(reason);
    }
    const journalBySku = new Uint32Array(scenario.skus.count);
    for (let row = 0; row < (snapshot?.journal.count ?? 0); row++) journalBySku[snapshot!.journal.sku[row]!]!++;

    const requests = load.records.count;
    const summary: SummaryV1 = {
      version: SUMMARY_VERSION,
      sellout: { version: SELLOUT_VERSION, node: process.version },
      run: { id: runId, startedAt: load.startedAt.toISOString(), finishedAt: new Date().toISOString(), keysKept: options.keep ?? false },
      scenario: {
        name: scenario.name,
        ...(scenario.description !== undefined ? { description: scenario.description } : {}),
        file: displayPath(scenario.file),
        script: displayPath(scenario.scriptPath),
        scriptSha: script.sha,
        asRun: scenario.asRun,
      },
      status: statusOf(invariants, load.interrupted, targetLost !== undefined),
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
      series: load.series,
      invariants,
      ...(coverage !== undefined ? { coverage } : {}),
      ...(targetLost !== undefined ? { targetLost } : {}),
      ...(load.connectionErrors.length > 0 ? { connectionErrors: load.connectionErrors } : {}),
      skus: Array.from({ length: scenario.skus.count }, (_, sku) => ({
        sku,
        initial: scenario.skus.stock,
        final: snapshot === undefined ? null : Number.isNaN(snapshot.final[sku]!) ? snapshot.finalRaw[sku]! : snapshot.final[sku]!,
        journal: journalBySku[sku]!,
      })),
      target: target.info,
    };
    // The gate belongs to the run, not to one front end: API users get thresholds and the verdict too.
    // (Thresholds were validated when the scenario loaded, so parsing again cannot fail here.)
    const thresholds = options.thresholds === false ? [] : evaluateThresholds(parseThresholds(scenario.thresholds).thresholds, summary);
    if (thresholds.length > 0) summary.thresholds = thresholds;
    return { summary: { ...summary, verdict: verdictOf(summary) }, histograms, intervals: load.intervals };
  } finally {
    if (seeded && !options.keep) {
      stage('cleanup');
      await removeRunKeys(target.admin, runId, scenario.skus.count).catch(() => {});
    }
    await target.close();
  }
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
