/**
 * The one fresh redis-server every figure runs on (sellout's embedded server, startLocalRedis),
 * and what each measurement does before it starts: an empty keyspace, nothing left to free in the
 * background (a big journal UNLINKed by a previous `sellout run` is freed by a background thread
 * that would otherwise compete with the next measurement), the script loaded.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { parseInfo } from '../../src/redis/index.js';
import { startLocalRedis, type LocalRedis } from '../../src/redis/local.js';
import { scriptSha } from '../../src/redis/script.js';
import { onCleanup } from './cleanup.js';

/** The sellout checkout (bench/ compiles to dist/bench/lib/). */
export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const SCRIPT_PATH = join(ROOT, 'lua', 'deduct.lua');
export const SCRIPT_SOURCE = readFileSync(SCRIPT_PATH, 'utf8');
export const SCRIPT_SHA = scriptSha(SCRIPT_SOURCE);
/** A stock that never runs out, within the 14 digits lua/deduct.lua handles exactly. */
export const NEVER_SELLS_OUT = 10_000_000_000_000;

export interface BenchServer {
  readonly server: LocalRedis;
  readonly admin: Redis;
  readonly url: string;
  /** FLUSHALL, wait for background frees, SCRIPT LOAD. */
  reset(): Promise<void>;
  /** used_cpu_user + used_cpu_sys of the server (all its threads), seconds. */
  cpuSeconds(): Promise<number>;
  stop(): Promise<void>;
}

export async function startBenchServer(): Promise<BenchServer> {
  const server = await startLocalRedis();
  const admin = new Redis({ host: server.host, port: server.port, lazyConnect: true, maxRetriesPerRequest: 1 });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    admin.disconnect();
    await server.stop();
  };
  const unregister = onCleanup(stop);
  await admin.connect();
  return {
    server,
    admin,
    url: `redis://${server.host}:${server.port}`,
    reset: () => resetServer(admin),
    cpuSeconds: () => serverCpuSeconds(admin),
    async stop() {
      unregister();
      await stop();
    },
  };
}

/**
 * FLUSHALL, wait for background frees, SCRIPT LOAD: on a server the bench started (the standalone
 * one, or a node of the bench's embedded cluster, where FLUSHALL empties that node only).
 */
export async function resetServer(admin: Redis): Promise<void> {
  await admin.flushall('SYNC');
  for (let i = 0; i < 600; i++) {
    const info = parseInfo(await admin.info('memory'));
    if (Number(info['lazyfree_pending_objects'] ?? 0) === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await admin.script('LOAD', SCRIPT_SOURCE);
}

/** used_cpu_user + used_cpu_sys of a server (all its threads), seconds. */
export async function serverCpuSeconds(admin: Redis): Promise<number> {
  const info = parseInfo(await admin.info('cpu'));
  return Number(info['used_cpu_user'] ?? 0) + Number(info['used_cpu_sys'] ?? 0);
}
