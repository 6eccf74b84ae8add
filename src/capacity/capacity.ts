/**
 * `sellout capacity`: the highest rate a server holds under an SLO, found by constant-rate steps
 * (search.ts), each one a real `run` on fresh keys judged by the same verdict; then where the time
 * goes (the server's own latency and CPU next to the client's), what the journal costs, how much
 * one SKU can take, and how many shards the expected peak needs (answer.ts).
 *
 * One server serves the whole search: the embedded one (or the embedded cluster) is started once
 * here, and every step is pointed at it by URL, so steps share a warm server, as a sale would.
 */
import { RunKeys } from '../keys.js';
import { hottestSkuShare } from '../load/plan.js';
import { openTarget, type Target } from '../redis/index.js';
import { scriptSha } from '../redis/script.js';
import { removeRunKeys } from '../redis/seed.js';
import { ShardAdmins } from '../redis/shards.js';
import { endpointUrl } from '../redis/url.js';
import { runScenario, type RunOutput } from '../run.js';
import { parseScenario, type Override, type Scenario } from '../scenario/load.js';
import type { TargetInfo } from '../summary/summary.js';
import { formatMemory, journalProjection, peakAnswer } from './answer.js';
import { measureJournals, readMemory, type JournalMemory } from './journal-memory.js';
import { searchMaxRate, type SearchResult, type StepPhase } from './search.js';
import { bucketDelta, bucketQuantile, readLatencyHistogram, type LatencyBuckets } from './server-latency.js';
import { sloThresholds } from './slo.js';
import { formatValue } from '../thresholds/evaluate.js';
import { SERVER_BUSY } from '../metrics/bottleneck.js';
import { int } from '../numbers.js';

/** The closed-loop ceiling's depth: the depth the engine's benchmarks saturate one Redis core with. */
export const CEILING_LOAD = { connections: 50, inFlight: 16 } as const;
/** Connections of every constant-rate step (the open loop pipelines on each). */
const STEP_CONNECTIONS = 8;
/** The ceiling run's length: a closed loop at full depth settles in well under this. */
const CEILING_MAX_MS = 5000;
/** Share of the search budget (after the ceiling) given to the main series; the single-SKU series gets the rest. */
const MAIN_SHARE = 0.7;

export interface CapacityOptions {
  /** The scenario as loaded (its `--set` overrides applied). */
  readonly scenario: Scenario;
  readonly redis?: string | undefined;
  readonly tlsCa?: string | undefined;
  /** `--slo` expressions (threshold syntax); empty: DEFAULT_SLO. */
  readonly slos: readonly string[];
  readonly targetRate?: number | undefined;
  readonly orders?: number | undefined;
  readonly stepMs: number;
  readonly budgetMs: number;
  readonly headroom: number;
  readonly signal?: AbortSignal;
  /** Each step as it ends (the console's line per step). */
  readonly onStep?: (step: CapacityStep) => void;
  /** Called once the target is up (the console's first line). */
  readonly onTarget?: (target: TargetInfo) => void;
}

export type StepSeries = 'ceiling' | 'all SKUs' | 'one SKU';

export interface CapacityStep {
  readonly index: number;
  readonly series: StepSeries;
  readonly phase: StepPhase | 'ceiling';
  /** Offered rate, deductions/s (null for the closed-loop ceiling). */
  readonly rate: number | null;
  readonly achieved: number;
  readonly requests: number;
  readonly durationMs: number;
  /** Client-side ok latency, µs (null without an ok reply). */
  readonly latency: { readonly p50: number; readonly p99: number; readonly p999: number } | null;
  /** Server side: CPU share of the busiest primary, µs per EVALSHA, and EVALSHA's p50/p99 from LATENCY HISTOGRAM (a power-of-two bucket's upper bound; null where the server has none). */
  readonly server: { readonly cpu: number | null; readonly usecPerCall: number | null; readonly p50: number | null; readonly p99: number | null };
  readonly dropped: number;
  readonly errors: number;
  readonly unknown: number;
  readonly pass: boolean;
  /** Why it failed: each failing SLO or invariant, drops, errors, unknown outcomes. */
  readonly reasons: readonly string[];
  readonly runId: string;
  readonly journal?: JournalMemory;
}

export interface CapacityReport {
  readonly tool: 'sellout';
  readonly kind: 'capacity';
  readonly version: 1;
  readonly scenario: { readonly name: string; readonly file: string; readonly script: string; readonly scriptSha: string };
  readonly target: TargetInfo;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly interrupted: boolean;
  readonly slo: readonly string[];
  readonly stepMs: number;
  readonly budgetMs: number;
  readonly headroom: number;
  readonly targetRate: number | null;
  /** The closed-loop maximum at full depth, deductions/s. */
  readonly ceiling: number | null;
  /** The highest confirmed rate with every SLO and invariant holding, no drop, error or unknown outcome. */
  readonly maxRate: number | null;
  readonly stoppedBy: SearchResult<unknown>['stoppedBy'] | 'not run';
  /** The same on a single SKU (one SKU's keys live on one shard). */
  readonly singleSkuMaxRate: number | null;
  readonly singleSkuStoppedBy: SearchResult<unknown>['stoppedBy'] | 'not run' | 'one SKU already';
  readonly steps: readonly CapacityStep[];
  /** Whether the server answered LATENCY HISTOGRAM (Redis >= 7). */
  readonly serverLatency: boolean;
  readonly journalBytesPerEntry: number | null;
  readonly journal: (JournalMemory & { readonly fromStep: number }) | null;
  readonly projection: { readonly orders: number; readonly bytes: number | null; readonly warning?: string };
  readonly maxmemory: number | null;
  readonly hottestSkuShare: number;
  readonly shardsNeeded: number | null;
  /** With --target-rate: whether the peak can be served (answer.ts says the rule); null without one. */
  readonly reachable: boolean | null;
  /** The answer in sentences. */
  readonly answer: readonly string[];
  readonly notes: readonly string[];
  readonly exitCode: number;
}

export async function runCapacity(options: CapacityOptions): Promise<CapacityReport> {
  const { scenario, signal } = options;
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const thresholds = sloThresholds(options.slos);
  const slo = Object.entries(thresholds).flatMap(([metric, c]) => (Array.isArray(c) ? c : [c]).map((cond) => `${metric} ${cond}`));
  // The scenario's persistence: an fsync per write (aof-always) is part of what a server sustains.
  const target = await openTarget({ redis: options.redis, tlsCa: options.tlsCa, shards: scenario.cluster?.shards, persistence: scenario.persistence });
  const steps: CapacityStep[] = [];
  const notes: string[] = [];
  try {
    options.onTarget?.(target.info);
    // Every step is pointed at this one server: the user's URL as given (its password too), or the embedded one's.
    const url = options.redis !== undefined && /^rediss?:\/\//.test(options.redis) ? options.redis : endpointUrl(target.endpoint);
    const admins = await ShardAdmins.open(target, new RunKeys(scenario.keys, 'capacity'), 1);
    const memoryBefore = await readMemory(admins.admins);
    let serverLatency = true;
    const elapsed = () => performance.now() - started;

    const step = async (series: StepSeries, phase: StepPhase | 'ceiling', rate: number | null, stepMs: number): Promise<CapacityStep> => {
      const stepScenario = scenarioForStep(scenario, { series, rate, stepMs, thresholds });
      const before = await Promise.all(admins.admins.map((a) => readLatencyHistogram(a, 'evalsha')));
      // The ceiling's journals are not measured (undefined); a refused INFO reads null.
      const usedBefore = series === 'ceiling' ? undefined : (await readMemory(admins.admins)).usedMemory;
      const out = await runScenario(stepScenario, { redis: url, ...(options.tlsCa !== undefined ? { tlsCa: options.tlsCa } : {}), keep: true, ...(signal ? { signal } : {}) });
      const after = await Promise.all(admins.admins.map((a) => readLatencyHistogram(a, 'evalsha')));
      if (after.some((h) => h === undefined)) serverLatency = false;
      const journal = await journalsThenRemove(target, stepScenario, out, usedBefore);
      const record = stepRecord(steps.length + 1, series, phase, rate, out, serverPercentiles(before, after), journal);
      steps.push(record);
      options.onStep?.(record);
      return record;
    };

    // 1. The ceiling: the most this target does at all, closed loop at full depth.
    const ceilingStep = await step('ceiling', 'ceiling', null, Math.min(options.stepMs, CEILING_MAX_MS));
    const ceiling = ceilingStep.achieved > 0 ? ceilingStep.achieved : null;

    // 2. The search over every SKU of the scenario, then on one SKU.
    let main: SearchResult<CapacityStep> | undefined;
    let single: SearchResult<CapacityStep> | undefined;
    if (ceiling !== null && !signal?.aborted) {
      const remaining = options.budgetMs - elapsed();
      const oneSku = scenario.skus.count === 1;
      main = await searchMaxRate<CapacityStep>(
        async (rate, phase, stepMs) => {
          const s = await step('all SKUs', phase, rate, stepMs);
          return { verdict: { pass: s.pass, reasons: s.reasons }, measured: s };
        },
        { startRate: Math.max(100, Math.round(ceiling / 16)), ceiling, stepMs: options.stepMs, budgetMs: oneSku ? remaining : remaining * MAIN_SHARE },
        undefined,
        signal,
      );
      if (main.note) notes.push(main.note);
      if (!oneSku && main.maxRate !== null && !signal?.aborted) {
        // One SKU can never take more than the whole server: start there, and step down from it.
        single = await searchMaxRate<CapacityStep>(
          async (rate, phase, stepMs) => {
            const s = await step('one SKU', phase, rate, stepMs);
            return { verdict: { pass: s.pass, reasons: s.reasons }, measured: s };
          },
          { startRate: main.maxRate, ceiling: main.maxRate / 1.25, stepMs: options.stepMs, budgetMs: Math.max(options.budgetMs - elapsed(), options.stepMs * 3) },
          undefined,
          signal,
        );
        // Its cap is the rate every SKU held together, not the target's ceiling: say so in those terms.
        if (single.stoppedBy !== 'ceiling' && single.note) notes.push(`One SKU: ${single.note}`);
      }
    }
    const maxRate = main?.maxRate ?? null;
    const singleSkuMaxRate = scenario.skus.count === 1 ? maxRate : single?.maxRate ?? null;

    // 3. The journal's cost, from the largest passing step that measured it.
    const measured = steps.filter((s) => s.pass && s.journal?.bytesPerEntry != null && s.series === 'all SKUs');
    const best = measured.reduce<CapacityStep | undefined>((a, s) => (a === undefined || s.journal!.sampledEntries > a.journal!.sampledEntries ? s : a), undefined);
    const journal = best?.journal ? { ...best.journal, fromStep: best.index } : null;
    const orders = options.orders ?? scenario.requests ?? steps.reduce((n, s) => Math.max(n, s.requests), 0);
    const projection = journalProjection({ orders, bytesPerEntry: journal?.bytesPerEntry ?? null, maxmemory: memoryBefore.maxmemory, usedMemory: memoryBefore.usedMemory });

    // 4. The answer.
    const hottestShare = hottestSkuShare(scenario.skus.selection, scenario.skus.count);
    const peak = options.targetRate !== undefined
      // Shards are planned with one shard's rate: a cluster's maximum shared by its primaries.
      ? peakAnswer({ targetRate: options.targetRate, maxRate: maxRate === null ? null : maxRate / admins.admins.length, singleSkuMaxRate, headroom: options.headroom, hottestShare, skuCount: scenario.skus.count })
      : undefined;
    const answer = answerSentences({ scenario, target: target.info, ceiling, maxRate, single: singleSkuMaxRate, slo, steps, journal, projection, peak: peak?.sentences ?? [], admins: admins.admins.length });
    admins.close();
    const interrupted = signal?.aborted ?? false;
    return {
      tool: 'sellout',
      kind: 'capacity',
      version: 1,
      scenario: { name: scenario.name, file: scenario.file, script: scenario.scriptPath, scriptSha: scriptSha(scenario.scriptSource) },
      target: target.info,
      startedAt,
      durationMs: Math.round(elapsed()),
      interrupted,
      slo,
      stepMs: options.stepMs,
      budgetMs: options.budgetMs,
      headroom: options.headroom,
      targetRate: options.targetRate ?? null,
      ceiling,
      maxRate,
      stoppedBy: main?.stoppedBy ?? 'not run',
      singleSkuMaxRate,
      singleSkuStoppedBy: scenario.skus.count === 1 ? 'one SKU already' : single?.stoppedBy ?? 'not run',
      steps,
      serverLatency,
      journalBytesPerEntry: journal?.bytesPerEntry ?? null,
      journal,
      projection,
      maxmemory: memoryBefore.maxmemory,
      hottestSkuShare: hottestShare,
      shardsNeeded: peak?.shardsNeeded ?? null,
      reachable: peak?.reachable ?? null,
      answer,
      notes,
      exitCode: interrupted ? 130 : peak !== undefined && !peak.reachable ? 4 : 0,
    };
  } finally {
    await target.close();
  }
}


/**
 * A step's scenario: the user's, as run, with its load replaced by a constant rate for `stepMs`
 * (or the closed-loop ceiling), its thresholds by the SLO, no faults, and stock large enough that
 * nothing sells out during the step (sell-out replies are cheaper and would flatter the server).
 */
export function scenarioForStep(base: Scenario, step: { series: StepSeries; rate: number | null; stepMs: number; thresholds: Record<string, string | string[]> }): Scenario {
  const maxQuantity = Math.max(...base.quantity.map((q) => q.quantity));
  const expected = step.rate === null ? 200_000 * (step.stepMs / 1000) : step.rate * (step.stepMs / 1000);
  // Every request might go to one SKU (hot selections nearly do): each SKU can take all of them, twice over.
  const stock = Math.ceil(expected * maxQuantity * 2) + 1000;
  const load = step.rate === null
    ? { model: 'closed', ...CEILING_LOAD, ...(base.load.workers !== undefined ? { workers: base.load.workers } : {}) }
    : { model: 'constant-rate', rate: step.rate, connections: STEP_CONNECTIONS, ...(base.load.workers !== undefined ? { workers: base.load.workers } : {}) };
  const set = (path: string[], value: unknown): Override => ({ path, value, text: `${path.join('.')}=${JSON.stringify(value)} (a capacity step)` });
  const overrides: Override[] = [
    // The script as resolved: the scenario as run may name it relative to where --script was typed.
    set(['script'], base.scriptPath),
    set(['requests'], null),
    set(['duration'], `${Math.round(step.stepMs)}ms`),
    set(['load'], load),
    set(['faults'], null),
    // The search's one server is given by URL: a replica of an embedded server is not started per step.
    set(['replicas'], null),
    set(['thresholds'], step.series === 'ceiling' ? null : step.thresholds),
    set(['skus', 'stock'], stock),
    ...(step.series === 'one SKU' ? [set(['skus', 'count'], 1), set(['skus', 'selection'], 'uniform')] : []),
  ];
  return parseScenario(base.asRun, base.file, { overrides });
}

/**
 * The step's keys, which its run kept: its journals measured (`usedBefore` undefined: not, as for
 * the ceiling), then every key removed, on one set of shard connections.
 */
async function journalsThenRemove(target: Target, scenario: Scenario, out: RunOutput, usedBefore: number | null | undefined): Promise<JournalMemory | undefined> {
  const shards = await ShardAdmins.open(target, new RunKeys(scenario.keys, out.summary.run.id), scenario.skus.count);
  try {
    if (usedBefore === undefined) return undefined;
    // The SKUs that sold most, so the sample holds the largest journals of the step.
    const load = out.skus.load;
    const skus = load ? [...load.ok.keys()].sort((a, b) => load.ok[b]! - load.ok[a]!) : [0];
    const journal = await measureJournals(shards, skus).catch(() => undefined);
    if (journal === undefined) return undefined;
    // The whole server's growth over the step (its keys still there) per journal entry: the
    // journal with its overhead (the stock keys, the allocator's rounding), next to MEMORY USAGE's.
    const usedAfter = (await readMemory(shards.admins)).usedMemory;
    const entries = out.summary.outcomes.ok;
    return { ...journal, usedMemoryPerEntry: usedBefore !== null && usedAfter !== null && entries > 0 ? Math.max(0, usedAfter - usedBefore) / entries : null };
  } finally {
    try {
      await removeRunKeys(shards);
    } finally {
      shards.close();
    }
  }
}

function serverPercentiles(before: readonly (LatencyBuckets | undefined)[], after: readonly (LatencyBuckets | undefined)[]): { p50: number | null; p99: number | null } {
  // Summed over the primaries: the script's cost wherever it ran.
  const merged = new Map<number, number>();
  after.forEach((h, i) => {
    if (h === undefined) return;
    for (const [bound, calls] of bucketDelta(before[i], h)) merged.set(bound, (merged.get(bound) ?? 0) + calls);
  });
  const delta = [...merged.entries()].sort((a, b) => a[0] - b[0]);
  return { p50: bucketQuantile(delta, 0.5), p99: bucketQuantile(delta, 0.99) };
}

function stepRecord(
  index: number, series: StepSeries, phase: StepPhase | 'ceiling', rate: number | null, out: RunOutput,
  server: { p50: number | null; p99: number | null }, journal: JournalMemory | undefined,
): CapacityStep {
  const s = out.summary;
  const ok = s.latency.ok;
  const reasons: string[] = [];
  for (const t of s.thresholds ?? []) if (t.status === 'fail') reasons.push(`${t.name} ${t.actual === null ? t.reason ?? 'not measured' : formatValue(t.actual, t.unit)} (SLO ${t.condition})`);
  for (const i of s.invariants) if (i.status === 'fail') reasons.push(`invariant ${i.name} failed`);
  if ((s.dropped ?? 0) > 0) reasons.push(`${int(s.dropped!)} sends dropped`);
  if (s.outcomes.error > 0 && !reasons.some((r) => r.startsWith('outcomes.error'))) reasons.push(`${int(s.outcomes.error)} error replies`);
  if (s.outcomes.unknown > 0) reasons.push(`${int(s.outcomes.unknown)} unknown outcomes`);
  if (s.targetLost !== undefined) reasons.push(`target lost: ${s.targetLost}`);
  if (s.status === 'interrupted') reasons.push('interrupted');
  const pass = series === 'ceiling' ? true : reasons.length === 0 && s.verdict.status === 'pass';
  if (!pass && reasons.length === 0) reasons.push(`verdict ${s.verdict.status}`);
  return {
    index, series, phase, rate,
    achieved: rate === null ? s.throughput : s.achievedRate ?? s.throughput,
    requests: s.requests,
    durationMs: s.durationMs,
    latency: ok ? { p50: ok.p50, p99: ok.p99, p999: ok.p999 } : null,
    server: { cpu: s.server?.cpu ?? null, usecPerCall: s.server?.usecPerCall ?? null, ...server },
    dropped: s.dropped ?? 0,
    errors: s.outcomes.error,
    unknown: s.outcomes.unknown,
    pass,
    reasons: series === 'ceiling' ? [] : reasons,
    runId: s.run.id,
    ...(journal !== undefined ? { journal } : {}),
  };
}

interface AnswerInput {
  scenario: Scenario;
  target: TargetInfo;
  ceiling: number | null;
  maxRate: number | null;
  single: number | null;
  slo: readonly string[];
  steps: readonly CapacityStep[];
  journal: (JournalMemory & { fromStep: number }) | null;
  projection: { orders: number; bytes: number | null; warning?: string };
  peak: readonly string[];
  admins: number;
}

/** The answer in sentences, the way a sale team asks it. */
function answerSentences(a: AnswerInput): string[] {
  const out: string[] = [];
  const where = a.admins > 1 ? `this cluster of ${a.admins} primaries` : 'this server';
  if (a.ceiling === null) return ['Nothing was measured: the ceiling run got no reply.'];
  if (a.maxRate === null) {
    out.push(`No rate held ${a.slo.join(' and ')} with every invariant: the lowest rates tried failed (see the steps). The closed-loop ceiling is ${int(a.ceiling)}/s.`);
  } else {
    const at = [...a.steps].reverse().find((s) => s.series === 'all SKUs' && s.phase === 'confirm' && s.pass && s.rate === a.maxRate);
    out.push(
      `${where[0]!.toUpperCase()}${where.slice(1)} sustains ${int(a.maxRate)} deductions/s with ${a.slo.join(' and ')} and every invariant holding (${Math.round((a.maxRate / a.ceiling) * 100)}% of its ${int(a.ceiling)}/s closed-loop ceiling)${at?.latency ? `: ok p99 ${(at.latency.p99 / 1000).toFixed(2)} ms there` : ''}.`,
    );
    if (a.admins > 1) out.push(`That is ${int(a.maxRate / a.admins)}/s per primary, the rate the shard count below is planned with.`);
    if (at && at.server.cpu !== null) {
      const split = at.server.p99 !== null && at.latency ? `; the server's own EVALSHA p99 was at most ${formatValue(at.server.p99, 'us')} of the client's ${formatValue(at.latency.p99, 'us')}: the rest is queueing, network and client` : '';
      out.push(`At that rate Redis used ${Math.round(at.server.cpu * 100)}% of a core${at.server.usecPerCall !== null ? ` at ${at.server.usecPerCall.toFixed(1)} µs per deduction` : ''}${split}.`);
      // A knee where the server had room is the client's (or the network's), not the server's.
      const above = a.steps.filter((s) => s.series === 'all SKUs' && !s.pass && s.rate !== null && s.rate > a.maxRate!).sort((x, y) => x.rate! - y.rate!)[0];
      if (at.server.cpu < SERVER_BUSY && (above === undefined || (above.server.cpu ?? 0) < SERVER_BUSY)) {
        out.push(
          `Redis still had room${above?.server.cpu != null ? ` (${Math.round(above.server.cpu * 100)}% busy at ${int(above.rate!)}/s, the lowest rate that failed)` : ''}: this limit is the load generator's or the network's, not the server's; for the server's own, run sellout on a machine of its own or with more workers (--set load.workers=N).`,
        );
      }
    }
  }
  if (a.scenario.skus.count > 1 && a.single !== null) {
    out.push(
      a.single >= (a.maxRate ?? Infinity)
        ? `One SKU alone held ${int(a.single)}/s, as much as every SKU together (its series starts there and never offers more): a SKU's keys live on one shard, so on a cluster one SKU never goes faster than one shard does.`
        : `One hot SKU tops out at ${int(a.single)}/s: a SKU's keys live on one shard, so no cluster takes one SKU faster; to go beyond, split its stock into buckets (several SKU keys, each with part of the stock).`,
    );
  }
  if (a.journal?.bytesPerEntry != null) {
    const enc = Object.entries(a.journal.encodings).map(([e, n]) => `${n} ${e}`).join(', ');
    out.push(
      `The journal costs ${Math.round(a.journal.bytesPerEntry)} bytes per entry (MEMORY USAGE of ${a.journal.sampledJournals} journal${a.journal.sampledJournals === 1 ? '' : 's'}, ${int(a.journal.sampledEntries)} entries: ${enc}${a.journal.listpackMaxEntries !== null ? `; a journal becomes a hashtable past ${int(a.journal.listpackMaxEntries)} entries` : ''}${a.journal.usedMemoryPerEntry != null ? `; used_memory grew ${Math.round(a.journal.usedMemoryPerEntry)} bytes per entry over that step` : ''}): ${int(a.projection.orders)} orders need ${a.projection.bytes === null ? '?' : formatMemory(a.projection.bytes)}.`,
    );
  }
  if (a.projection.warning) out.push(a.projection.warning);
  out.push(...a.peak);
  return out;
}
