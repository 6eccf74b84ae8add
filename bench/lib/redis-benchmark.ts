/**
 * The reference: redis-benchmark 7.0.15 sending the same EVALSHA of lua/deduct.lua on the same
 * keys. Its normal output (not --csv, which has no p99.9) is parsed:
 *   - "throughput summary: N requests per second";
 *   - the summary's p50 and p99 (exact HdrHistogram values);
 *   - p99.9 from "Latency by percentile distribution": the first line whose cumulative count
 *     reaches 99.9% of the requests. (Not the first line whose *label* is >= 99.9%: a label is the
 *     iterator's percentile level, and a line labelled 0.000% can already cover 80% of the
 *     requests, so labels overstate low percentiles; counts are exact.)
 * Its CPU is its user+sys as a child of bash, read with bash's `times` after it exits.
 */
import { spawnSync } from 'node:child_process';
import { spawnTracked } from './cleanup.js';

export interface ReferenceResult {
  readonly rps: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly cpuSeconds: number;
  readonly requests: number;
}

export function redisBenchmarkVersion(): string | undefined {
  const found = spawnSync('redis-benchmark', ['--version'], { encoding: 'utf8' });
  return found.error || found.status !== 0 ? undefined : found.stdout.trim();
}

/** Parses redis-benchmark's normal output (exported for a quick check by hand). */
export function parseRedisBenchmark(out: string): Omit<ReferenceResult, 'cpuSeconds' | 'requests'> & { total: number } {
  const rps = Number(/throughput summary:\s*([\d.]+) requests per second/.exec(out)?.[1]);
  const summary = /avg\s+min\s+p50\s+p95\s+p99\s+max\s*\n\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)/.exec(out);
  const section = /Latency by percentile distribution:\n([\s\S]*?)\n\s*\n/.exec(out)?.[1] ?? '';
  const levels = [...section.matchAll(/([\d.]+)% <= ([\d.]+) milliseconds \(cumulative count (\d+)\)/g)].map((m) => ({
    ms: Number(m[2]),
    count: Number(m[3]),
  }));
  const total = levels.at(-1)?.count ?? NaN;
  const at = (p: number) => {
    const need = Math.ceil((p / 100) * total);
    return (levels.find((l) => l.count >= need)?.ms ?? NaN) * 1000;
  };
  if (!Number.isFinite(rps) || !summary || levels.length === 0) throw new Error(`could not parse redis-benchmark's output:\n${out.slice(-2000)}`);
  return { rps, p50Us: Number(summary[3]) * 1000, p99Us: Number(summary[5]) * 1000, p999Us: at(99.9), total };
}

/**
 * `cluster`: --cluster against the cluster `port` is a node of. redis-benchmark then spreads its
 * clients over the primaries (client i on primary i mod n, one thread per primary) and rewrites a
 * `{tag}` in an argument to the hash tag of the first slot of that client's primary; it does not
 * route a command by its key (see cluster.ts).
 */
export function runRedisBenchmark(port: number, args: { sha: string; stockKey: string; journalKey: string; connections: number; pipeline: number; requests: number; cluster?: boolean }): Promise<ReferenceResult> {
  const argv = [
    '-h', '127.0.0.1', '-p', String(port), ...(args.cluster ? ['--cluster'] : []), '-c', String(args.connections), '-P', String(args.pipeline), '-n', String(args.requests),
    // Two random fields make request IDs unique in practice (1e16 combinations): no duplicate replies.
    '-r', '100000000',
    'EVALSHA', args.sha, '2', args.stockKey, args.journalKey, '1', 'req:__rand_int__:__rand_int__',
  ];
  // bash's `times` prints the shell's CPU, then its children's (redis-benchmark's) user and sys.
  const script = `redis-benchmark ${argv.map((a) => `'${a}'`).join(' ')}; status=$?; times; exit $status`;
  return new Promise((resolve, reject) => {
    const child = spawnTracked('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) return reject(new Error(`redis-benchmark failed (${signal ?? `exit ${code}`}): ${(err || out).trim().split('\n').slice(-3).join(' | ')}`));
      try {
        const parsed = parseRedisBenchmark(out.replace(/\r/g, '\n'));
        if (parsed.total !== args.requests) throw new Error(`redis-benchmark counted ${parsed.total} latencies for ${args.requests} requests`);
        const times = out.trim().split('\n').at(-1)!.trim().split(/\s+/);
        const seconds = (t: string | undefined) => {
          const m = /^(\d+)m([\d.]+)s$/.exec(t ?? '');
          if (!m) throw new Error(`could not read bash's times line: ${JSON.stringify(times)}`);
          return Number(m[1]) * 60 + Number(m[2]);
        };
        resolve({ rps: parsed.rps, p50Us: parsed.p50Us, p99Us: parsed.p99Us, p999Us: parsed.p999Us, cpuSeconds: seconds(times[0]) + seconds(times[1]), requests: args.requests });
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}
