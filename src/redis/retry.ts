/**
 * Retries an idempotent admin read or delete (GET, HLEN, HSCAN, MGET, EXISTS, UNLINK) when it
 * failed because the connection did (closed by the server, timed out), not because Redis answered
 * with an error. The admin connection reconnects by itself (src/redis/index.ts); a command that
 * was in flight when it closed is not resent by ioredis, so the caller asks again here.
 */
import { ReplyError } from 'ioredis';

export async function retrying<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || isReplyError(err)) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

/** Redis answered (a definite error, retrying would get the same answer) rather than the connection failing. */
export function isReplyError(err: unknown): boolean {
  return err instanceof ReplyError || (err as Error | undefined)?.name === 'ReplyError';
}

/** A pipeline's per-command errors as one thrown error (so `retrying` can retry the whole batch). */
export function firstPipelineError(replies: [Error | null, unknown][] | null): Error | undefined {
  if (replies === null) return new Error('Connection is closed.');
  for (const [err] of replies) if (err) return err;
  return undefined;
}
