/**
 * The deduction script on the server: SHA-1 computed once here, loaded with SCRIPT LOAD, called
 * with EVALSHA; a NOSCRIPT reply (restart, failover, SCRIPT FLUSH) loads it again and retries,
 * as ioredis's Script does.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { TargetError } from '../errors.js';

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
