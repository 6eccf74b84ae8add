/**
 * HTTP mode's edges for a run: the sale service the load goes to. A scenario with `http.url` names
 * the team's own service (checked reachable before anything is written); without it sellout starts
 * its reference service (src/serve/) on the run's Redis with the run's key names, and stops it after
 * the load, its requests in flight answered first.
 */
import { connect } from 'node:net';
import type { Redis } from 'ioredis';
import { TargetError, UsageError } from './errors.js';
import type { RunKeys } from './keys.js';
import { connectAdmin, type Target } from './redis/index.js';
import { redactUrl } from './redis/url.js';
import { httpTarget, type HttpTarget } from './scenario/http.js';
import type { Scenario } from './scenario/load.js';
import type { RequestRecords } from './metrics/records.js';
import { Code } from './outcomes.js';
import type { HttpSummary } from './summary/summary.js';
import { startSaleService, type SaleService } from './serve/service.js';

export interface SaleEndpoint {
  readonly target: HttpTarget;
  /** Stops the reference service (nothing for the team's own). */
  close(): Promise<void>;
}

/** The team's service: a TCP connection must open within 3 s, else exit 3 before anything is written. */
export async function checkServiceReachable(url: string, timeoutMs = 3000): Promise<void> {
  const u = new URL(url);
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  const host = u.hostname.replace(/^\[|\]$/g, '');
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no connection within ${timeoutMs} ms`)); }, timeoutMs);
    socket.once('connect', () => { clearTimeout(timer); socket.end(); resolve(); });
    socket.once('error', (err) => { clearTimeout(timer); reject(err); });
  }).catch((err: NodeJS.ErrnoException) => {
    throw new TargetError(`http.url ${redactUrl(url)}: the sale service is not reachable (${err.code ?? err.message})`, 'start it, or leave http.url out for sellout\'s reference service');
  });
}

/** Starts the reference service when the scenario names none; the run's keys, on the run's Redis. */
export async function openSaleEndpoint(scenario: Scenario, target: Target, keys: RunKeys): Promise<SaleEndpoint | undefined> {
  const http = scenario.http;
  if (http === undefined) return undefined;
  if (http.url !== undefined) return { target: httpTarget(http, http.url, false), close: async () => {} };
  if (target.topology.cluster) {
    throw new UsageError('http: the reference service talks to one Redis server, not a cluster; give http.url of a service that speaks to your cluster, or run against a standalone server');
  }
  let redis: Redis | undefined;
  let service: SaleService | undefined;
  try {
    redis = await connectAdmin(target.endpoint);
    service = await startSaleService({
      redis,
      scriptSource: scenario.scriptSource,
      keys,
    });
  } catch (err) {
    redis?.disconnect();
    throw err;
  }
  const started = service;
  const connection = redis;
  return {
    target: httpTarget(http, `${started.url}/deduct`, true),
    close: async () => {
      await started.close();
      connection.disconnect();
    },
  };
}

/** summary.json `http`: where the load went, and the ok replies whose body lacked the stock field (their stock not checked). */
export function httpSummary(target: HttpTarget, records: RequestRecords): HttpSummary {
  let missing = 0;
  if (target.stockField !== undefined) {
    for (let row = 0; row < records.count; row++) if (records.outcome[row] === Code.ok && Number.isNaN(records.value[row]!)) missing++;
  }
  return { url: redactUrl(target.url), reference: target.reference, stockField: target.stockField ?? null, stockFieldMissing: missing };
}
