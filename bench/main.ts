/**
 * `npm run bench`: every target of the engine issue (and issue 13's HTTP-mode row) from ONE run, on one fresh redis-server
 * (sellout's embedded one), each figure with the reference's figure and the ratio, as medians of
 * interleaved rounds with their min–max. Five parts, each in its own file:
 *   throughput.ts  targets 1-4: throughput, tail, warm-up tail at 1x1, open loop (in process, driveLoad)
 *   cluster.ts     the cluster row: routing cost on a 3-primary embedded cluster vs standalone, and
 *                  redis-benchmark --cluster (in process, driveLoad; the cluster is the part's own)
 *   http.ts        the http row (issue 13): sellout HTTP mode vs the autocannon CLI on the reference sale
 *                  service (a child process), and HTTP vs Redis mode, what the service adds (in process, driveLoad)
 *   whole-run.ts   targets 6-7: many SKUs, whole-process CPU (`sellout run` children)
 *   memory.ts      target 5:   memory per request, duration-run growth (`sellout run` children)
 * Progress goes to stderr; the final table to stdout. Knobs: lib/knobs.ts (BENCH_ROUNDS, …).
 * Exit 0 when every part ran (whether or not the targets are met: this measures, it does not
 * gate), 1 when a part failed, 2 on bad knobs or a missing redis-benchmark.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { TargetError } from '../src/errors.js';
import { cleanupAll, installCleanupHandlers, interrupted } from './lib/cleanup.js';
import { BenchUsageError, KNOB_HELP, readKnobs, type Knobs } from './lib/knobs.js';
import { redisBenchmarkVersion } from './lib/redis-benchmark.js';
import { ROOT, startBenchServer, type BenchServer } from './lib/server.js';
import { fmt } from './lib/stats.js';
import { formatTable, type FailedPart, type Row } from './lib/table.js';
import { httpNotes, httpRows, measureHttp, type HttpResults } from './http.js';
import { clusterNotes, clusterRows, measureCluster, type ClusterResults } from './cluster.js';
import { measureMemory, memoryNotes, memoryRows, type MemoryResults } from './memory.js';
import { measureThroughput, THROUGHPUT_NOTES, throughputRows, type ThroughputResults } from './throughput.js';
import { measureWholeRuns, WHOLE_RUN_NOTES, wholeRunRows } from './whole-run.js';

const fail = (message: string, code: number): never => {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(code);
};

function firstLine(err: unknown): string {
  const e = err as Error & { hint?: string };
  const text = (e?.message ?? String(err)).split('\n')[0]!;
  return e?.hint ? `${text} (${e.hint})` : text;
}

async function main(): Promise<number> {
  installCleanupHandlers();
  let knobs: Knobs;
  try {
    knobs = readKnobs();
  } catch (err) {
    if (err instanceof BenchUsageError) return fail(`${err.message}\nknobs:\n${KNOB_HELP}`, 2);
    throw err;
  }
  const referenceVersion = redisBenchmarkVersion();
  if (knobs.parts.has('throughput') && referenceVersion === undefined) {
    return fail('redis-benchmark is not on PATH: it is the reference the figures are compared with; install it (apt-get install -y redis-tools, or brew install redis) and run again', 2);
  }
  const childParts = knobs.parts.has('whole') || knobs.parts.has('memory');
  if (childParts && !existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) {
    return fail('dist/ is missing: run `npm run build` first (`npm run bench` does), the `sellout run` children run the compiled CLI', 2);
  }

  let bench: BenchServer;
  try {
    bench = await startBenchServer();
  } catch (err) {
    if (err instanceof TargetError) return fail(firstLine(err), 2);
    throw err;
  }
  const started = performance.now();
  const serverVersion = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.trim().split(' ').find((w) => w.startsWith('v='))?.slice(2) ?? '?';
  process.stderr.write(`bench: redis-server ${serverVersion} on port ${bench.server.port}; reference ${referenceVersion ?? 'redis-benchmark (not installed)'}; parts ${[...knobs.parts].join(', ')}\n`);
  const rows: Row[] = [];
  const failed: FailedPart[] = [];
  const attempt = async (target: string, what: string, run: () => Promise<void>) => {
    const t0 = performance.now();
    try {
      await run();
      process.stderr.write(`bench: ${what}: ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    } catch (err) {
      if (interrupted()) throw err;
      failed.push({ target, what, error: firstLine(err) });
      process.stderr.write(`bench: ${what} failed: ${(err as Error).stack ?? err}\n`);
    }
  };
  let throughput: ThroughputResults | undefined;
  let memory: MemoryResults | undefined;
  let cluster: ClusterResults | undefined;
  let http: HttpResults | undefined;
  try {
    if (knobs.parts.has('throughput')) {
      await attempt('1-4', 'throughput, tail, 1x1, open loop', async () => {
        throughput = await measureThroughput(bench, knobs);
        rows.push(...throughputRows(throughput, knobs));
      });
    }
    if (knobs.parts.has('cluster')) {
      await attempt('C', 'cluster routing cost', async () => {
        cluster = await measureCluster(bench, knobs);
        rows.push(...clusterRows(cluster));
      });
    }
    if (knobs.parts.has('http')) {
      await attempt('H', 'HTTP mode vs autocannon, what the service adds', async () => {
        http = await measureHttp(bench, knobs);
        rows.push(...httpRows(http));
      });
    }
    if (knobs.parts.has('whole')) {
      await attempt('6-7', 'many SKUs, whole-process CPU', async () => {
        const whole = await measureWholeRuns(bench, knobs);
        const reference = throughput ? throughput.rb50.map((x) => (x.cpuSeconds / x.requests) * 1e6) : null;
        rows.push(...wholeRunRows(whole, knobs, reference));
      });
    }
    if (knobs.parts.has('memory')) {
      await attempt('5', 'memory per request, duration run', async () => {
        memory = await measureMemory(bench, knobs);
        rows.push(...memoryRows(memory, knobs));
      });
    }
  } finally {
    await bench.stop();
  }
  rows.sort((a, b) => a.target.localeCompare(b.target));

  const minutes = (performance.now() - started) / 60_000;
  const cpu = cpus()[0]?.model ?? '?';
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const withTargets = rows.filter((r) => r.met !== null);
  const out = [
    '',
    `sellout ${version} bench: ${knobs.rounds} interleaved round(s) (whole runs: ${knobs.wholeRounds}, memory: ${knobs.memoryRounds}), ${minutes.toFixed(1)} min; ${availableParallelism()} cores (${cpu}), ${fmt(totalmem() / 1024 ** 3, 1)} GB, node ${process.version}, redis-server ${serverVersion}, ${referenceVersion ?? 'no redis-benchmark'}`,
    'Cells: median of the rounds [min–max]. ratio = sellout / reference per round (paired: both ran back to back in that round), its median [min–max]; met? judges the medians.',
    'The machine may be shared with other work: compare ratios, not absolute figures, and expect spread.',
    '',
    formatTable(rows, failed),
    '',
    ...(knobs.parts.has('throughput') ? THROUGHPUT_NOTES : []),
    ...(knobs.parts.has('cluster') ? clusterNotes(cluster) : []),
    ...(knobs.parts.has('http') ? httpNotes(http) : []),
    ...(knobs.parts.has('memory') ? memoryNotes(memory) : []),
    ...(knobs.parts.has('whole') ? WHOLE_RUN_NOTES : []),
    '',
    `targets met: ${withTargets.filter((r) => r.met).length} of ${withTargets.length}${failed.length ? `; ${failed.length} part(s) FAILED to run (above)` : ''}`,
    ...failed.map((f) => `FAILED ${f.target} ${f.what}: ${f.error}`),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  return failed.length > 0 ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  // After Ctrl-C the signal handler owns the exit (130); what broke on the way down is not news.
  if (interrupted()) await new Promise(() => {});
  process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
} finally {
  await cleanupAll();
}
process.exit(code);
