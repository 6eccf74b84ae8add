/**
 * The audit's key safety on a real redis-server (DESIGN.md §9): it refuses to start when a key it
 * would write exists (and leaves that key alone), and an interrupted audit still deletes the keys
 * of the cases that ran and reports the rest as not run.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { auditKeys, runAudit } from '../../src/audit/audit.js';
import { TargetError } from '../../src/errors.js';
import { openTarget, type Target } from '../../src/redis/index.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const script = { path: 'lua/deduct.lua', source: readFileSync(new URL('../../lua/deduct.lua', import.meta.url), 'utf8') };

let redis: TestRedis;
let target: Target;
beforeAll(async () => {
  redis = await startTestRedis();
  target = await openTarget({ redis: redis.url });
});
afterAll(async () => {
  await target?.close();
  await redis?.stop();
});
afterEach(async () => { await redis.client.flushall(); });

describe('runAudit', () => {
  it('refuses to start when one of its keys exists, writes nothing and leaves that key as it was', async () => {
    const taken = auditKeys('fixed-1', 'id-twice').journal;
    await redis.client.hset(taken, 'someone', 'else');
    const err = await runAudit(target, script, { auditId: 'fixed-1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TargetError);
    expect((err as TargetError).message).toBe(
      `keys of audit fixed-1 already exist (${auditKeys('fixed-1', 'id-twice').stock} or ${taken}): sellout writes only keys that do not exist yet`,
    );
    expect(await redis.client.keys('*')).toEqual([taken]);
    expect(await redis.client.hgetall(taken)).toEqual({ someone: 'else' });
  });

  it('an abort stops after the case running, deletes the keys of the cases that ran, and lists the rest as not run', async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    const present: Promise<number>[] = [];
    const run = await runAudit(target, script, {
      auditId: 'fixed-2',
      signal: controller.signal,
      onCase: (r) => {
        seen.push(r.case.slug);
        // Sent before the audit goes on: its keys exist while it runs, so the cleanup checked below is not vacuous.
        present.push(redis.client.exists(r.keys.stock));
        if (seen.length === 3) controller.abort();
      },
    });
    expect(await Promise.all(present)).toEqual([1, 1, 1]);
    expect(run.interrupted).toBe(true);
    expect(run.cases.map((c) => c.case.slug)).toEqual(seen);
    expect(run.cases).toHaveLength(3);
    expect(run.notRun.length).toBeGreaterThan(10);
    expect(run.keysLeft).toBeUndefined();
    expect(await redis.client.dbsize()).toBe(0);
  });

  it('a script Redis rejects (a syntax error) is a target problem (exit 3), found before any key is written', async () => {
    const err = await runAudit(target, { path: 'bad.lua', source: 'return (' }, { auditId: 'fixed-3' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TargetError);
    expect((err as TargetError).message).toMatch(/^bad\.lua: Redis rejected the script: /);
    expect(await redis.client.dbsize()).toBe(0);
  });
});
