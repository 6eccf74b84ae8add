/**
 * Retries an idempotent admin read or delete (GET, HLEN, HSCAN, EXISTS, UNLINK) when it
 * failed because the connection did (closed by the server, then reopened), not because Redis
 * answered with an error. The admin connection reconnects by itself (src/redis/index.ts); a
 * command that was in flight when it closed is not resent by ioredis and ends in a timeout, so the
 * caller asks again here. A timeout on a connection that never dropped is a server that does not
 * answer (frozen, overloaded): asking again would only wait as long again, so it is not retried.
 */
import { ReplyError, type Redis } from 'ioredis';

const reconnectCounts = new WeakMap<Redis, { n: number }>();

/** Starts counting the admin connection's reconnects (called once per connection). */
export function trackReconnects(redis: Redis): void {
  const counter = { n: 0 };
  reconnectCounts.set(redis, counter);
  redis.on('reconnecting', () => { counter.n++; });
}

export async function retrying<T>(fn: () => Promise<T>, redis: Redis, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const reconnectsBefore = reconnectCounts.get(redis)?.n ?? 0;
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || isReplyError(err)) throw err;
      const timedOut = /Command timed out/.test((err as Error).message);
      const reconnected = (reconnectCounts.get(redis)?.n ?? 0) !== reconnectsBefore;
      if (timedOut && !reconnected) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

/** Redis answered (a definite error, retrying would get the same answer) rather than the connection failing. */
export function isReplyError(err: unknown): boolean {
  return err instanceof ReplyError || (err as Error | undefined)?.name === 'ReplyError';
}

export type PipelineReplies = [Error | null, unknown][];

/**
 * One pipeline of idempotent commands (`queue` adds them), retried whole as `retrying` says; its
 * first failed command is thrown, so a caller never mistakes a failed read for an answer.
 */
export function pipelineRetrying(redis: Redis, queue: (pipeline: ReturnType<Redis['pipeline']>) => void): Promise<PipelineReplies> {
  return retrying(async () => {
    const pipeline = redis.pipeline();
    queue(pipeline);
    const replies = await pipeline.exec();
    const err = firstPipelineError(replies);
    if (err) throw err;
    return replies!;
  }, redis);
}

/** A pipeline's per-command errors as one thrown error (so `retrying` can retry the whole batch). */
function firstPipelineError(replies: PipelineReplies | null): Error | undefined {
  if (replies === null) return new Error('Connection is closed.');
  for (const [err] of replies) if (err) return err;
  return undefined;
}
