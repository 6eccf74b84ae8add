/**
 * Drives the load of one run and returns what was observed. For now the closed model runs in
 * this thread over `load.connections` ioredis connections; the worker-thread engine replaces the
 * inside of this function and keeps its contract (LoadResult).
 */
import { performance } from 'node:perf_hooks';
import type { Scenario } from '../scenario/load.js';
import type { RedisEndpoint } from '../target/url.js';
import type { Histogram } from '../metrics/histogram.js';
import type { OutcomeCounts } from '../outcomes.js';
import { DeductConnection } from './connection.js';
import { runClosed } from './executors/closed.js';
import { Plan } from './plan.js';
import { Recorder } from './recorder.js';
import type { RequestRecords } from './records.js';
import { RequestSource } from './source.js';
import { TargetError } from '../errors.js';

export interface LoadRequest {
  readonly scenario: Scenario;
  readonly endpoint: RedisEndpoint;
  readonly runId: string;
  readonly scriptSha: string;
  readonly signal?: AbortSignal;
}

export interface LoadResult {
  readonly records: RequestRecords;
  /** One histogram per outcome code (outcomes.ts order). The caller destroys them. */
  readonly histograms: Histogram[];
  readonly counts: OutcomeCounts;
  /** From the first send to the last reply. */
  readonly durationMs: number;
  readonly startedAt: Date;
  readonly interrupted: boolean;
  readonly workers: number;
}

export function planFor(scenario: Scenario): Plan {
  return new Plan({
    seed: scenario.seed,
    skuCount: scenario.skus.count,
    selection: scenario.skus.selection,
    quantity: scenario.quantity,
    duplicateRatio: scenario.duplicates.ratio,
  });
}

export async function driveLoad(request: LoadRequest): Promise<LoadResult> {
  const { scenario, endpoint, runId, scriptSha, signal } = request;
  const plan = planFor(scenario);
  const source = new RequestSource(plan, scenario.duplicates.pattern, scenario.requests ?? Infinity);
  const recorder = new Recorder(scenario.requests ?? 65_536);
  const target = { endpoint, runId, seed: scenario.seed, scriptSha, scriptSource: scenario.scriptSource, timeoutMs: scenario.timeoutMs };
  const connections = Array.from({ length: scenario.load.connections }, () => new DeductConnection(target));
  try {
    await Promise.all(connections.map((c) => c.connect()));
  } catch (err) {
    for (const c of connections) c.close();
    recorder.destroy();
    throw new TargetError(`could not open ${scenario.load.connections} load connections: ${(err as Error).message.split('\n')[0]}`);
  }
  const startedAt = new Date();
  const t0 = performance.now();
  try {
    await runClosed({
      connections,
      inFlight: scenario.load.inFlight,
      plan,
      source,
      recorder,
      t0,
      ...(scenario.duration !== undefined ? { deadline: t0 + scenario.duration } : {}),
      ...(signal ? { signal } : {}),
    });
  } finally {
    for (const c of connections) c.close();
  }
  const durationMs = recorder.records.count === 0 ? 0 : (recorder.lastReplyUs - recorder.firstSendUs) / 1000;
  return {
    records: recorder.records,
    histograms: recorder.histograms,
    counts: recorder.counts,
    durationMs,
    startedAt,
    interrupted: signal?.aborted ?? false,
    workers: 1,
  };
}
