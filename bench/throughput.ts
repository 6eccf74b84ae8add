/**
 * Targets 1-4 of the engine issue, measured in this process on the bench's one redis-server, in
 * interleaved rounds: each round runs, back to back,
 *   redis-benchmark 50x16 | sellout 50x16 | ioredis 50x16 | redis-benchmark 1x1 | sellout 1x1 | sellout open loop
 * so noise from other work on the machine hits every side alike, and every figure is reported as
 * the median of the rounds with its min–max (never a side's best round).
 *
 * Every run: FLUSHALL, SCRIPT LOAD lua/deduct.lua, one SKU whose stock never runs out, EVALSHA
 * with quantity 1 and a fresh request ID per request.
 *  - sellout: driveLoad (src/load/coordinator.ts, the engine's public entry), closed model with
 *    `connections` x `inFlight`, or constant-rate for the open loop. Client CPU: process.cpuUsage
 *    around driveLoad (all threads: the coordinator and the load workers, worker start included),
 *    per reply or over the wall time (cores).
 *  - redis-benchmark: -c 50 -P 16 / -c 1 -P 1, see lib/redis-benchmark.ts.
 *  - ioredis: 50 clients with enableAutoPipelining, 16 requests outstanding on each (a loop per
 *    slot that sends its next EVALSHA when the previous reply comes), latency recorded per request
 *    in the same HdrHistogram settings as sellout's; this is what a hand-written hot path must beat.
 *  - Server share of a core: the server's used_cpu_user+sys (INFO cpu) before and after, over the
 *    time the load ran (sellout: first send to last reply; redis-benchmark: requests / its rate;
 *    ioredis: the wall time of the loop).
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DEFAULT_KEY_TEMPLATES, journalKey, RunKeys, stockKey } from '../src/keys.js';
import { standaloneTopology } from '../src/redis/topology.js';
import { driveLoad } from '../src/load/coordinator.js';
import { initHistograms, newHistogram, percentiles, recordUs } from '../src/metrics/histogram.js';
import type { LatencyPercentiles } from '../src/summary/summary.js';
import { Code } from '../src/outcomes.js';
import { parseScenario } from '../src/scenario/load.js';
import type { Knobs } from './lib/knobs.js';
import { runRedisBenchmark, type ReferenceResult } from './lib/redis-benchmark.js';
import { runNodeFloor, type NodeFloorResult } from './lib/node-floor.js';
import { NEVER_SELLS_OUT, ROOT, SCRIPT_PATH, SCRIPT_SHA, SCRIPT_SOURCE, type BenchServer } from './lib/server.js';
import { fmt, median } from './lib/stats.js';
import { ratiosOf, type Row } from './lib/table.js';

const RUN_ID = 'bench';
const STOCK_KEY = stockKey(RUN_ID, 0);
const JOURNAL_KEY = journalKey(RUN_ID, 0);
/** The issue's open loop: connections of sellout's default scenario. */
const OPEN_CONNECTIONS = 10;

export interface ReferenceArm extends ReferenceResult {
  readonly serverCore: number;
}

export interface SelloutArm {
  readonly replies: number;
  readonly rps: number;
  readonly ok: LatencyPercentiles;
  /** Open loop: ok latency from the actual send (`ok` is from the intended send). */
  readonly okRaw?: LatencyPercentiles;
  /** process.cpuUsage around driveLoad, per reply (us) and over its wall time (cores). */
  readonly cpuUsPerReply: number;
  readonly cpuCores: number;
  /** Between the first and the last progress tick (about once a second): the steady state without worker start. */
  readonly steadyCores: number | undefined;
  readonly serverCore: number;
  readonly dropped: number;
  readonly achievedRate: number | undefined;
}

export interface IoredisArm {
  readonly rps: number;
  readonly ok: LatencyPercentiles;
  readonly cpuUsPerReply: number;
  readonly serverCore: number;
}

export interface ThroughputResults {
  readonly rb50: ReferenceArm[];
  readonly so50: SelloutArm[];
  readonly io50: IoredisArm[];
  readonly rb1: ReferenceArm[];
  readonly so1: SelloutArm[];
  /** The minimal Node client at 1x1 (lib/node-floor.ts). */
  readonly node1: NodeFloorResult[];
  readonly open: SelloutArm[];
}

async function seed(bench: BenchServer): Promise<void> {
  await bench.reset();
  await bench.admin.set(STOCK_KEY, String(NEVER_SELLS_OUT));
}

async function referenceArm(bench: BenchServer, connections: number, pipeline: number, requests: number): Promise<ReferenceArm> {
  await seed(bench);
  const cpu0 = await bench.cpuSeconds();
  const r = await runRedisBenchmark(bench.server.port, { sha: SCRIPT_SHA, stockKey: STOCK_KEY, journalKey: JOURNAL_KEY, connections, pipeline, requests });
  const serverCpu = (await bench.cpuSeconds()) - cpu0;
  return { ...r, serverCore: serverCpu / (requests / r.rps) };
}

type SelloutLoad =
  | { readonly model: 'closed'; readonly connections: number; readonly inFlight: number; readonly requests: number }
  | { readonly model: 'constant-rate'; readonly rate: number; readonly seconds: number };

async function selloutArm(bench: BenchServer, load: SelloutLoad, workers: number | undefined): Promise<SelloutArm> {
  await seed(bench);
  const w = workers ? `, workers: ${workers}` : '';
  const yaml = [
    'name: bench',
    `script: ${JSON.stringify(SCRIPT_PATH)}`,
    `skus: {count: 1, stock: ${NEVER_SELLS_OUT}}`,
    load.model === 'closed' ? `requests: ${load.requests}` : `duration: ${load.seconds}s`,
    load.model === 'closed'
      ? `load: {model: closed, connections: ${load.connections}, inFlight: ${load.inFlight}${w}}`
      : `load: {model: constant-rate, rate: ${load.rate}, connections: ${OPEN_CONNECTIONS}${w}}`,
  ].join('\n');
  const scenario = parseScenario(yaml, join(ROOT, 'bench', 'bench.yaml'), { cwd: ROOT });
  if (scenario.scriptSource !== SCRIPT_SOURCE) throw new Error('the bench scenario did not load lua/deduct.lua');
  const ticks: { atMs: number; cpuUs: number }[] = [];
  const cpuNow = () => { const c = process.cpuUsage(); return c.user + c.system; };
  const serverCpu0 = await bench.cpuSeconds();
  const wall0 = performance.now();
  const cpu0 = cpuNow();
  const result = await driveLoad({
    scenario,
    topology: standaloneTopology({ host: bench.server.host, port: bench.server.port, db: 0, tls: false }),
    keys: new RunKeys(DEFAULT_KEY_TEMPLATES, RUN_ID),
    runId: RUN_ID,
    scriptSha: SCRIPT_SHA,
    onProgress: () => { ticks.push({ atMs: performance.now(), cpuUs: cpuNow() }); },
  });
  const cpuUs = cpuNow() - cpu0;
  const wallMs = performance.now() - wall0;
  const serverCpu = (await bench.cpuSeconds()) - serverCpu0;
  const ok = percentiles(result.histograms[Code.ok]!);
  const okRaw = result.histogramsRaw ? percentiles(result.histogramsRaw[Code.ok]!) : undefined;
  for (const h of [...result.histograms, ...(result.histogramsRaw ?? [])]) h.destroy();
  const replies = result.records.count;
  if (result.counts.ok !== replies || (load.model === 'closed' && replies !== load.requests)) {
    throw new Error(`sellout ${load.model}: expected every request to deduct, got ${JSON.stringify(result.counts)}${result.connectionErrors[0] ? ` (${result.connectionErrors[0]})` : ''}`);
  }
  const first = ticks[0];
  const last = ticks.at(-1);
  return {
    replies,
    rps: (replies / result.durationMs) * 1000,
    ok,
    ...(okRaw ? { okRaw } : {}),
    cpuUsPerReply: cpuUs / replies,
    cpuCores: cpuUs / 1000 / wallMs,
    steadyCores: first && last && last.atMs - first.atMs > 500 ? (last.cpuUs - first.cpuUs) / 1000 / (last.atMs - first.atMs) : undefined,
    serverCore: serverCpu / (result.durationMs / 1000),
    dropped: result.dropped ?? 0,
    achievedRate: result.achievedRate,
  };
}

async function ioredisArm(bench: BenchServer, clients: number, depth: number, requests: number): Promise<IoredisArm> {
  await seed(bench);
  const conns = Array.from({ length: clients }, () => new Redis({ host: bench.server.host, port: bench.server.port, enableAutoPipelining: true, lazyConnect: true, maxRetriesPerRequest: 0 }));
  const histogram = newHistogram();
  try {
    await Promise.all(conns.map((c) => c.connect()));
    let next = 0;
    let failures = 0;
    let firstError = '';
    const serverCpu0 = await bench.cpuSeconds();
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    const slot = async (c: Redis) => {
      while (next < requests) {
        const i = next++;
        const sent = performance.now();
        try {
          await c.evalsha(SCRIPT_SHA, 2, STOCK_KEY, JOURNAL_KEY, 1, `io-${i}`);
        } catch (err) {
          failures++;
          firstError ||= (err as Error).message;
        }
        recordUs(histogram, (performance.now() - sent) * 1000);
      }
    };
    await Promise.all(conns.flatMap((c) => Array.from({ length: depth }, () => slot(c))));
    const wallS = (performance.now() - wall0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const serverCpu = (await bench.cpuSeconds()) - serverCpu0;
    if (failures > 0) throw new Error(`ioredis arm: ${failures} of ${requests} EVALSHA failed: ${firstError}`);
    return { rps: requests / wallS, ok: percentiles(histogram), cpuUsPerReply: (cpu.user + cpu.system) / requests, serverCore: serverCpu / wallS };
  } finally {
    histogram.destroy();
    for (const c of conns) c.disconnect();
  }
}

const log = (text: string) => process.stderr.write(`${text}\n`);

export async function measureThroughput(bench: BenchServer, knobs: Knobs): Promise<ThroughputResults> {
  await initHistograms();
  const results: ThroughputResults = { rb50: [], so50: [], io50: [], rb1: [], so1: [], node1: [], open: [] };
  const { requests: n, requests1x1: n1, workers } = knobs;
  log(`throughput: ${knobs.rounds} interleaved rounds; ${fmt(n)} requests at 50x16, ${fmt(n1)} at 1x1, open loop ${fmt(knobs.openRate)}/s for ${knobs.openSeconds} s`);
  for (let round = 1; round <= knobs.rounds; round++) {
    const rb50 = await referenceArm(bench, 50, 16, n);
    results.rb50.push(rb50);
    log(`  round ${round} redis-benchmark 50x16 ${fmt(rb50.rps).padStart(8)}/s  p99 ${fmt(rb50.p99Us)} us  p99.9 ${fmt(rb50.p999Us)} us  client ${((rb50.cpuSeconds / n) * 1e6).toFixed(2)} us/req  server ${(rb50.serverCore * 100).toFixed(0)}% of a core`);
    const so50 = await selloutArm(bench, { model: 'closed', connections: 50, inFlight: 16, requests: n }, workers);
    results.so50.push(so50);
    log(`  round ${round} sellout         50x16 ${fmt(so50.rps).padStart(8)}/s  p99 ${fmt(so50.ok.p99)} us  p99.9 ${fmt(so50.ok.p999)} us  client ${so50.cpuUsPerReply.toFixed(2)} us/req  server ${(so50.serverCore * 100).toFixed(0)}% of a core`);
    const io50 = await ioredisArm(bench, 50, 16, n);
    results.io50.push(io50);
    log(`  round ${round} ioredis         50x16 ${fmt(io50.rps).padStart(8)}/s  p99 ${fmt(io50.ok.p99)} us  p99.9 ${fmt(io50.ok.p999)} us  client ${io50.cpuUsPerReply.toFixed(2)} us/req  server ${(io50.serverCore * 100).toFixed(0)}% of a core`);
    const rb1 = await referenceArm(bench, 1, 1, n1);
    results.rb1.push(rb1);
    const so1 = await selloutArm(bench, { model: 'closed', connections: 1, inFlight: 1, requests: n1 }, workers);
    results.so1.push(so1);
    await seed(bench);
    const node1 = await runNodeFloor({ port: bench.server.port, sha: SCRIPT_SHA, stockKey: STOCK_KEY, journalKey: JOURNAL_KEY, requests: n1 });
    results.node1.push(node1);
    log(
      `  round ${round} 1x1: redis-benchmark p50 ${fmt(rb1.p50Us)} p99 ${fmt(rb1.p99Us)} p99.9 ${fmt(rb1.p999Us)} us | sellout p50 ${fmt(so1.ok.p50)} p99 ${fmt(so1.ok.p99)} p99.9 ${fmt(so1.ok.p999)} us` +
        ` | minimal Node client p50 ${fmt(node1.p50Us)} p99 ${fmt(node1.p99Us)} p99.9 ${fmt(node1.p999Us)} us`,
    );
    const open = await selloutArm(bench, { model: 'constant-rate', rate: knobs.openRate, seconds: knobs.openSeconds }, workers);
    results.open.push(open);
    log(
      `  round ${round} open loop ${fmt(knobs.openRate)}/s: achieved ${fmt(open.achievedRate ?? NaN)}/s, dropped ${fmt(open.dropped)}, ok p99 ${fmt(open.ok.p99)} us (from the actual send ${fmt(open.okRaw?.p99 ?? NaN)} us), ` +
        `client ${open.cpuCores.toFixed(3)} core around driveLoad, ${open.steadyCores?.toFixed(3) ?? '?'} core steady (between progress ticks), server ${(open.serverCore * 100).toFixed(0)}% of a core`,
    );
  }
  return results;
}

export const THROUGHPUT_NOTES = [
  '1-3 ref redis-benchmark: -c 50 -P 16 or -c 1 -P 1, the same EVALSHA and keys; its p50/p99 from its summary, p99.9 from its',
  '    percentile distribution (first line whose cumulative count reaches 99.9%); its client CPU is its user+sys (bash times).',
  '1   ref ioredis: 50 clients with enableAutoPipelining, 16 requests outstanding each, in the bench process.',
  '1   sellout: driveLoad in the bench process; client CPU = process.cpuUsage around driveLoad (all threads, worker start',
  '    included) per reply. Server share of a core = INFO cpu (user+sys) delta over the load time.',
  '3   1x1 runs start a fresh connection (and for sellout a fresh worker) each: warm-up is in the tail on purpose.',
  '3   minimal Node client: a worker thread writing the same EVALSHA on a raw socket, one at a time, timed with',
  '    performance.now() into an array after sellout\'s warm-up count (lib/node-floor.ts): what V8 and libuv cost alone.',
  '4   constant-rate for BENCH_OPEN_SECONDS. CPU, steady: process.cpuUsage (every thread) between the first and the last',
  '    progress tick (about 1 s apart) over their wall time: the rate\'s cost, which the target is about ("the load thread',
  '    burns a core"). Whole driveLoad: around the call, so worker start, warm-up and merge too (about 0.3 s of CPU here,',
  '    0.06 core over 5 s). redis-benchmark',
  '    has no rate limit, so the CPU has no reference, and the p99 (from the intended send) is compared with sellout\'s own',
  '    closed 1x1 ok p99 in the same round.',
];

export function throughputRows(r: ThroughputResults, knobs: Knobs): Row[] {
  const ratioMedian = (row: Pick<Row, 'reference' | 'sellout'>) => median(ratiosOf(row));
  const p999 = { reference: r.rb50.map((x) => x.p999Us), sellout: r.so50.map((x) => x.ok.p999) };
  const warm = { reference: r.rb1.map((x) => x.p999Us), sellout: r.so1.map((x) => x.ok.p999) };
  const floor = { reference: r.rb1.map((x) => x.p999Us), sellout: r.node1.map((x) => x.p999Us) };
  const overFloor = { reference: r.node1.map((x) => x.p999Us), sellout: r.so1.map((x) => x.ok.p999) };
  const openTail = { reference: r.so1.map((x) => x.ok.p99), sellout: r.open.map((x) => x.ok.p99) };
  const openCores = r.open.map((x) => x.cpuCores);
  const steadyCores = r.open.map((x) => x.steadyCores).filter((x): x is number => x !== undefined);
  return [
    { target: '1', figure: 'throughput 50x16, ref redis-benchmark', unit: '/s', digits: 0, reference: r.rb50.map((x) => x.rps), sellout: r.so50.map((x) => x.rps), goal: 'higher is better', met: null },
    { target: '1', figure: 'throughput 50x16, ref ioredis autopipelining', unit: '/s', digits: 0, reference: r.io50.map((x) => x.rps), sellout: r.so50.map((x) => x.rps), goal: 'higher is better', met: null },
    { target: '1', figure: 'server share of a core 50x16, ref redis-benchmark', unit: 'core', digits: 2, reference: r.rb50.map((x) => x.serverCore), sellout: r.so50.map((x) => x.serverCore), goal: '~1: server-bound', met: null },
    { target: '1', figure: 'server share of a core 50x16, ref ioredis', unit: 'core', digits: 2, reference: r.io50.map((x) => x.serverCore), sellout: r.so50.map((x) => x.serverCore), goal: '~1: server-bound', met: null },
    { target: '1', figure: 'client CPU per request 50x16, ref redis-benchmark', unit: 'us', digits: 2, reference: r.rb50.map((x) => (x.cpuSeconds / x.requests) * 1e6), sellout: r.so50.map((x) => x.cpuUsPerReply), goal: 'lower is better', met: null },
    { target: '1', figure: 'client CPU per request 50x16, ref ioredis', unit: 'us', digits: 2, reference: r.io50.map((x) => x.cpuUsPerReply), sellout: r.so50.map((x) => x.cpuUsPerReply), goal: 'lower is better', met: null },
    { target: '2', figure: 'ok p99 50x16, ref redis-benchmark', unit: 'us', digits: 0, reference: r.rb50.map((x) => x.p99Us), sellout: r.so50.map((x) => x.ok.p99), goal: 'lower is better', met: null },
    { target: '2', figure: 'ok p99.9 50x16, ref redis-benchmark', unit: 'us', digits: 0, ...p999, goal: '<= 1.2x ref', met: ratioMedian(p999) <= 1.2 },
    { target: '3', figure: 'ok p50 1x1, ref redis-benchmark', unit: 'us', digits: 0, reference: r.rb1.map((x) => x.p50Us), sellout: r.so1.map((x) => x.ok.p50), goal: 'lower is better', met: null },
    { target: '3', figure: 'ok p99.9 1x1 (warm-up), ref redis-benchmark', unit: 'us', digits: 0, ...warm, goal: '<= 2x ref', met: ratioMedian(warm) <= 2 },
    { target: '3', figure: 'p99.9 1x1: minimal Node client, ref redis-benchmark', unit: 'us', digits: 0, ...floor, goal: "reported: Node's floor", met: null },
    { target: '3', figure: 'ok p99.9 1x1: sellout, ref minimal Node client', unit: 'us', digits: 0, ...overFloor, goal: 'reported', met: null },
    { target: '4', figure: `open loop ${fmt(knobs.openRate)}/s: sellout CPU, steady (no ref)`, unit: 'core', digits: 3, reference: null, sellout: steadyCores, goal: '<= 0.15 core', met: steadyCores.length > 0 && median(steadyCores) <= 0.15 },
    { target: '4', figure: `open loop ${fmt(knobs.openRate)}/s: sellout CPU, whole driveLoad`, unit: 'core', digits: 3, reference: null, sellout: openCores, goal: 'reported', met: null },
    { target: '4', figure: `open loop ${fmt(knobs.openRate)}/s: server share of a core`, unit: 'core', digits: 2, reference: null, sellout: r.open.map((x) => x.serverCore), goal: 'reported', met: null },
    { target: '4', figure: 'open-loop ok p99, ref sellout closed 1x1 p99', unit: 'us', digits: 0, ...openTail, goal: '<= 3x ref', met: ratioMedian(openTail) <= 3 },
  ];
}
