/**
 * The scenario schema: one zod object per section, strict (unknown keys are rejected, since a typo
 * silently ignored is a test that did not test what you think), defaults applied here and only here.
 * Error text is written as "expected …" so that `load.ts` can print `file: path: expected …, got …`.
 */
import { z } from 'zod';
import { parseDurationMs } from '../duration.js';
import { DEFAULT_KEY_TEMPLATES } from '../keys.js';
import { MAX_EMBEDDED_SHARDS } from '../redis/local-cluster.js';
import { parseThresholds } from '../thresholds/parse.js';
import { faultsSchema, persistenceSchema, replicasSchema } from './faults.js';
import { validateLoadModel } from './load-models/index.js';
import { httpSchema } from './http.js';

const MAX_STOCK = 99_999_999_999_999; // 14 digits: the widest integer lua/deduct.lua handles exactly
const MAX_QUANTITY = 0xffffffff; // per-request records keep quantities in a Uint32Array

export const SCRIPT_REQUIRED = 'the Lua script this scenario tests (a path relative to this file, or builtin:deduct)';
const SCRIPT_SHAPE = 'a path to a Lua script (relative to this file) or builtin:deduct';

const positiveInt = (what = 'a positive integer') =>
  z.number({ error: what }).int({ error: what }).min(1, { error: what });

const duration = z
  .string({ error: 'a duration with a unit, like "30s" or "500ms"' })
  .transform((text, ctx) => {
    const ms = parseDurationMs(text);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: 'a duration with a unit, like "30s" or "500ms"', input: text });
      return z.NEVER;
    }
    return ms;
  });

const selectionObject = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('uniform') }),
    z.strictObject({
      type: z.literal('zipf'),
      exponent: z.number({ error: 'a number > 0' }).gt(0, { error: 'a number > 0' }).default(1),
    }),
    z.strictObject({
      type: z.literal('hot'),
      share: z
        .number({ error: 'a share between 0 and 1' })
        .min(0, { error: 'a share between 0 and 1' })
        .max(1, { error: 'a share between 0 and 1' })
        .default(0.9),
    }),
  ],
  { error: 'one of uniform, zipf, hot (or {type: zipf, exponent: 1.1} / {type: hot, share: 0.9})' },
);

// `selection: zipf` is shorthand for `selection: {type: zipf}` with that type's defaults.
const selection = z.preprocess(
  (value) => (typeof value === 'string' ? { type: value } : value),
  selectionObject,
);

const QUANTITY_SHAPE = 'a positive integer or weights by quantity, like {1: 0.9, 2: 0.1}';

// Validated by hand rather than with z.union, so a mistake is reported at the exact entry
// (`quantity.two: expected …`) instead of as "matches no alternative".
const quantity = z.unknown().transform((value, ctx): QuantityWeights => {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_QUANTITY) return [{ quantity: value, weight: 1 }];
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.keys(value).length === 0) {
    ctx.addIssue({ code: 'custom', message: QUANTITY_SHAPE, input: value });
    return z.NEVER;
  }
  const weights: QuantityWeights = [];
  for (const [key, weight] of Object.entries(value)) {
    if (!/^[1-9]\d*$/.test(key) || Number(key) > MAX_QUANTITY) {
      ctx.addIssue({ code: 'custom', path: [key], message: `a quantity that is a positive integer up to ${MAX_QUANTITY}`, input: key });
    } else if (typeof weight !== 'number' || !(weight > 0) || !Number.isFinite(weight)) {
      ctx.addIssue({ code: 'custom', path: [key], message: 'a weight > 0', input: weight });
    } else {
      weights.push({ quantity: Number(key), weight });
    }
  }
  return weights.sort((a, b) => a.quantity - b.quantity);
});

export const LOAD_MODELS = ['closed', 'constant-rate', 'ramping-rate'] as const;
/** cross-agent: the twin goes out from another agent of a distributed run (sellout run --agents N, sellout agent). */
export const DUPLICATE_PATTERNS = ['sequential', 'concurrent', 'delayed', 'cross-worker', 'cross-agent'] as const;

const rate = (what: string) => z.number({ error: what }).min(0, { error: what }).max(10_000_000, { error: `${what} (at most 10000000)` });

const load = z.strictObject({
  model: z.enum(LOAD_MODELS, { error: `one of ${LOAD_MODELS.join(', ')}` }).default('closed'),
  connections: positiveInt().max(10_000, { error: 'at most 10000 connections' }).default(10),
  inFlight: positiveInt().max(10_000, { error: 'at most 10000 in flight per connection' }).default(1),
  workers: positiveInt().max(256, { error: 'at most 256 workers' }).optional(),
  // Open models (constant-rate, ramping-rate); each model checks which of these it takes.
  rate: rate('a rate in requests per second > 0').gt(0, { error: 'a rate in requests per second > 0' }).optional(),
  startRate: rate('a rate in requests per second >= 0').optional(),
  stages: z
    .array(z.strictObject({ duration, target: rate('a target rate in requests per second >= 0') }), {
      error: 'a list of stages like [{duration: "10s", target: 1000}]',
    })
    .min(1, { error: 'a list of at least one stage like [{duration: "10s", target: 1000}]' })
    .optional(),
  maxInFlight: positiveInt().max(1_000_000, { error: 'at most 1000000 in flight' }).optional(),
});

const duplicates = z.strictObject({
  ratio: z
    .number({ error: 'a ratio between 0 and 1' })
    .min(0, { error: 'a ratio between 0 and 1' })
    .max(1, { error: 'a ratio between 0 and 1' })
    .default(0),
  pattern: z.enum(DUPLICATE_PATTERNS, { error: `one of ${DUPLICATE_PATTERNS.join(', ')}` }).default('sequential'),
  /** pattern delayed: milliseconds from the original's send to its twin's. */
  delayMs: positiveInt('a delay in milliseconds (positive integer)').optional(),
});

const TEMPLATE_SHAPE = 'a key template with <sku> in it, like "shop:{<sku>}:stock" (<run> is the run ID)';

// A key template: `<sku>` is required (every SKU needs keys of its own); `<run>` and `<sku>` are
// the only placeholders, so a typo like `<sk>` is caught here rather than written into key names.
const keyTemplate = z
  .string({ error: TEMPLATE_SHAPE })
  .superRefine((template, ctx) => {
    const unknown = [...template.matchAll(/<[^<>]*>/g)].map((m) => m[0]).filter((p) => p !== '<run>' && p !== '<sku>');
    if (unknown.length > 0) {
      ctx.addIssue({ code: 'custom', message: `only the placeholders <run> and <sku>, not ${[...new Set(unknown)].join(', ')}`, input: template });
    } else if (!template.includes('<sku>')) {
      ctx.addIssue({ code: 'custom', message: TEMPLATE_SHAPE, input: template });
    }
  });

const keys = z
  .strictObject({
    stock: keyTemplate.default(DEFAULT_KEY_TEMPLATES.stock),
    journal: keyTemplate.default(DEFAULT_KEY_TEMPLATES.journal),
  })
  .superRefine((k, ctx) => {
    if (k.stock === k.journal) {
      ctx.addIssue({ code: 'custom', path: ['journal'], message: 'a template other than keys.stock (the stock and the journal are two keys)', input: k.journal });
    }
  });

// Kept as written (so the scenario as run shows it verbatim); src/thresholds/parse.ts checks each
// condition here so a bad one stops the run before any load, and parses it again after the run.
const thresholds = z
  .record(z.string(), z.unknown(), { error: 'a mapping of metric to condition, like {"latency.ok.p99": "< 5ms"}' })
  .superRefine((raw, ctx) => {
    for (const problem of parseThresholds(raw).problems) {
      ctx.addIssue({ code: 'custom', path: problem.path.slice(1), message: problem.expected, input: problem.got });
    }
  });

export const scenarioSchema = z
  .strictObject({
    name: z
      .string({ error: 'a name of letters, digits, ".", "_" or "-"' })
      .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'a name of letters, digits, ".", "_" or "-" (1-64 characters)' }),
    description: z.string({ error: 'a string' }).optional(),
    // Required: a scenario that does not name its script would otherwise test one nobody chose (load.ts
    // resolves a relative path from the scenario file's directory only; builtin:deduct names sellout's).
    script: z
      .string({ error: (issue) => (issue.input === undefined ? SCRIPT_REQUIRED : SCRIPT_SHAPE) })
      .min(1, { error: SCRIPT_SHAPE }),
    skus: z.strictObject({
      count: positiveInt().max(1_000_000, { error: 'at most 1000000 SKUs' }).default(1),
      stock: z
        .number({ error: 'an integer stock >= 0' })
        .int({ error: 'an integer stock >= 0' })
        .min(0, { error: 'an integer stock >= 0' })
        .max(MAX_STOCK, { error: `a stock of at most ${MAX_STOCK}` }),
      selection: selection.default({ type: 'uniform' }),
    }),
    quantity: quantity.default([{ quantity: 1, weight: 1 }]),
    requests: positiveInt().max(100_000_000, { error: 'at most 100000000 requests' }).optional(),
    duration: duration.optional(),
    load: load.default({ model: 'closed', connections: 10, inFlight: 1 }),
    duplicates: duplicates.default({ ratio: 0, pattern: 'sequential' }),
    seed: z.number({ error: 'an integer seed' }).int({ error: 'an integer seed' }).min(0, { error: 'an integer seed >= 0' }).default(1),
    timeoutMs: positiveInt('a timeout in milliseconds (positive integer)').default(5000),
    // sellout keeps a compact record of every request to verify the run (tens of bytes each): a
    // `duration` run stops sending once it has made this many requests, so it cannot exhaust memory.
    maxRecords: positiveInt('a positive integer number of requests').max(100_000_000, { error: 'at most 100000000 requests' }).default(10_000_000),
    thresholds: thresholds.optional(),
    /** How a SKU's two keys are named (DESIGN.md §10): templates with <run> and <sku>. */
    keys: keys.default(DEFAULT_KEY_TEMPLATES),
    /** In a cluster, refuse before writing anything when a SKU's two keys fall in different slots (CROSSSLOT). */
    preflight: z.boolean({ error: 'true or false' }).default(true),
    /** The embedded cluster of `--redis cluster` (refused with a standalone server). */
    cluster: z
      .strictObject({
        shards: positiveInt(`a number of shards from 1 to ${MAX_EMBEDDED_SHARDS}`).max(MAX_EMBEDDED_SHARDS, { error: `a number of shards from 1 to ${MAX_EMBEDDED_SHARDS}` }).default(3),
      })
      .optional(),
    /** How the embedded server persists (src/redis/embedded.ts); with --redis, what the server is declared to do. */
    persistence: persistenceSchema.default('none'),
    /** 1: the embedded server gets a replica (failover faults). */
    replicas: replicasSchema.default(0),
    /** Timed faults during the load (src/scenario/faults.ts; cross-checks in faultScheduleIssues, run by load.ts). */
    faults: faultsSchema.default([]),
    /** HTTP mode: each deduction is a request to the sale service (src/scenario/http.ts). */
    http: httpSchema.optional(),
  })
  .superRefine((s, ctx) => {
    // Runs only once every field is valid (zod skips object refinements otherwise); the
    // requests/duration choice is checked in load.ts so that it is reported with everything else.
    for (const issue of validateLoadModel(s.load)) ctx.addIssue({ code: 'custom', ...issue });
    checkDuplicates(s, ctx);
    if (s.requests !== undefined && s.requests > s.maxRecords) {
      ctx.addIssue({ code: 'custom', path: ['requests'], message: `at most maxRecords (${s.maxRecords}) requests: every request is recorded to verify the run (raise maxRecords if the machine has the memory)`, input: s.requests });
    }
  });

type Parsed = {
  load: { connections: number; workers?: number | undefined };
  duplicates: { pattern: (typeof DUPLICATE_PATTERNS)[number]; delayMs?: number | undefined; ratio: number };
};

function checkDuplicates(s: Parsed, ctx: z.RefinementCtx): void {
  const { pattern, delayMs } = s.duplicates;
  if (pattern === 'delayed' && delayMs === undefined) {
    ctx.addIssue({ code: 'custom', path: ['duplicates', 'delayMs'], message: 'a delay in milliseconds (required by pattern delayed)', input: undefined });
  }
  if (pattern !== 'delayed' && delayMs !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['duplicates', 'delayMs'], message: 'no delayMs unless pattern is delayed', input: delayMs });
  }
  if (pattern === 'cross-worker') {
    // The twin must go through another worker (and so another connection) than its original.
    if (s.load.workers !== undefined && s.load.workers < 2) {
      ctx.addIssue({ code: 'custom', path: ['load', 'workers'], message: 'at least 2 workers with duplicates pattern cross-worker', input: s.load.workers });
    }
    if (s.load.connections < 2) {
      ctx.addIssue({ code: 'custom', path: ['load', 'connections'], message: 'at least 2 connections with duplicates pattern cross-worker', input: s.load.connections });
    }
  }
  if (s.load.workers !== undefined && s.load.workers > s.load.connections) {
    ctx.addIssue({ code: 'custom', path: ['load', 'workers'], message: `at most load.connections (${s.load.connections}) workers: each worker owns at least one connection`, input: s.load.workers });
  }
}

export type QuantityWeights = { quantity: number; weight: number }[];
export type ScenarioInput = z.input<typeof scenarioSchema>;
export type ScenarioConfig = z.output<typeof scenarioSchema>;
export type SkuSelection = ScenarioConfig['skus']['selection'];
