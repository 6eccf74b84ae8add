/**
 * Targets 6 and 7: whole `sellout run` child processes (lib/child.ts) at BENCH_WHOLE_REQUESTS
 * (300,000) requests, closed 50x16, in BENCH_WHOLE_ROUNDS interleaved rounds: over 1 SKU, then over BENCH_SKUS
 * (100,000) SKUs, each on a freshly flushed server (the bench's one redis-server).
 *  - Many SKUs (6): the child's wall time from spawn to exit (startup, seeding, load,
 *    verification, reports, cleanup), 100k SKUs over 1 SKU per round; the size of its summary.json.
 *  - Whole-process CPU (7): the 1-SKU child's user+sys (its own getrusage at exit) per request.
 *    The load loop's CPU: the process's CPU minus its main thread's (/proc, polled every 20 ms and
 *    interpolated) over the load window summary.json gives (run.startedAt, durationMs), per
 *    request: the load workers' threads and the V8/libuv helper threads working for them. The
 *    reference, memtier_benchmark's 0.9 us, is quoted from the issue: memtier is not installed here.
 */
import type { Knobs } from './lib/knobs.js';
import { cpuAt, field, loadWindow, runSelloutChild, type ChildRun } from './lib/child.js';
import { NEVER_SELLS_OUT, SCRIPT_PATH, type BenchServer } from './lib/server.js';
import { fmt, median } from './lib/stats.js';
import { ratiosOf, type Row } from './lib/table.js';

/** memtier_benchmark's client CPU per request, as the issue measured it. */
export const MEMTIER_US_PER_REQUEST = 0.9;
/** Stock per SKU of the many-SKU run: requests are spread uniformly, a few per SKU; never sells out. */
const MANY_SKU_STOCK = 1_000_000;

export interface WholeArm {
  readonly wallS: number;
  readonly summaryBytes: number;
  readonly requests: number;
  readonly cpuUsPerRequest: number;
  /** During the load window: threads other than main, and every thread, per request. */
  readonly loopUsPerRequest: number;
  readonly loadAllUsPerRequest: number;
  readonly loadMainUsPerRequest: number;
  readonly peakRssMb: number;
}

export interface WholeResults {
  readonly one: WholeArm[];
  readonly many: WholeArm[];
}

function armOf(run: ChildRun, expected: number): WholeArm {
  const requests = field(run.summary, 'requests', run.summary.requests);
  const ok = field(run.summary, 'outcomes.ok', run.summary.outcomes?.ok);
  if (requests !== expected || ok !== expected) throw new Error(`sellout run: expected ${expected} ok requests, summary.json says requests ${requests}, ok ${ok}`);
  const { fromMs, toMs } = loadWindow(run.summary);
  const a = cpuAt(run.samples, fromMs);
  const b = cpuAt(run.samples, toMs);
  const all = b.cpuS - a.cpuS;
  const main = b.mainCpuS - a.mainCpuS;
  return {
    wallS: run.wallMs / 1000,
    summaryBytes: run.summaryBytes,
    requests,
    cpuUsPerRequest: (run.cpuS / requests) * 1e6,
    loopUsPerRequest: ((all - main) / requests) * 1e6,
    loadAllUsPerRequest: (all / requests) * 1e6,
    loadMainUsPerRequest: (main / requests) * 1e6,
    peakRssMb: run.peakRssBytes / 1024 / 1024,
  };
}

const log = (text: string) => process.stderr.write(`${text}\n`);

export async function measureWholeRuns(bench: BenchServer, knobs: Knobs): Promise<WholeResults> {
  const results: WholeResults = { one: [], many: [] };
  const n = knobs.wholeRequests;
  log(`whole runs: ${knobs.wholeRounds} interleaved rounds of \`sellout run\` at ${fmt(n)} requests, 50x16: 1 SKU, then ${fmt(knobs.manySkus)} SKUs`);
  const base = { requests: n, connections: 50, inFlight: 16, workers: knobs.workers };
  for (let round = 1; round <= knobs.wholeRounds; round++) {
    for (const side of ['one', 'many'] as const) {
      await bench.reset();
      const skus = side === 'one' ? 1 : knobs.manySkus;
      const run = await runSelloutChild({ ...base, name: `bench-${side === 'one' ? '1' : skus}-skus`, skus, stock: side === 'one' ? NEVER_SELLS_OUT : MANY_SKU_STOCK }, SCRIPT_PATH, bench.url);
      const arm = armOf(run, n);
      results[side].push(arm);
      log(
        `  round ${round} ${fmt(skus).padStart(7)} SKU(s): wall ${arm.wallS.toFixed(2)} s, summary.json ${fmt(arm.summaryBytes / 1024)} KB, ` +
          `CPU/request: whole ${arm.cpuUsPerRequest.toFixed(2)} us, during the load ${arm.loadAllUsPerRequest.toFixed(2)} us (loop ${arm.loopUsPerRequest.toFixed(2)} + main ${arm.loadMainUsPerRequest.toFixed(2)}), peak RSS ${fmt(arm.peakRssMb)} MB`,
      );
    }
  }
  return results;
}

export const WHOLE_RUN_NOTES = [
  '6-7 whole `sellout run` children (node bin/sellout.js run … --redis <the bench server> --out <tmp>), closed 50x16, at',
  '    BENCH_WHOLE_REQUESTS requests; wall = spawn to exit (startup, seeding, load, verification, reports, key cleanup).',
  '7   load loop = the child\'s CPU minus its main thread\'s (/proc, every 20 ms) over the load window summary.json gives',
  '    (run.startedAt + durationMs), per request, 1-SKU run; memtier_benchmark\'s 0.9 us is quoted from the issue (memtier',
  '    is not installed here). Whole process = the child\'s own getrusage user+sys at exit, per request; its ref is',
  '    redis-benchmark\'s user+sys per request at 50x16 from the throughput rounds (other rounds: ratio of the medians).',
];

/** `reference50x16`: redis-benchmark's whole-process CPU per request at 50x16 from the throughput part, when it ran. */
export function wholeRunRows(r: WholeResults, knobs: Knobs, reference50x16: number[] | null): Row[] {
  const skus = fmt(knobs.manySkus);
  const wall = { reference: r.one.map((x) => x.wallS), sellout: r.many.map((x) => x.wallS) };
  const size = r.many.map((x) => x.summaryBytes / 1024);
  const loop = r.one.map((x) => x.loopUsPerRequest);
  const whole = r.one.map((x) => x.cpuUsPerRequest);
  return [
    { target: '6', figure: `sellout run wall, ${skus} SKUs, ref 1 SKU`, unit: 's', digits: 2, ...wall, goal: '<= 1.6x ref', met: median(ratiosOf(wall)) <= 1.6 },
    { target: '6', figure: `summary.json size, ${skus} SKUs, ref 1 SKU`, unit: 'KB', digits: 1, reference: r.one.map((x) => x.summaryBytes / 1024), sellout: size, goal: '<= 200 KB', met: median(size) <= 200 },
    { target: '7', figure: 'load-loop CPU per deduction, ref memtier', unit: 'us', digits: 2, reference: MEMTIER_US_PER_REQUEST, sellout: loop, goal: '<= 1.5 us', met: median(loop) <= 1.5 },
    { target: '7', figure: 'whole-process CPU per request, ref redis-benchmark', unit: 'us', digits: 2, reference: reference50x16, paired: false, sellout: whole, goal: '<= 4 us', met: median(whole) <= 4 },
  ];
}
