/**
 * The deduction script on the server (on every primary of a cluster): SHA-1 computed once here,
 * loaded with SCRIPT LOAD, called with EVALSHA; a NOSCRIPT reply (restart, failover, SCRIPT FLUSH)
 * loads it again and retries, as ioredis's Script does.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { TargetError } from '../errors.js';
import { connectAdmin } from './index.js';
import type { RedisEndpoint } from './url.js';

export interface LoadedScript {
  readonly sha: string;
  readonly source: string;
  readonly path: string;
}

export function scriptSha(source: string): string {
  return createHash('sha1').update(source).digest('hex');
}

/**
 * Loads the script on every primary (each shard runs the deductions of its own SKUs; a script
 * cache is per server), or on the one server given. Rejected anywhere is rejected: one line.
 */
export async function loadScript(redis: Redis | readonly Redis[], source: string, path: string): Promise<LoadedScript> {
  const servers = Array.isArray(redis) ? redis : [redis as Redis];
  const expected = scriptSha(source);
  const shas = await Promise.all(servers.map(async (server) => {
    try {
      return String(await server.script('LOAD', source));
    } catch (err) {
      // A syntax error in a user's script is a problem with the target setup, reported in one line.
      throw new TargetError(`${path}: Redis${where(server, servers.length)} rejected the script: ${firstLine((err as Error).message)}`);
    }
  }));
  const wrong = shas.findIndex((sha) => sha !== expected);
  if (wrong >= 0) throw new TargetError(`${path}: Redis${where(servers[wrong]!, servers.length)} returned SHA ${shas[wrong]} for the script, expected ${expected}`);
  return { sha: expected, source, path };
}

/** ` on host:port` when there are several servers to tell apart. */
function where(server: Redis, of: number): string {
  return of > 1 ? ` on ${server.options.host}:${server.options.port}` : '';
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

/**
 * Frees a server stuck in a script that will not finish: SCRIPT KILL until PING answers. Each
 * deduction already pipelined behind the stuck one runs the script again once it is killed, and
 * can be killed only after the server's busy-reply-threshold, so this takes up to that threshold
 * per request that was in flight on the stuck connection; it gives up after a minute.
 */
export async function killBusyScript(endpoint: RedisEndpoint, giveUpMs = 60_000): Promise<string> {
  const started = Date.now();
  let kills = 0;
  let admin: Redis | undefined;
  try {
    admin = await connectAdmin(endpoint, 3000, 10_000, false);
    for (;;) {
      try {
        await admin.script('KILL');
        kills++;
      } catch (err) {
        const text = (err as Error).message;
        if (/UNKILLABLE/.test(text)) {
          return `the script wrote before it got stuck, so SCRIPT KILL cannot stop it (${text.split('\n')[0]}); only SHUTDOWN NOSAVE can, which sellout does not send to a server it did not start`;
        }
      }
      try {
        if ((await admin.ping()) === 'PONG') return `sellout sent ${kills} SCRIPT KILL(s) and the server answers again`;
      } catch {
        // still busy (BUSY) or not answering yet
      }
      if (Date.now() - started > giveUpMs) return `the server was still busy after ${kills} SCRIPT KILL(s) over ${Math.round(giveUpMs / 1000)} s: send SCRIPT KILL until PING answers`;
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    return `sellout could not send SCRIPT KILL: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    admin?.disconnect();
  }
}
