/**
 * The deduction script on the server: SHA-1 computed once here, loaded with SCRIPT LOAD, called
 * with EVALSHA; a NOSCRIPT reply (restart, failover, SCRIPT FLUSH) loads it again and retries,
 * as ioredis's Script does.
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

export async function loadScript(redis: Redis, source: string, path: string): Promise<LoadedScript> {
  let sha: string;
  try {
    sha = String(await redis.script('LOAD', source));
  } catch (err) {
    // A syntax error in a user's script is a problem with the target setup, reported in one line.
    throw new TargetError(`${path}: Redis rejected the script: ${firstLine((err as Error).message)}`);
  }
  if (sha !== scriptSha(source)) throw new TargetError(`${path}: Redis returned SHA ${sha} for the script, expected ${scriptSha(source)}`);
  return { sha, source, path };
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
