/**
 * Every knob of `npm run bench`, read from the environment once, checked, with its default. A bad
 * value is a one-line error before anything starts (a typo must not silently run the defaults).
 */
export class BenchUsageError extends Error {}

function readInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(value) || value < min) throw new BenchUsageError(`${name}: expected an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

const PARTS = ['throughput', 'cluster', 'http', 'whole', 'memory'] as const;
export type Part = (typeof PARTS)[number];

function readParts(): Set<Part> {
  const raw = process.env['BENCH_ONLY'];
  if (raw === undefined || raw.trim() === '') return new Set(PARTS);
  const parts = raw.split(',').map((p) => p.trim()).filter(Boolean);
  const unknown = parts.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length > 0 || parts.length === 0) throw new BenchUsageError(`BENCH_ONLY: expected a comma-separated list of ${PARTS.join(', ')}, got ${JSON.stringify(raw)}`);
  return new Set(parts as Part[]);
}

export interface Knobs {
  /** Interleaved rounds of every compared figure (the in-process arms and the whole-run children). */
  readonly rounds: number;
  /** Requests per 50x16 run (redis-benchmark, sellout, ioredis). */
  readonly requests: number;
  /** Requests per 1x1 run (redis-benchmark, sellout). */
  readonly requests1x1: number;
  /** Requests per run of the cluster part (sellout standalone, on 3 primaries, on 1; redis-benchmark --cluster). */
  readonly clusterRequests: number;
  /** The open loop: constant rate (per second) and how long. */
  readonly openRate: number;
  readonly openSeconds: number;
  /** `sellout run` children of targets 6 and 7: rounds (each a minute or so), requests, and SKUs of the many-SKU side. */
  readonly wholeRounds: number;
  readonly wholeRequests: number;
  readonly manySkus: number;
  /** Memory per request: the big and the small closed run, and how many rounds of the pair. */
  readonly memoryRequests: number;
  readonly memorySmall: number;
  readonly memoryRounds: number;
  /** The duration run for RSS growth per minute, seconds (0 skips it). */
  readonly durationSeconds: number;
  /** The http part: seconds per arm (sellout HTTP mode, the autocannon CLI, sellout Redis mode), each round. */
  readonly httpSeconds: number;
  /** Load workers of sellout's runs (default: sellout's own choice, half the cores). */
  readonly workers: number | undefined;
  readonly parts: Set<Part>;
}

export function readKnobs(): Knobs {
  const workers = readInt('BENCH_WORKERS', 0, 0);
  const rounds = readInt('BENCH_ROUNDS', 5, 1);
  const knobs: Knobs = {
    rounds,
    // A round of whole runs takes about a minute on 2 cores (the 100k-SKU run dominates): three
    // by default keeps `npm run bench` near ten minutes.
    wholeRounds: readInt('BENCH_WHOLE_ROUNDS', Math.min(rounds, 3), 1),
    requests: readInt('BENCH_REQUESTS', 400_000, 1000),
    requests1x1: readInt('BENCH_REQUESTS_1X1', 20_000, 1000),
    // Four runs a round, 3-5 s each on 2 cores (enough for two progress ticks, the steady figure):
    // about a minute and a half at 5 rounds.
    clusterRequests: readInt('BENCH_CLUSTER_REQUESTS', 600_000, 1000),
    openRate: readInt('BENCH_OPEN_RATE', 20_000, 1),
    openSeconds: readInt('BENCH_OPEN_SECONDS', 5, 2),
    wholeRequests: readInt('BENCH_WHOLE_REQUESTS', 300_000, 1000),
    manySkus: readInt('BENCH_SKUS', 100_000, 2),
    memoryRequests: readInt('BENCH_MEMORY_REQUESTS', 3_000_000, 2000),
    memorySmall: readInt('BENCH_MEMORY_SMALL', 100_000, 1000),
    memoryRounds: readInt('BENCH_MEMORY_ROUNDS', 1, 1),
    durationSeconds: readInt('BENCH_DURATION_S', 30, 0),
    // Three arms a round: 5 s each keeps the part near a minute at 3 rounds, a minute and a half at 5.
    httpSeconds: readInt('BENCH_HTTP_SECONDS', 5, 1),
    workers: workers === 0 ? undefined : workers,
    parts: readParts(),
  };
  if (knobs.memorySmall >= knobs.memoryRequests) {
    throw new BenchUsageError(`BENCH_MEMORY_SMALL (${knobs.memorySmall}) must be below BENCH_MEMORY_REQUESTS (${knobs.memoryRequests}): bytes per request is their RSS difference over their request difference`);
  }
  return knobs;
}

export const KNOB_HELP = [
  'BENCH_ROUNDS (5)            interleaved rounds of every compared figure; 3 for a quick run',
  'BENCH_REQUESTS (400000)     requests per 50x16 run (redis-benchmark, sellout, ioredis)',
  'BENCH_REQUESTS_1X1 (20000)  requests per 1x1 run',
  'BENCH_OPEN_RATE (20000), BENCH_OPEN_SECONDS (5)  the open loop',
  'BENCH_CLUSTER_REQUESTS (600000)  requests per run of the cluster part (sellout standalone, 3-primary, 1-primary; redis-benchmark --cluster)',
  'BENCH_HTTP_SECONDS (5)      seconds per arm of the http part (sellout HTTP mode, autocannon CLI, sellout Redis mode)',
  'BENCH_WHOLE_ROUNDS (min(BENCH_ROUNDS, 3)), BENCH_WHOLE_REQUESTS (300000), BENCH_SKUS (100000)  the whole `sellout run` children (targets 6, 7)',
  'BENCH_MEMORY_REQUESTS (3000000), BENCH_MEMORY_SMALL (100000), BENCH_MEMORY_ROUNDS (1)  memory per request',
  'BENCH_DURATION_S (30; 0 skips)  the duration run for RSS growth per minute',
  'BENCH_WORKERS (sellout default)  load workers of every sellout run',
  'BENCH_ONLY (throughput,cluster,http,whole,memory)  run only these parts',
].join('\n');
