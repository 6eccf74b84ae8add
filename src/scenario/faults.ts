/**
 * The scenario's fault keys: `persistence`, `replicas` and `faults` (timed faults during the load).
 *
 * Each fault is validated by hand, like `quantity` in schema.ts, so that every mistake is reported
 * at the exact field (`faults.1.duration: expected …`): an unknown action (with the closest one),
 * a field the action does not take, a missing or malformed duration. What depends on several keys
 * (a fault after the run's end, two faults at once on one server, a failover without a replica) is
 * checked by `faultScheduleIssues` on the raw scenario, outside zod, whose object refinements run
 * only once every field is valid: so these are reported together with every other mistake.
 * Whether the target can take the faults is known only with `--redis`: `checkFaultsTarget`.
 */
import { z } from 'zod';
import { parseDurationMs } from '../duration.js';
import { PERSISTENCE_MODES, type Persistence } from '../redis/embedded.js';

export { PERSISTENCE_MODES, type Persistence };

export const FAULT_ACTIONS = ['kill', 'pause', 'client-pause', 'script-flush', 'client-kill', 'failover'] as const;
export type FaultAction = (typeof FAULT_ACTIONS)[number];
export const FAILOVER_MODES = ['safe', 'unsafe'] as const;

/** A fault as the fault runner gets it: times in milliseconds from the start of the load. */
export type Fault =
  /** kill -9 the embedded server; restart it `restartAfter` ms later (0: at once), or never when absent. */
  | { readonly at: number; readonly action: 'kill'; readonly restartAfter?: number }
  /** SIGSTOP the embedded server, SIGCONT `duration` ms later. */
  | { readonly at: number; readonly action: 'pause'; readonly duration: number }
  /** CLIENT PAUSE <duration> WRITE (any target). */
  | { readonly at: number; readonly action: 'client-pause'; readonly duration: number }
  /** SCRIPT FLUSH (any target): the next EVALSHA answers NOSCRIPT. */
  | { readonly at: number; readonly action: 'script-flush' }
  /** CLIENT KILL TYPE normal (any target): the load connections are dropped. */
  | { readonly at: number; readonly action: 'client-kill' }
  /** Promote the embedded server's replica (replicas: 1): safe (FAILOVER) or unsafe (kill -9, REPLICAOF NO ONE). */
  | { readonly at: number; readonly action: 'failover'; readonly mode: (typeof FAILOVER_MODES)[number] };

/** The fields each action takes besides `at` and `action`. */
const FIELDS: Record<FaultAction, readonly string[]> = {
  kill: ['restartAfter'],
  pause: ['duration'],
  'client-pause': ['duration'],
  'script-flush': [],
  'client-kill': [],
  failover: ['mode'],
};

/** Faults that signal or reconfigure a server process: only the embedded redis-server sellout started. */
export const EMBEDDED_ONLY: Readonly<Partial<Record<FaultAction, string>>> = {
  kill: 'kill -9 and restart act on a redis-server process sellout started',
  pause: 'SIGSTOP and SIGCONT go to a redis-server process sellout started',
  failover: 'it promotes the replica sellout starts next to its redis-server (replicas: 1)',
};

const RESTART_AFTER = 'a duration like "0ms" (restart at once) or "2s" (leave restartAfter out to keep the server down)';
const FAULTS_SHAPE = 'a list of faults like [{at: "5s", action: kill, restartAfter: "2s"}]';

/** `… (did you mean "kill"?)` for a word close to one of `choices`, else nothing. */
export function didYouMean(word: unknown, choices: readonly string[]): string {
  if (typeof word !== 'string' || word.length === 0) return '';
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const choice of choices) {
    const d = editDistance(lower, choice);
    if (d < bestDistance) [best, bestDistance] = [choice, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? ` (did you mean ${JSON.stringify(best)}?)` : '';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length]!;
}

export const persistenceSchema = z.unknown().transform((value, ctx): Persistence => {
  if ((PERSISTENCE_MODES as readonly unknown[]).includes(value)) return value as Persistence;
  ctx.addIssue({ code: 'custom', message: `one of ${PERSISTENCE_MODES.join(', ')}${didYouMean(value, PERSISTENCE_MODES)}`, input: value });
  return z.NEVER;
});

export const replicasSchema = z.literal([0, 1], { error: '0 or 1 (1 starts a replica of the embedded redis-server, for failover faults)' });

type Issue = { path: (string | number)[]; message: string; input: unknown };

/** A duration in ms (>= 0, or > 0 without `allowZero`), or the message of an issue: `negative` for a negative one. */
function durationField(value: unknown, what: string, allowZero: boolean, negative = what): number | string {
  const text = typeof value === 'string' ? value.trim() : undefined;
  const ms = text === undefined ? undefined : parseDurationMs(text);
  if (ms !== undefined && (allowZero ? ms >= 0 : ms > 0)) return ms;
  return (typeof value === 'number' && value < 0) || text?.startsWith('-') ? negative : what;
}

/** One fault entry: the fault, or the issues found in it (paths relative to the entry). */
function parseFault(entry: unknown): Fault | Issue[] {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return [{ path: [], message: 'a fault like {at: "5s", action: kill, restartAfter: "2s"}', input: entry }];
  }
  const raw = entry as Record<string, unknown>;
  const issues: Issue[] = [];
  const action = raw['action'];
  const known = (FAULT_ACTIONS as readonly unknown[]).includes(action) ? (action as FaultAction) : undefined;
  if (known === undefined) {
    issues.push({ path: ['action'], message: `one of ${FAULT_ACTIONS.join(', ')}${didYouMean(action, FAULT_ACTIONS)}`, input: action });
  }
  const at = durationField(raw['at'], 'a time from the start of the load, like "5s" (0s: at once)', true, 'a time from the start of the load, not a negative one, like "5s" (0s: at once)');
  if (typeof at === 'string') issues.push({ path: ['at'], message: at, input: raw['at'] });
  if (known !== undefined) {
    const takes = FIELDS[known];
    for (const key of Object.keys(raw)) {
      if (key === 'at' || key === 'action' || takes.includes(key)) continue;
      issues.push({ path: [key], message: `no ${key} with action ${known} (it takes ${['at', 'action', ...takes].join(', ')})`, input: raw[key] });
    }
  }
  let fault: Fault | undefined;
  if (known === 'kill') {
    const after = raw['restartAfter'] === undefined
      ? undefined
      : durationField(raw['restartAfter'], RESTART_AFTER, true, `${RESTART_AFTER.replace('a duration', 'a duration, not a negative one,')}`);
    if (typeof after === 'string') issues.push({ path: ['restartAfter'], message: after, input: raw['restartAfter'] });
    else if (typeof at === 'number') fault = { at, action: 'kill', ...(after !== undefined ? { restartAfter: after } : {}) };
  } else if (known === 'pause' || known === 'client-pause') {
    const duration = durationField(raw['duration'], `a duration > 0 like "2s" (required by action ${known})`, false);
    if (typeof duration === 'string') issues.push({ path: ['duration'], message: duration, input: raw['duration'] });
    else if (typeof at === 'number') fault = { at, action: known, duration };
  } else if (known === 'failover') {
    const mode = raw['mode'] ?? 'safe';
    if (!(FAILOVER_MODES as readonly unknown[]).includes(mode)) {
      issues.push({ path: ['mode'], message: `one of ${FAILOVER_MODES.join(', ')}${didYouMean(mode, FAILOVER_MODES)}`, input: mode });
    } else if (typeof at === 'number') {
      fault = { at, action: 'failover', mode: mode as 'safe' | 'unsafe' };
    }
  } else if (known !== undefined && typeof at === 'number') {
    fault = { at, action: known };
  }
  return issues.length > 0 || fault === undefined ? issues : fault;
}

export const faultsSchema = z.unknown().transform((value, ctx): Fault[] => {
  if (!Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: FAULTS_SHAPE, input: value });
    return z.NEVER;
  }
  const faults: Fault[] = [];
  value.forEach((entry, i) => {
    const parsed = parseFault(entry);
    if (Array.isArray(parsed)) for (const issue of parsed) ctx.addIssue({ code: 'custom', ...issue, path: [i, ...issue.path] });
    else faults.push(parsed);
  });
  return faults;
});

/** When the server the fault acts on is back to normal: `at` + (restartAfter | duration | 0); a kill that never restarts, never. */
export function faultEnd(fault: Fault): number {
  switch (fault.action) {
    case 'kill':
      return fault.restartAfter === undefined ? Infinity : fault.at + fault.restartAfter;
    case 'pause':
    case 'client-pause':
      return fault.at + fault.duration;
    default:
      return fault.at;
  }
}

/** `5s`, `1.5s`, `250ms`, `1m30s`. */
export function formatMs(ms: number): string {
  if (ms >= 60_000 && ms % 1000 === 0) {
    const m = Math.floor(ms / 60_000);
    const s = (ms % 60_000) / 1000;
    return `${m}m${s > 0 ? `${s}s` : ''}`;
  }
  return ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * What the faults must agree with in the rest of the scenario, checked on the raw scenario (every
 * part that does not parse on its own is left to the schema to report):
 * - a fault at or after the end of the run never happens. The end is known from `duration`, or a
 *   ramp's stages; a `requests` scenario ends when its last request is answered, which depends on
 *   the server's speed, so its `at` cannot be checked before the run (a fault that comes too late
 *   does not happen, and the fault runner says so);
 * - every fault acts on the one server the load talks to, so two at once (their spans overlap: a
 *   fault lasts from `at` to faultEnd, a kill without restartAfter to the end of the run; two at the
 *   same instant overlap too) would leave it unclear which state the run observed;
 * - a failover needs `replicas: 1`, and after an unsafe one (which kills the old primary) no replica is left.
 */
export function faultScheduleIssues(raw: Record<string, unknown>): Issue[] {
  const entries = raw['faults'];
  if (!Array.isArray(entries)) return [];
  // The entries that parse, with their index in the list (the schema reports the others).
  const valid = entries.map((entry, i) => ({ parsed: parseFault(entry), i })).filter((e): e is { parsed: Fault; i: number } => !Array.isArray(e.parsed));
  const issues: Issue[] = [];
  const rawAt = (i: number) => (entries[i] as Record<string, unknown>)['at'];

  const end = runEnd(raw);
  const late = new Set<number>();
  if (end !== undefined) {
    for (const { parsed: fault, i } of valid) {
      if (fault.at < end.ms) continue;
      late.add(i);
      issues.push({ path: ['faults', i, 'at'], message: `a time before the end of the run (${end.what})`, input: rawAt(i) });
    }
  }

  // Overlaps among the faults that happen at all (one too late is reported once, above).
  const order = valid.filter(({ i }) => !late.has(i)).map(({ parsed: fault, i }) => ({ fault, i })).sort((a, b) => a.fault.at - b.fault.at || a.i - b.i);
  for (let k = 1; k < order.length; k++) {
    const { fault, i } = order[k]!;
    // An earlier fault at the same instant, else the earlier one whose span reaches furthest.
    const earlier = order.slice(0, k);
    const before = earlier.find((e) => e.fault.at === fault.at) ?? earlier.reduce((a, b) => (faultEnd(b.fault) > faultEnd(a.fault) ? b : a));
    const beforeEnd = faultEnd(before.fault);
    if (fault.at < beforeEnd || fault.at === before.fault.at) {
      const what = `faults.${before.i} (${before.fault.action} at ${formatMs(before.fault.at)}`;
      const message = beforeEnd === Infinity
        ? `no fault after ${what} without restartAfter: the server stays down to the end of the run)`
        : fault.at === before.fault.at
          ? `a time other than that of ${what}): faults act on one server, one at a time`
          : `a time after ${what} until ${formatMs(beforeEnd)}) is over: faults act on one server, one at a time`;
      issues.push({
        path: ['faults', i, 'at'],
        message,
        input: rawAt(i),
      });
    }
  }

  const replicas = raw['replicas'] ?? 0;
  let unsafeAt: number | undefined;
  for (const { parsed: fault, i } of [...valid].sort((a, b) => a.parsed.at - b.parsed.at || a.i - b.i)) {
    if (fault.action !== 'failover') continue;
    if (replicas === 0) {
      issues.push({ path: ['faults', i, 'action'], message: 'replicas: 1 with action failover (it promotes the replica of the embedded redis-server; replicas is 0)', input: fault.action });
    } else if (replicas === 1 && unsafeAt !== undefined) {
      issues.push({ path: ['faults', i, 'action'], message: `no failover after faults.${unsafeAt}, an unsafe failover (it kills the old primary: no replica is left)`, input: fault.action });
    }
    if (fault.mode === 'unsafe' && unsafeAt === undefined) unsafeAt = i;
  }
  return issues;
}

/** The run's planned length, when known before it runs: `duration`, or the sum of a ramp's stages (the shorter). */
function runEnd(raw: Record<string, unknown>): { ms: number; what: string } | undefined {
  const duration = typeof raw['duration'] === 'string' ? parseDurationMs(raw['duration']) : undefined;
  const load = raw['load'];
  let ramp: number | undefined;
  if (typeof load === 'object' && load !== null && (load as Record<string, unknown>)['model'] === 'ramping-rate') {
    const stages = (load as Record<string, unknown>)['stages'];
    if (Array.isArray(stages)) {
      const lengths = stages.map((s) => (typeof s === 'object' && s !== null && typeof (s as Record<string, unknown>)['duration'] === 'string' ? parseDurationMs((s as Record<string, string>)['duration']!) : undefined));
      if (lengths.every((l) => l !== undefined && l > 0)) ramp = (lengths as number[]).reduce((a, b) => a + b, 0);
    }
  }
  if (duration !== undefined && duration > 0 && (ramp === undefined || duration <= ramp)) return { ms: duration, what: `duration ${formatMs(duration)}` };
  if (ramp !== undefined) return { ms: ramp, what: `the ramp's stages last ${formatMs(ramp)}` };
  return undefined;
}

/**
 * Faults the target cannot take, known before it is opened: kill, pause and failover need the
 * embedded redis-server (no `--redis`), and so does `replicas: 1`. One line per problem, in the
 * scenario's `file: path: expected …, got …` form (`shown`: the scenario file as the user named
 * it). `redis` is the run's --redis (a URL, `docker`, `cluster`) or undefined for the embedded
 * server; a URL is never quoted (it may hold a password).
 */
export function checkFaultsTarget(
  scenario: { readonly file: string; readonly faults: readonly Fault[]; readonly replicas: 0 | 1 },
  redis: string | undefined,
  shown: string = scenario.file,
): string[] {
  if (redis === undefined) return [];
  const target = redis === 'docker'
    ? '--redis docker (a container: sellout does not signal its server)'
    : redis === 'cluster'
      ? '--redis cluster (faults that signal a server are not available on the embedded cluster)'
      : 'a Redis URL (--redis, SELLOUT_REDIS_URL or REDIS_URL: a server sellout did not start)';
  const problems: string[] = [];
  scenario.faults.forEach((fault, i) => {
    const why = EMBEDDED_ONLY[fault.action];
    if (why === undefined) return;
    problems.push(`${shown}: faults.${i}: expected a fault this target can take (${fault.action} needs the embedded redis-server, the default without --redis: ${why}), got ${fault.action} at ${formatMs(fault.at)} with ${target}`);
  });
  if (scenario.replicas === 1) {
    problems.push(`${shown}: replicas: expected 0 with this target (replicas: 1 starts a replica of the embedded redis-server, the default without --redis), got 1 with ${target}`);
  }
  return problems;
}
