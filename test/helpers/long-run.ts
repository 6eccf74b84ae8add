/**
 * `sellout run` as a child process on a long scenario, resolved once deductions are flowing (the
 * journal of SKU 0 has 100 entries): a fixed sleep is not enough on a loaded machine, where the
 * workers may not have started yet. For tests that signal, freeze or break things mid-run.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ROOT, startCli } from './cli.js';
import { startTestRedis, type TestRedis } from './redis.js';

export interface LongRunOptions {
  /** Scenario body after `name` and `script` (default: 2 SKUs that never sell out, 60 s, closed 4 x 4). */
  readonly body?: string;
  readonly load?: string;
  readonly script?: string;
  /** redis-server arguments of the private server (ignored with `embedded`). */
  readonly redisArgs?: readonly string[];
  /** No --redis: the CLI starts its embedded server (found from its stderr line). */
  readonly embedded?: boolean;
  /** Start the CLI as the leader of its own process group (to signal the group, as a terminal does). */
  readonly ownGroup?: boolean;
  readonly extraArgs?: readonly string[];
}

export interface LongRun {
  readonly child: ChildProcess;
  /** The private server (undefined with `embedded`). */
  readonly redis: TestRedis | undefined;
  /** A client of the server the run uses (the embedded one too). */
  readonly client: Redis;
  readonly runId: string;
  readonly port: number;
  readonly output: { stdout: string; stderr: string };
  /** Resolves with the CLI's exit code (the server is still up: look at it before finish()). */
  readonly exited: Promise<number | null>;
  /** Waits for the CLI to exit, reads summary.json, stops the private server. */
  finish(): Promise<{ code: number | null; summary: any; stdout: string; stderr: string }>;
}

export async function startLongRun(dir: string, name: string, options: LongRunOptions = {}): Promise<LongRun> {
  const script = options.script ?? `${ROOT}/lua/deduct.lua`;
  const body = options.body ?? `skus: {count: 2, stock: 100000000}\nduration: 60s\nload: ${options.load ?? '{connections: 4, inFlight: 4}'}\n`;
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\nscript: ${script}\n${body}`);
  const out = join(dir, `out-${name}`);
  const redis = options.embedded ? undefined : await startTestRedis({ args: options.redisArgs ?? [] });
  const args = ['run', file, '--out', out, ...(redis ? ['--redis', redis.url] : []), ...(options.extraArgs ?? [])];
  const { child, output, exited, seeded } = startCli(args, { detached: options.ownGroup ?? false });
  const { runId, port } = await seeded;
  const client = redis?.client ?? new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  if (!redis) await client.connect();
  while (Number(await client.hlen(`sellout:${runId}:journal:{0}`)) < 100) await new Promise((r) => setTimeout(r, 20));
  return {
    child,
    redis,
    client,
    runId,
    port,
    output,
    exited,
    finish: async () => {
      const code = await exited;
      if (!redis) client.disconnect();
      await redis?.stop();
      return { code, summary: JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')), ...output };
    },
  };
}
