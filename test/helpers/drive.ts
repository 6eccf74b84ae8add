/** The load engine on its own (no CLI, no verification): seed, load the script, drive the load. */
import { driveLoad, type LoadResult } from '../../src/load/coordinator.js';
import { loadScript } from '../../src/redis/script.js';
import { seedStock } from '../../src/redis/seed.js';
import type { Scenario } from '../../src/scenario/load.js';
import { runShards, type TestRedis } from './redis.js';
import { DEFAULT_KEY_TEMPLATES, RunKeys } from '../../src/keys.js';
import { standaloneTopology } from '../../src/redis/topology.js';

/**
 * Runs `scenario` under `runId` against a test's private server; `during` runs while the load
 * does (to break things mid-run). The caller destroys the returned histograms.
 */
export async function driveOn(redis: TestRedis, scenario: Scenario, runId: string, during?: (runId: string) => Promise<void>): Promise<LoadResult> {
  await seedStock(runShards(redis.client, runId, scenario.skus.count), scenario.skus.stock);
  const script = await loadScript(redis.client, scenario.scriptSource, scenario.scriptPath);
  const endpoint = { host: redis.server.host, port: redis.server.port, db: 0, tls: false };
  const keys = new RunKeys(DEFAULT_KEY_TEMPLATES, runId);
  const loading = driveLoad({ scenario, topology: standaloneTopology(endpoint), keys, runId, scriptSha: script.sha });
  if (during) await during(runId);
  return loading;
}
