/**
 * summary.json, version 1 (documented in docs/summary.md): ONE zod schema for the whole file, and
 * the TypeScript types inferred from it. The engine, the verifier, thresholds, compare and the
 * reporters import these types; this module imports none of them. Latencies are microseconds.
 *
 * The schema is what `compare` and `report` check a file against (src/cli/read-summary.ts), so it
 * is written for readers too:
 * - objects accept keys they do not know (dropped when parsed): a newer sellout may add fields
 *   within version 1;
 * - a field added after version 1 first shipped is optional, so older summaries still load;
 * - enums list only what a reader must tell apart (statuses); names a newer sellout may extend
 *   (load model, refusal codes) are plain strings.
 * Error texts are written as the expectation ("a number") for the one-line message naming the field.
 */
import { z } from 'zod';
import { OUTCOMES, type Outcome } from '../outcomes.js';
import { coverageSchema } from './coverage.js';

export const SUMMARY_VERSION = 1;

const num = z.number({ error: 'a number' });
const count = z.number({ error: 'a count' }).int({ error: 'a count' }).min(0, { error: 'a count' });
const text = z.string({ error: 'a string' });
const list = <T extends z.ZodType>(item: T, what: string) => z.array(item, { error: what });
const flag = z.boolean({ error: 'true or false' });

/** One value per outcome (every outcome present). */
function byOutcome<T extends z.ZodType>(value: T, what: string) {
  return z.object(Object.fromEntries(OUTCOMES.map((o) => [o, value])) as Record<Outcome, T>, { error: `a mapping of outcome to ${what}` });
}
/** One value per outcome that occurred (the others are absent). */
function byOutcomeSeen<T extends z.ZodType>(value: T, what: string) {
  return z.object(Object.fromEntries(OUTCOMES.map((o) => [o, value.optional()])) as Record<Outcome, z.ZodOptional<T>>, { error: `a mapping of outcome to ${what}` });
}

export const RUN_STATUSES = ['pass', 'fail', 'interrupted', 'crashed', 'incomplete'] as const;
export const runStatusSchema = z.enum(RUN_STATUSES, { error: 'one of pass, fail, interrupted, crashed, incomplete' });
export type RunStatus = z.infer<typeof runStatusSchema>;

/** Latency of one outcome, microseconds (metrics/histogram.ts computes it). */
export const latencyPercentilesSchema = z.object({ count, p50: num, p90: num, p99: num, p999: num, max: num, mean: num }, { error: 'a mapping of percentiles' });
export type LatencyPercentiles = z.infer<typeof latencyPercentilesSchema>;
const latencySchema = byOutcome(latencyPercentilesSchema.nullable(), 'percentiles');

export const INVARIANT_STATUSES = ['pass', 'fail', 'skipped'] as const;
export type InvariantStatus = (typeof INVARIANT_STATUSES)[number];

/** One invariant check's result (src/verify/ computes them). */
export const invariantResultSchema = z.object({
  name: text,
  status: z.enum(INVARIANT_STATUSES, { error: 'one of pass, fail, skipped' }),
  description: text,
  expected: text,
  actual: text,
  /** How many offending requests, entries or SKUs were found (examples holds at most MAX_EXAMPLES). */
  violations: count.optional(),
  /** Up to MAX_EXAMPLES offending request IDs or SKUs, each a sentence. */
  examples: list(text, 'a list of strings'),
  /** Why a check was skipped. */
  reason: text.optional(),
  /**
   * Jepsen's "recovered": requests whose outcome was unknown (timeout, connection lost) but whose
   * ID is in the journal, so they did happen. Informational, never a failure.
   */
  recovered: z.object({ count, ids: list(text, 'a list of strings') }).optional(),
});
export type InvariantResult = z.infer<typeof invariantResultSchema>;

export const THRESHOLD_UNITS = ['us', 'per_s', 'count', 'share'] as const;
/** What a threshold's numbers are in: microseconds, per second, a count, or a fraction 0..1 of the requests. */
export type ThresholdUnit = (typeof THRESHOLD_UNITS)[number];
export type ThresholdStatus = InvariantStatus;

/** One threshold's verdict (src/thresholds/evaluate.ts computes them). Numbers are in `unit`. */
export const thresholdResultSchema = z.object({
  /** e.g. `latency.ok.p99`. */
  name: text,
  /** e.g. `< 5ms`. */
  condition: text,
  status: z.enum(INVARIANT_STATUSES, { error: 'one of pass, fail, skipped' }),
  unit: z.enum(THRESHOLD_UNITS, { error: `one of ${THRESHOLD_UNITS.join(', ')}` }),
  /** The measured value; null when the run did not measure it (see `reason`). */
  actual: num.nullable(),
  /** The limit, with `F*target` resolved; null when it could not be resolved. */
  limit: num.nullable(),
  /** Headroom (>= 0 passes) or shortfall (< 0 fails), in `unit`; null when not evaluated. */
  margin: num.nullable(),
  /** One line for people: actual, limit and margin. */
  text,
  reason: text.optional(),
  /** Not in the scenario: a threshold every run has unless the scenario sets that metric. */
  default: flag.optional(),
});
export type ThresholdResult = z.infer<typeof thresholdResultSchema>;

export const TARGET_KINDS = ['embedded', 'url', 'docker'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

/** What the server said it is, and how sellout reached it (src/redis/ fills it). */
export const targetInfoSchema = z.object({
  redisVersion: text,
  mode: text,
  /** The URL with any password replaced by `***`. */
  url: text,
  kind: z.enum(TARGET_KINDS, { error: `one of ${TARGET_KINDS.join(', ')}` }),
});
export type TargetInfo = z.infer<typeof targetInfoSchema>;

/** The scenario's `persistence` modes (src/redis/embedded.ts says what each starts the embedded server with). */
export const PERSISTENCE_MODES = ['none', 'rdb', 'aof-everysec', 'aof-always'] as const;

/**
 * The persistence the scenario declared, and what the server said it runs with (CONFIG GET, best
 * effort: absent where CONFIG is refused or renamed). For the embedded server sellout started it so.
 */
export const persistenceInfoSchema = z.object({
  declared: z.enum(PERSISTENCE_MODES, { error: `one of ${PERSISTENCE_MODES.join(', ')}` }),
  found: z.object({ appendonly: text, appendfsync: text, save: text }).optional(),
});
export type PersistenceInfo = z.infer<typeof persistenceInfoSchema>;

/** Which side limited the run, from the busiest primary's CPU over the load (metrics/bottleneck.ts). */
export const serverSummarySchema = z.object({
  /** `host:port` of the busiest primary. */
  node: text,
  /** Its CPU seconds per wall second over the load (1 = one core: Redis's command thread saturated). */
  cpu: num,
  /** Microseconds per EVALSHA it spent; null when INFO commandstats was refused or no EVALSHA ran. */
  usecPerCall: num.nullable(),
  /** `server`: it was at least 90% busy; `schedule`: an open model held its target rate with the server below that; `client`: neither (the load generator or the network). */
  limit: z.enum(['server', 'schedule', 'client'], { error: 'one of server, schedule, client' }),
  /** The same in one sentence (console, report.html). */
  says: text,
});
export type ServerSummary = z.infer<typeof serverSummarySchema>;

/** HTTP mode: the sale service the load went to (src/http-mode.ts). */
export const httpSummarySchema = z.object({
  /** The service's URL (a password in it as `***`). */
  url: text,
  /** true: sellout's reference service, started for the run on its Redis. */
  reference: z.boolean({ error: 'true or false' }),
  /** Where a 200's JSON body carries the new stock; null: not read (no-lost-ack does not check the replied stock). */
  stockField: text.nullable(),
  /** ok replies whose body had no such field: counted, their stock not checked. */
  stockFieldMissing: count,
});
export type HttpSummary = z.infer<typeof httpSummarySchema>;

/** One distinct error reply and how many deductions got it (the load engine counts them). */
export const errorReplyCountSchema = z.object({
  reply: text,
  count,
  /** Set when the reply is the server refusing the command (OOM, NOPERM, BUSY, …). */
  refusal: text.optional(),
});
export type ErrorReplyCount = z.infer<typeof errorReplyCountSchema>;

const nullableNums = list(num.nullable(), 'a list of numbers or nulls');
/**
 * Per-interval series (the engine fills it): replies and latency per outcome, and stock sampled
 * from Redis at each interval's end. Arrays are aligned with `t`. Counts are per interval: a rate
 * per second divides by the interval's length (`intervalMs`, the last one `lastIntervalMs`).
 */
export const seriesSchema = z.object({
  /** The run's interval, chosen from its expected length: 100 ms to 1 min (src/metrics/interval.ts). */
  intervalMs: num,
  /** Real length of the last interval (the run ended inside it), ms; absent in files written before it existed: `intervalMs`. */
  lastIntervalMs: num.optional(),
  /** Start of each interval, milliseconds since the run's t0. */
  t: list(num, 'a list of numbers'),
  replies: byOutcomeSeen(list(num, 'a list of numbers'), 'counts per interval'),
  /** Latency percentiles per interval, microseconds; null for an interval without that outcome. */
  p50: byOutcomeSeen(nullableNums, 'values per interval'),
  p99: byOutcomeSeen(nullableNums, 'values per interval'),
  max: byOutcomeSeen(nullableNums, 'values per interval'),
  /** Stock per SKU at each interval's end (at most the 10 busiest SKUs). */
  stock: list(z.object({ sku: count, values: nullableNums }), 'a list of SKU series'),
  /** Replies per interval of each shard (all outcomes), aligned with `shards`; only with more than one shard. */
  shardReplies: list(list(num, 'a list of numbers'), 'a list of per-shard series').optional(),
  /** Open models: sends the schedule had due in each interval (per second: the target rate), capped at the run's `requests`. */
  scheduled: list(num, 'a list of numbers').optional(),
  /** Open models: sends dropped in each interval (max in flight reached), summing to `dropped`. */
  dropped: list(num, 'a list of numbers').optional(),
  /** SKUs sold out by each interval's end (the sell-out timeline); absent in summaries written before it existed. */
  soldOut: list(num, 'a list of numbers').optional(),
});
export type SeriesV1 = z.infer<typeof seriesSchema>;

/** One SKU of summary.json's bounded `skus` list (skus.csv has every SKU). */
export const skuSummarySchema = z.object({
  sku: count,
  initial: num,
  /** Final stock as stored: a number when it is an integer string, else the raw text (or null when missing). */
  final: z.union([num, text, z.null()], { error: 'a number, a string or null' }),
  journal: count,
  /** Violations the invariants found at this SKU (absent when none were found, or nothing was checked). */
  violations: count.optional(),
  /** What the load saw at the SKU (absent in summaries written before these existed): requests sent (twins included) and ok replies. */
  requests: count.optional(),
  ok: count.optional(),
  /** When it sold out, ms since t0: the ok reply that left 0, else its first sold_out reply; null when it never did. */
  soldOutMs: num.nullable().optional(),
  /** p99 of its ok replies from the write to the reply, microseconds; null when it had none. */
  okP99Us: num.nullable().optional(),
});
export type SkuSummary = z.infer<typeof skuSummarySchema>;

/** The load's view of the SKUs, bounded at any SKU count (summary/skus.ts skuRanksOf); every SKU is in skus.csv. */
export const skuRanksSchema = z.object({
  /** SKUs that sold out during the run (by the load's replies). */
  soldOut: count,
  firstSoldOutMs: num.nullable(),
  lastSoldOutMs: num.nullable(),
  /** The first SKUs to sell out (at most 10), earliest first. */
  firstSoldOut: list(skuSummarySchema, 'a list of SKUs'),
  /** The SKUs with the highest ok p99 (at most 10), slowest first. */
  slowest: list(skuSummarySchema, 'a list of SKUs'),
});
export type SkuRanks = z.infer<typeof skuRanksSchema>;

/** Every SKU of the run summed up, so `skus` can stay short at any SKU count (summary/skus.ts). */
export const skuTotalsSchema = z.object({
  /** SKUs in the run (rows of skus.csv). */
  count,
  /** How many of them `skus` lists: all of them up to MAX_LISTED_SKUS, else that many. */
  listed: count,
  /** Sums over every SKU: initial stock, final stock (of the SKUs whose final stock is an integer), journal entries. */
  initial: num,
  final: num,
  journal: count,
  /** Units that left the stock, over the SKUs whose final stock is an integer (initial - final of each). */
  sold: num,
  /** SKUs whose final stock is exactly 0. */
  soldOut: count,
  /** SKUs whose final stock is missing or not an integer (left out of `final`). */
  unreadable: count,
  /** SKUs at which an invariant found a violation. */
  failing: count,
});
export type SkuTotals = z.infer<typeof skuTotalsSchema>;

/**
 * One shard's figures (metrics/shards.ts computes them; a standalone server is one shard owning
 * every slot). Latencies are microseconds, like `latency`.
 */
export const shardFiguresSchema = z.object({
  /** `host:port` of the primary. */
  node: text,
  /** How many of the 16384 hash slots the shard owns. */
  slots: count,
  /** How many of the run's SKUs it owns (a SKU's two keys share one slot). */
  skus: count,
  /** Requests sent to its SKUs that got a reply or an unknown outcome (twins included). */
  requests: count,
  outcomes: byOutcome(count, 'count'),
  /** Requests per second over the run's durationMs. */
  throughput: num,
  /** Latency of its ok replies (null when it had none). */
  latency: z.object({ ok: z.object({ p50: num, p99: num, p999: num }, { error: 'a mapping of percentiles' }).nullable() }, { error: 'a mapping of outcome to percentiles' }),
  /** Cores the server used over the load: CPU seconds (user + sys) over wall seconds; null when INFO was refused. */
  serverCpu: num.nullable(),
  /** Microseconds per EVALSHA the server spent (INFO commandstats delta); null when INFO was refused or no EVALSHA ran. */
  usecPerCall: num.nullable(),
});
export type ShardFigures = z.infer<typeof shardFiguresSchema>;

/** Cluster redirections the load connections followed (the hot path counts them). */
export const redirectsSchema = z.object({ moved: count, ask: count, tryagain: count }, { error: 'a mapping of moved, ask and tryagain to counts' });
export type RedirectsV1 = z.infer<typeof redirectsSchema>;

/**
 * What one timed fault of the scenario did (metrics/faults.ts computes it from the runner's fault
 * events and the per-request records). Times are milliseconds since the run's t0, latencies
 * microseconds.
 */
export const faultSchema = z.object({
  /** The fault's position in the scenario's `faults` list (0-based). */
  index: count,
  /** kill, pause, client-pause, script-flush, client-kill, failover (a plain string: a newer sellout may add actions). */
  action: text,
  /** When the scenario planned it. */
  at: num,
  /** When its action began, and when it ended (restart done, SIGCONT sent, pause over; = startedMs for an instant fault). */
  startedMs: num,
  endedMs: num,
  /**
   * From the fault's start to the first ok reply of a request sent at or after its end (the run's
   * end when none came): errors and unknown outcomes whose reply time falls inside are the fault's.
   */
  window: z.object({ fromMs: num, toMs: num }, { error: 'a mapping of fromMs and toMs' }),
  effect: z.object({
    /** Requests whose reply (or unknown outcome) time falls in the window, twins included. */
    requests: count,
    errors: count,
    unknown: count,
    /** The largest latency of a request answered in the window (unknown outcomes excluded); null when none was. */
    latencyPeakUs: num.nullable(),
    /** From `endedMs` to the first ok after it (the window's end); null when no ok came. */
    recoveryMs: num.nullable(),
  }, { error: 'a mapping of requests, errors, unknown, latencyPeakUs and recoveryMs' }),
  /** What the runner said it did, e.g. `restarted after 500 ms`, `failover safe: new primary 127.0.0.1:6400`. */
  detail: text.optional(),
  /** Why the fault did not do all it should (a restart that failed, a failover refused). */
  failed: text.optional(),
});
export type FaultV1 = z.infer<typeof faultSchema>;

/** Error and unknown outcomes outside every fault window (each request counted once). */
export const outcomesOutsideFaultsSchema = z.object({ error: count, unknown: count }, { error: 'a mapping of error and unknown to counts' });
export type OutcomesOutsideFaultsV1 = z.infer<typeof outcomesOutsideFaultsSchema>;

/** After a crash (a kill, an unsafe failover): what was lost and sold twice (invariant 11, durability). */
export const durabilitySchema = z.object({
  persistence: z.enum([...PERSISTENCE_MODES, 'unknown'], { error: `one of ${PERSISTENCE_MODES.join(', ')}, unknown` }),
  /** Crashes injected. */
  crashes: count,
  /** Acknowledged (ok) before a crash and missing from the journal after it. */
  lost: z.object({ requests: count, units: count }),
  /** Units acknowledged beyond the initial stock, over all SKUs. */
  soldTwice: count,
  /** SKUs whose stock and journal keys were both gone afterwards. */
  skusGone: count,
});
export type DurabilityV1 = z.infer<typeof durabilitySchema>;

/** Where the run ran, for reports (filled by the CLI). */
export const environmentSchema = z.object({
  /** Git commit of the sellout checkout that ran, or null outside a git checkout. */
  commit: text.nullable(),
  os: text,
  arch: text,
  cpuModel: text,
  cores: num,
  memoryMb: num,
});
export type EnvironmentV1 = z.infer<typeof environmentSchema>;

/** The overall verdict (invariants, thresholds, interruption) and the exit code it gives (summary/verdict.ts). */
/**
 * One load agent of a distributed run (sellout prepare / agent / collect): its plan segment, the
 * machine it ran on, what it sent, and its clock's offset to Redis TIME (its t0 is Redis's t0
 * moved by it) with the uncertainty of that measurement (half the tightest round trip).
 */
export const agentSummarySchema = z.object({
  segment: count,
  host: text,
  /** Requests it sent (twins included); 0 for a lost agent, whose requests were not measured. */
  requests: count,
  /** Its clock minus Redis's (TIME), microseconds: its times were moved by this onto Redis's clock. */
  clockOffsetUs: num,
  clockUncertaintyUs: num.optional(),
  /** The size of its result bundle as stored in Redis (about 17 bytes a request). */
  bundleBytes: count.optional(),
  /** `lost`: it never stored its bundle (died, never started, or stored one that cannot be read). */
  status: z.enum(['ok', 'lost'], { error: 'ok or lost' }).optional(),
});
export type AgentSummary = z.infer<typeof agentSummarySchema>;

export const verdictSchema = z.object({
  status: runStatusSchema,
  exitCode: count,
  /** One line per failed invariant or threshold (or why the run was interrupted). */
  reasons: list(text, 'a list of strings'),
});
export type VerdictV1 = z.infer<typeof verdictSchema>;

export const summarySchema = z.object({
  version: z.literal(SUMMARY_VERSION, { error: `${SUMMARY_VERSION}` }),
  sellout: z.object({ version: text, node: text }),
  run: z.object({
    id: text,
    startedAt: text,
    finishedAt: text,
    /** The run's keys are still in Redis: --keep, or a cleanup that failed (then `keysLeft` says how many). */
    keysKept: flag,
    keysLeft: z.object({ pattern: text, count: num, reason: text }).optional(),
    /** --keep: the run's keys left in Redis on purpose (count -1 when Redis could not be read back). */
    kept: z.object({ pattern: text, count: num }).optional(),
  }),
  scenario: z.object({ name: text, description: text.optional(), file: text, script: text, scriptSha: text, asRun: text }),
  status: runStatusSchema,
  /** Requests that got a reply or an unknown outcome (twins included). */
  requests: count,
  /** Requests the scenario asked for (null for duration scenarios). */
  planned: count.nullable(),
  durationMs: num,
  /** Replies per second over durationMs. */
  throughput: num,
  outcomes: byOutcome(count, 'count'),
  /** Per outcome, microseconds; null when the outcome never occurred. */
  latency: latencySchema,
  load: z.object({ model: text, connections: count, inFlight: count, workers: count }),
  /** Open models: sends that could not start because max in-flight was reached. */
  dropped: count.optional(),
  /** Open models: achieved send rate (per second) and its target. */
  achievedRate: num.optional(),
  targetRate: num.optional(),
  /** Open models: latency from the actual send (latency.* is from the intended send). */
  latencyRaw: latencySchema.optional(),
  series: seriesSchema.optional(),
  invariants: list(invariantResultSchema, 'a list of invariant results'),
  /** Edge conditions the run exercised, and a warning for each it did not (summary/coverage.ts); absent when Redis could not be read back. */
  coverage: coverageSchema.optional(),
  /**
   * Set when the target, not the script, failed the run (Redis refused or lost the load, lost the
   * run's keys, or could not be read back): the run fails and exits 3, and what was measured is
   * still reported.
   */
  targetLost: text.optional(),
  /** Set when a load worker crashed (a bug in sellout): what the others measured, nothing verified, exit 70. */
  crashed: text.optional(),
  /** Distributed runs: why the run is incomplete (an agent lost: its segment named, its requests not measured). */
  incomplete: text.optional(),
  /** Distributed runs: one entry per plan segment, in segment order. */
  agents: list(agentSummarySchema, 'a list of agents').optional(),
  /** Distributed runs: pairs the real-time checks did not judge because the two agents' clocks could not order them (closer than their combined uncertainty). */
  clockSkippedPairs: count.optional(),
  /** Set when a duration run stopped at maxRecords before its planned end (the verdict still stands for what ran). */
  capped: text.optional(),
  /** Why load connections closed during the run (their requests in flight are `unknown` outcomes). */
  connectionErrors: list(text, 'a list of strings').optional(),
  /** Load connections reopened after a timeout or a close by the server. */
  reconnects: count.optional(),
  /** The distinct error replies deductions got (`error` outcomes), with counts, most frequent first. */
  errorReplies: list(errorReplyCountSchema, 'a list of error replies').optional(),
  /** The SKUs most worth a look, at most MAX_LISTED_SKUS (summary/skus.ts says which); every SKU is in skus.csv. */
  skus: list(skuSummarySchema, 'a list of SKUs'),
  /** Every SKU summed up; absent in summaries written when `skus` still listed every SKU. */
  skuTotals: skuTotalsSchema.optional(),
  /** The first SKUs to sell out and the slowest; absent when the load's records were not kept (and in older summaries). */
  skuRanks: skuRanksSchema.optional(),
  /** Per-shard figures, in slot order (one entry for a standalone server); absent in summaries written before they existed. */
  shards: list(shardFiguresSchema, 'a list of shards').optional(),
  /** HTTP mode: the sale service the load went to; absent in Redis mode. */
  http: httpSummarySchema.optional(),
  /** Which side limited the run (absent when the server refused INFO, and in older summaries). */
  server: serverSummarySchema.optional(),
  /** The busiest shard's share of the requests, 0..1 (1 for one shard). */
  hottestShardShare: num.optional(),
  /** One line per shard that took more than 1.5x its fair share of the requests, naming the SKUs responsible. */
  shardWarnings: list(text, 'a list of strings').optional(),
  /** MOVED / ASK / TRYAGAIN replies the load followed (a cluster whose slots moved during the run). */
  redirects: redirectsSchema.optional(),
  /** The scenario's timed faults, in the order they ran, each with its window and effect; absent when the scenario has none. */
  faults: list(faultSchema, 'a list of faults').optional(),
  /** Error and unknown outcomes outside every fault window; present with `faults`. The default `outcomes.error == 0` threshold counts these. */
  outcomesOutsideFaults: outcomesOutsideFaultsSchema.optional(),
  /** After a crash: acknowledged deductions lost, units sold twice (durability); absent without a crash. */
  durability: durabilitySchema.optional(),
  target: targetInfoSchema,
  /** The persistence declared and found on the target; absent in summaries written before faults existed. */
  persistence: persistenceInfoSchema.optional(),
  /** The scenario's thresholds, evaluated after the run (absent with --no-thresholds or none declared). */
  thresholds: list(thresholdResultSchema, 'a list of threshold results').optional(),
  /** Where the run ran, for reports (filled by the CLI). */
  environment: environmentSchema.optional(),
  /** The overall verdict and its exit code (absent only in summaries written before it existed). */
  verdict: verdictSchema.optional(),
});
export type SummaryV1 = z.infer<typeof summarySchema>;

/**
 * Error or unknown outcomes outside every fault window: summary.json's `outcomesOutsideFaults`, or
 * every one of them when the run had no fault (no window to be inside); null when a summary has
 * faults but not the counts (hand-edited).
 */
export function outsideFaults(summary: Pick<SummaryV1, 'outcomes' | 'faults' | 'outcomesOutsideFaults'>, outcome: 'error' | 'unknown'): number | null {
  if (summary.outcomesOutsideFaults !== undefined) return summary.outcomesOutsideFaults[outcome];
  return summary.faults === undefined || summary.faults.length === 0 ? summary.outcomes[outcome] : null;
}

export function statusOf(invariants: readonly InvariantResult[], interrupted: boolean, targetLost = false, crashed = false, incomplete = false): RunStatus {
  if (crashed) return 'crashed';
  if (interrupted) return 'interrupted';
  if (incomplete) return 'incomplete';
  return targetLost || invariants.some((i) => i.status === 'fail') ? 'fail' : 'pass';
}

export function latencyByOutcome(percentilesByCode: readonly LatencyPercentiles[]): Record<Outcome, LatencyPercentiles | null> {
  return Object.fromEntries(
    OUTCOMES.map((name, code) => {
      const p = percentilesByCode[code];
      return [name, p && p.count > 0 ? p : null];
    }),
  ) as Record<Outcome, LatencyPercentiles | null>;
}
