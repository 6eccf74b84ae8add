/**
 * One load connection: sends the deduction with EVALSHA and turns the reply into an outcome.
 * NOSCRIPT (the server lost its script cache) loads the script again and retries once.
 */
import { Redis } from 'ioredis';
import { journalKey, requestId, stockKey } from '../keys.js';
import { classifyErrorReply, Code, isNoScript, type OutcomeCode } from '../outcomes.js';
import { clientOptions } from '../target/index.js';
import type { RedisEndpoint } from '../target/url.js';

export interface DeductReply {
  code: OutcomeCode;
  /** New stock for ok; NaN otherwise. */
  value: number;
}

export interface DeductTarget {
  readonly endpoint: RedisEndpoint;
  readonly runId: string;
  readonly seed: number;
  readonly scriptSha: string;
  readonly scriptSource: string;
  readonly timeoutMs: number;
}

export class DeductConnection {
  private readonly redis: Redis;
  private closed = false;

  constructor(private readonly target: DeductTarget) {
    this.redis = new Redis({ ...clientOptions(target.endpoint), commandTimeout: target.timeoutMs });
    // Errors surface through the commands that hit them (as `unknown` outcomes).
    this.redis.on('error', () => {});
  }

  async connect(): Promise<void> {
    await this.redis.connect();
  }

  async deduct(sku: number, quantity: number, index: number): Promise<DeductReply> {
    const { runId, seed, scriptSha } = this.target;
    const keys = [stockKey(runId, sku), journalKey(runId, sku)] as const;
    const id = requestId(seed, index);
    try {
      return okReply(await this.redis.evalsha(scriptSha, 2, keys[0], keys[1], quantity, id));
    } catch (err) {
      const message = (err as Error).message ?? '';
      if (isNoScript(message)) {
        try {
          await this.redis.script('LOAD', this.target.scriptSource);
          return okReply(await this.redis.evalsha(scriptSha, 2, keys[0], keys[1], quantity, id));
        } catch (retryErr) {
          return errorReply(retryErr as Error);
        }
      }
      return errorReply(err as Error);
    }
  }

  close(): void {
    if (!this.closed) {
      this.closed = true;
      this.redis.disconnect();
    }
  }
}

function okReply(reply: unknown): DeductReply {
  const value = typeof reply === 'number' ? reply : Number(reply);
  // A script that answers something other than an integer broke the contract: that is an error.
  return Number.isFinite(value) ? { code: Code.ok, value } : { code: Code.error, value: NaN };
}

function errorReply(err: Error): DeductReply {
  // ReplyError: the server answered with an error reply. Anything else (timeout, connection lost,
  // stream closed) means we do not know whether the deduction happened.
  if (err.name === 'ReplyError' || err.constructor?.name === 'ReplyError' || err.constructor?.name === 'SimpleError') {
    return { code: classifyErrorReply(err.message), value: NaN };
  }
  return { code: Code.unknown, value: NaN };
}
