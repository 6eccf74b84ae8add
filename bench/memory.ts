/**
 * Target 5: memory of whole `sellout run` child processes (lib/child.ts), closed 50x16 on one SKU
 * that never sells out, so every request deducts and the journal gets one entry per request, which
 * the verification reads back.
 *  - Bytes per request: peak RSS (VmHWM, polled until exit, and the child's getrusage maxrss) at
 *    BENCH_MEMORY_REQUESTS (3,000,000) and at BENCH_MEMORY_SMALL (100,000); (peak difference) /
 *    (request difference): what each request adds, without the fixed cost of the process.
 *  - Peak RSS at 3,000,000 requests (extrapolated along that slope when BENCH_MEMORY_REQUESTS is
 *    set to another count, and marked so).
 *  - A duration run (BENCH_DURATION_S, 30 s): RSS growth per minute while the load runs, the
 *    least-squares slope of VmRSS over the last three quarters of the load window that
 *    summary.json gives (run.startedAt, durationMs), skipping worker start. Reported, no target:
 *    the engine is to cap or spill records with a clear message.
 */
import type { Knobs } from './lib/knobs.js';
import { field, loadWindow, runSelloutChild, type ChildRun } from './lib/child.js';
import { NEVER_SELLS_OUT, SCRIPT_PATH, type BenchServer } from './lib/server.js';
import { fmt, MB, median, slope } from './lib/stats.js';
import type { Row } from './lib/table.js';

const TARGET_REQUESTS = 3_000_000;

export interface MemoryResults {
  readonly small: number[];
  readonly big: number[];
  readonly bytesPerRequest: number[];
  readonly duration?: { mbPerMinute: number; requests: number; seconds: number; rate: number; peakMb: number; bytesPerReply: number };
}

const log = (text: string) => process.stderr.write(`${text}\n`);

async function closedRun(bench: BenchServer, knobs: Knobs, name: string, how: { requests: number } | { duration: string }): Promise<ChildRun> {
  await bench.reset();
  return runSelloutChild({ name, skus: 1, stock: NEVER_SELLS_OUT, connections: 50, inFlight: 16, workers: knobs.workers, ...how }, SCRIPT_PATH, bench.url);
}

function checkAllOk(run: ChildRun, expected: number | undefined): number {
  const requests = field(run.summary, 'requests', run.summary.requests);
  const ok = field(run.summary, 'outcomes.ok', run.summary.outcomes?.ok);
  if (ok !== requests || (expected !== undefined && requests !== expected)) {
    throw new Error(`sellout run: expected ${expected ?? 'every request'} to deduct, summary.json says requests ${requests}, ok ${ok}`);
  }
  return requests;
}

export async function measureMemory(bench: BenchServer, knobs: Knobs): Promise<MemoryResults> {
  const small: number[] = [];
  const big: number[] = [];
  const perRequest: number[] = [];
  const diff = knobs.memoryRequests - knobs.memorySmall;
  log(`memory: ${knobs.memoryRounds} round(s) of \`sellout run\` at ${fmt(knobs.memorySmall)} and ${fmt(knobs.memoryRequests)} requests, 50x16, 1 SKU${knobs.durationSeconds > 0 ? `; a ${knobs.durationSeconds} s duration run` : ''}`);
  for (let round = 1; round <= knobs.memoryRounds; round++) {
    const a = await closedRun(bench, knobs, 'bench-memory-small', { requests: knobs.memorySmall });
    checkAllOk(a, knobs.memorySmall);
    const b = await closedRun(bench, knobs, 'bench-memory', { requests: knobs.memoryRequests });
    checkAllOk(b, knobs.memoryRequests);
    small.push(a.peakRssBytes);
    big.push(b.peakRssBytes);
    perRequest.push((b.peakRssBytes - a.peakRssBytes) / diff);
    log(
      `  round ${round}: peak RSS ${fmt(a.peakRssBytes / MB)} MB at ${fmt(knobs.memorySmall)} (wall ${(a.wallMs / 1000).toFixed(1)} s), ` +
        `${fmt(b.peakRssBytes / MB)} MB at ${fmt(knobs.memoryRequests)} (wall ${(b.wallMs / 1000).toFixed(1)} s): ${fmt(perRequest.at(-1)!, 1)} B per request`,
    );
  }
  const results: MemoryResults = { small, big, bytesPerRequest: perRequest };
  if (knobs.durationSeconds === 0) return results;
  const run = await closedRun(bench, knobs, 'bench-duration', { duration: `${knobs.durationSeconds}s` });
  const requests = checkAllOk(run, undefined);
  const { fromMs, toMs } = loadWindow(run.summary);
  const from = fromMs + (toMs - fromMs) / 4;
  const points = run.samples.filter((s) => s.atMs >= from && s.atMs <= toMs).map((s) => ({ x: s.atMs, y: s.rssBytes }));
  const bytesPerMs = slope(points);
  const seconds = (toMs - fromMs) / 1000;
  const rate = requests / seconds;
  const duration = { mbPerMinute: (bytesPerMs * 60_000) / MB, requests, seconds, rate, peakMb: run.peakRssBytes / MB, bytesPerReply: (bytesPerMs * 1000) / rate };
  log(
    `  duration run: ${fmt(requests)} requests in ${seconds.toFixed(1)} s (${fmt(rate)}/s), RSS +${fmt(duration.mbPerMinute)} MB per minute of load ` +
      `(${fmt(duration.bytesPerReply, 1)} B per reply, ${points.length} samples), peak RSS ${fmt(duration.peakMb)} MB (verification included), wall ${(run.wallMs / 1000).toFixed(1)} s`,
  );
  return { ...results, duration };
}

/** 3M, 100k, 12,345. */
function short(n: number): string {
  if (n >= 1e6 && n % 1e5 === 0) return `${n / 1e6}M`;
  if (n >= 1e3 && n % 1e3 === 0) return `${n / 1e3}k`;
  return fmt(n);
}

export function memoryNotes(r: MemoryResults | undefined): string[] {
  return [
    '5   whole `sellout run` children, closed 50x16, 1 SKU that never sells out (the journal gets an entry per request, and',
    '    the verification reads it back); peak RSS = VmHWM polled until exit, or the child\'s getrusage maxrss if higher;',
    '    per request = (peak difference) / (request difference). The duration run\'s growth is the slope of VmRSS over the',
    '    last 3/4 of its load window' +
      (r?.duration ? ` (${fmt(r.duration.rate)}/s, ${fmt(r.duration.bytesPerReply, 1)} B per reply, peak ${fmt(r.duration.peakMb)} MB with verification).` : '.'),
  ];
}

export function memoryRows(r: MemoryResults, knobs: Knobs): Row[] {
  const perRequest = median(r.bytesPerRequest);
  const exact = knobs.memoryRequests === TARGET_REQUESTS;
  // At another count, the peak at 3M is projected from the big run along the measured slope.
  const at3M = r.big.map((peak, i) => (exact ? peak : peak + r.bytesPerRequest[i]! * (TARGET_REQUESTS - knobs.memoryRequests)) / MB);
  const rows: Row[] = [
    { target: '5', figure: `peak RSS per request, ${short(knobs.memoryRequests)} vs ${short(knobs.memorySmall)} requests`, unit: 'B', digits: 1, reference: null, sellout: r.bytesPerRequest, goal: '<= 64 B', met: perRequest <= 64 },
    {
      target: '5',
      figure: exact ? 'peak RSS of sellout run at 3M requests' : `peak RSS at 3M, EXTRAPOLATED (${fmt(median(r.big) / MB)} MB at ${short(knobs.memoryRequests)})`,
      unit: 'MB', digits: 0, reference: null, sellout: at3M, goal: '<= 320 MB', met: median(at3M) <= 320,
    },
  ];
  if (r.duration) {
    rows.push({
      target: '5',
      figure: `duration ${knobs.durationSeconds} s: RSS growth per minute of load`,
      unit: 'MB/min', digits: 0, reference: null, sellout: [r.duration.mbPerMinute], goal: 'reported', met: null,
    });
  }
  return rows;
}
