/**
 * `sellout audit` against Redis: each case on keys of its own (`sellout:audit-<id>:inv:{<case>}`,
 * `sellout:audit-<id>:journal:{<case>}`), created with SET NX after checking that none of them
 * exists, and all deleted afterwards, whatever happens. The case's slug is the keys' hash tag, so in
 * a Redis Cluster both keys of a case sit in one slot and the case runs on the primary owning it.
 *
 * For each call: the stock (GET), the journal (HLEN, HGET of the request ID) before and after, and
 * the reply, then the pure judge (judge.ts) says safe or unsafe. Returns values; prints nothing.
 */
import { ReplyError, type Redis } from 'ioredis';
import { TargetError } from '../errors.js';
import { refusalCodeOf } from '../load/error-replies.js';
import { ADMIN_COMMAND_TIMEOUT_MS, connectAdmin, permissionError, type Target } from '../redis/index.js';
import { killBusyScript, loadScript } from '../redis/script.js';
import { keySlot } from '../redis/slot.js';
import { endpointUrl } from '../redis/url.js';
import { auditCases, type AuditCase } from './cases.js';
import { errorText, judgeCase, type CallObservation, type JournalState, type Judgement, type Reply } from './judge.js';

export interface AuditKeys {
  readonly stock: string;
  readonly journal: string;
}

export function auditKeys(auditId: string, slug: string): AuditKeys {
  return { stock: `sellout:audit-${auditId}:inv:{${slug}}`, journal: `sellout:audit-${auditId}:journal:{${slug}}` };
}

/** A glob of every key an audit may write (for messages). */
export function auditKeyPattern(auditId: string): string {
  return `sellout:audit-${auditId}:*`;
}

export interface CaseResult {
  readonly case: AuditCase;
  readonly keys: AuditKeys;
  /** `host:port` of the primary the case ran on. */
  readonly node: string;
  readonly calls: readonly CallObservation[];
  readonly judgement: Judgement;
}

export interface AuditRun {
  readonly cases: readonly CaseResult[];
  /** Cases not run because the audit was interrupted. */
  readonly notRun: readonly AuditCase[];
  readonly interrupted: boolean;
  /** Keys the cleanup could not delete (count -1: unknown). */
  readonly keysLeft?: { readonly count: number; readonly pattern: string; readonly reason: string };
}

export interface AuditOptions {
  readonly auditId: string;
  /** Aborted: finish the case running, then stop (keys are still deleted). */
  readonly signal?: AbortSignal;
  readonly onCase?: (result: CaseResult) => void;
  /** The cases to run (default: all of auditCases()). */
  readonly cases?: readonly AuditCase[];
}

interface Placed {
  readonly case: AuditCase;
  readonly keys: AuditKeys;
  readonly shard: number;
}

export async function runAudit(
  target: Pick<Target, 'endpoint' | 'topology'>,
  script: { readonly source: string; readonly path: string },
  options: AuditOptions,
): Promise<AuditRun> {
  const { topology } = target;
  const placed: Placed[] = (options.cases ?? auditCases()).map((c) => {
    const keys = auditKeys(options.auditId, c.slug);
    return { case: c, keys, shard: topology.cluster ? topology.slotOwner[keySlot(keys.stock)]! : 0 };
  });
  const pattern = auditKeyPattern(options.auditId);
  const conns = new Map<number, Redis>();
  const touched: Placed[] = [];
  const results: CaseResult[] = [];
  let interrupted = false;
  let failure: unknown;
  let keysLeft: AuditRun['keysLeft'];
  try {
    // One connection per primary used; integers read as strings, exact beyond 2^53.
    for (const shard of new Set(placed.map((p) => p.shard))) {
      conns.set(shard, await connectAdmin(topology.shards[shard]!.endpoint, 3000, ADMIN_COMMAND_TIMEOUT_MS, true, { stringNumbers: true }));
    }
    const node = (p: Placed) => topology.shards[p.shard]!.node;
    const at = (p: Placed) => (topology.cluster ? ` on ${node(p)}` : '');
    for (const p of placed) {
      const existing = Number(await command(conns.get(p.shard)!, target, 'EXISTS', () => conns.get(p.shard)!.exists(p.keys.stock, p.keys.journal)));
      if (existing > 0) throw new TargetError(`keys of audit ${options.auditId} already exist${at(p)} (${p.keys.stock} or ${p.keys.journal}): sellout writes only keys that do not exist yet`);
    }
    const sha = (await command(conns.values().next().value!, target, 'SCRIPT LOAD', () => loadScript([...conns.values()], script.source, script.path))).sha;
    for (const p of placed) {
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      touched.push(p);
      const calls = await runCase(conns.get(p.shard)!, target, topology.shards[p.shard]!.endpoint, sha, script, p);
      const result: CaseResult = { case: p.case, keys: p.keys, node: node(p), calls, judgement: judgeCase(p.case.quantity, p.case.requestId, calls) };
      results.push(result);
      options.onCase?.(result);
    }
  } catch (err) {
    failure = err;
  } finally {
    if (touched.length > 0) keysLeft = await removeKeys(conns, touched, pattern);
    for (const conn of conns.values()) conn.disconnect();
  }
  if (failure !== undefined) {
    if (keysLeft !== undefined && failure instanceof TargetError) {
      throw new TargetError(`${failure.message}; and ${keysLeft.count < 0 ? 'some' : keysLeft.count} key(s) ${pattern} are left in Redis (${keysLeft.reason})`, failure.hint);
    }
    throw failure;
  }
  const ran = new Set(results.map((r) => r.case.number));
  return {
    cases: results,
    notRun: placed.map((p) => p.case).filter((c) => !ran.has(c.number)),
    interrupted,
    ...(keysLeft !== undefined ? { keysLeft } : {}),
  };
}

/** An admin command; NOPERM and timeouts become one-line target errors. */
async function command<T>(conn: Redis, target: Pick<Target, 'endpoint'>, name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TargetError) throw err;
    const where = `${conn.options.host}:${conn.options.port}`;
    throw permissionError(err, target.endpoint, name) ?? new TargetError(`Redis at ${where} failed ${name}: ${firstLine(err)}`);
  }
}

function firstLine(err: unknown): string {
  return ((err as Error)?.message ?? String(err)).split('\n')[0]!;
}

async function runCase(
  conn: Redis,
  target: Pick<Target, 'endpoint'>,
  endpoint: Target['endpoint'],
  sha: string,
  script: { readonly source: string; readonly path: string },
  p: Placed,
): Promise<CallObservation[]> {
  const { case: c, keys } = p;
  if (c.stock !== null) {
    const set = await command(conn, target, 'SET', () => conn.set(keys.stock, c.stock!, 'NX'));
    if (set === null) throw new TargetError(`${keys.stock} appeared in Redis while the audit was starting: another client writes sellout:audit-* keys`);
  }
  const calls: CallObservation[] = [];
  let before = await readState(conn, target, keys, c.requestId);
  for (let i = 0; i < c.calls; i++) {
    const reply = await evalsha(conn, endpoint, sha, script, keys, c);
    const after = await readState(conn, target, keys, c.requestId);
    calls.push({ reply, stockBefore: before.stock, stockAfter: after.stock, journalBefore: before.journal, journalAfter: after.journal });
    before = after;
  }
  return calls;
}

/** The stock and the journal as a script left them. A key of the wrong type (a script that turned the journal into a string) is described, not fatal. */
async function readState(conn: Redis, target: Pick<Target, 'endpoint'>, keys: AuditKeys, requestId: string): Promise<{ stock: string | null; journal: JournalState }> {
  const replies = await command(conn, target, 'GET/HLEN/HGET', () => conn.pipeline().get(keys.stock).hlen(keys.journal).hget(keys.journal, requestId).exec());
  const value = (i: number): unknown => {
    const [err, v] = replies?.[i] ?? [new Error('no reply'), null];
    if (err && /^WRONGTYPE/.test(err.message)) return WRONG_TYPE;
    if (err) throw permissionError(err, target.endpoint, ['GET', 'HLEN', 'HGET'][i]!) ?? new TargetError(`Redis failed ${['GET', 'HLEN', 'HGET'][i]} on ${i === 0 ? keys.stock : keys.journal}: ${firstLine(err)}`);
    return v;
  };
  const stock = value(0);
  const entries = value(1);
  const entry = value(2);
  return {
    stock: stock === WRONG_TYPE ? '(not a string key)' : (stock as string | null),
    journal: {
      entries: entries === WRONG_TYPE ? -1 : Number(entries),
      entry: entry === WRONG_TYPE ? '(not a hash)' : (entry as string | null),
    },
  };
}

const WRONG_TYPE = Symbol('WRONGTYPE');

/**
 * EVALSHA stock journal quantity id, the reply as Redis sent it. NOSCRIPT (a SCRIPT FLUSH meanwhile)
 * loads the script again and resends once. The server refusing the command (NOPERM, OOM, READONLY,
 * BUSY, …) is a target problem: the script never ran. A script that does not finish within the
 * command timeout is killed (SCRIPT KILL) and fails the audit in one line.
 */
async function evalsha(
  conn: Redis,
  endpoint: Target['endpoint'],
  sha: string,
  script: { readonly source: string; readonly path: string },
  keys: AuditKeys,
  c: AuditCase,
): Promise<Reply> {
  for (let attempt = 1; ; attempt++) {
    try {
      return replyOf(await conn.callBuffer('EVALSHA', sha, '2', keys.stock, keys.journal, c.quantity, c.requestId));
    } catch (err) {
      if (!(err instanceof ReplyError)) {
        if (/Command timed out/.test((err as Error).message)) {
          const freed = await killBusyScript(endpoint);
          throw new TargetError(`${script.path}: case ${c.number} (${c.name}): the script did not answer within ${ADMIN_COMMAND_TIMEOUT_MS / 1000} s; ${freed}`);
        }
        throw new TargetError(`case ${c.number} (${c.name}): EVALSHA failed: ${firstLine(err)}`);
      }
      const message = (err as Error).message;
      if (message.startsWith('NOSCRIPT') && attempt === 1) {
        await loadScript(conn, script.source, script.path);
        continue;
      }
      const refused = refusalCodeOf(message);
      if (refused !== undefined || message.startsWith('NOSCRIPT')) {
        throw new TargetError(`Redis at ${endpointUrl(endpoint)} refused EVALSHA in case ${c.number} (${c.name}): ${errorText(message)}`);
      }
      return { type: 'error', message };
    }
  }
}

function replyOf(value: unknown): Reply {
  if (value === null || value === undefined) return { type: 'nil' };
  if (Buffer.isBuffer(value)) return { type: 'string', value: value.toString('utf8') };
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') return { type: 'integer', value: String(value) };
  if (Array.isArray(value)) return { type: 'array', value: value.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v)) };
  return { type: 'string', value: String(value) };
}

/** Deletes every key of the cases that ran (UNLINK on the primary owning them), then counts what is left. */
async function removeKeys(conns: ReadonlyMap<number, Redis>, touched: readonly Placed[], pattern: string): Promise<AuditRun['keysLeft']> {
  let left = 0;
  let reason = '';
  for (const p of touched) {
    const conn = conns.get(p.shard);
    if (conn === undefined) return { count: -1, pattern, reason: 'no connection to the primary holding them' };
    try {
      await conn.unlink(p.keys.stock, p.keys.journal);
      left += Number(await conn.exists(p.keys.stock, p.keys.journal));
    } catch (err) {
      reason ||= firstLine(err);
      left += 2;
    }
  }
  return left === 0 ? undefined : { count: left, pattern, reason: reason || 'UNLINK did not remove them' };
}
