/**
 * `npm run bench`: sellout's load engine against redis-benchmark on one fresh redis-server, with
 * the same script (lua/deduct.lua via EVALSHA), the same key layout (one SKU whose stock never
 * runs out), the same connections and pipeline depth, interleaved A B A B so that noise from
 * other work on the machine hits both sides alike. Prints every figure and the ratios
 * sellout / redis-benchmark:
 *  - throughput at 50 connections x 16 in flight (redis-benchmark -c 50 -P 16);
 *  - p50 latency at 1 connection x 1 in flight;
 *  - CPU time of the load generator per deduction (user+sys / requests);
 *  - the server's share of one core during each run (INFO cpu): when it is near 100%, Redis is
 *    the bottleneck, not the load generator.
 * sellout's CPU is measured in this process around driveLoad (all its threads), so it covers the
 * load itself and not setup or verification; redis-benchmark's is its child user+sys (bash `times`).
 *
 * Options (env): BENCH_ROUNDS (3), BENCH_REQUESTS (400000, the 50x16 runs), BENCH_REQUESTS_1X1 (20000).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { driveLoad } from '../src/load/coordinator.js';
import { initHistograms, percentiles } from '../src/metrics/histogram.js';
import { parseScenario } from '../src/scenario/load.js';
import { startLocalRedis } from '../src/redis/local.js';
import { scriptSha } from '../src/redis/script.js';
import { journalKey, stockKey } from '../src/keys.js';
import { parseInfo } from '../src/redis/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 400_000);
const REQUESTS_1X1 = Number(process.env['BENCH_REQUESTS_1X1'] ?? 20_000);
const RUN_ID = 'bench';
const STOCK = 10_000_000_000_000; // never sells out

interface Figure {
  throughput: number;
  p50Us: number;
  cpuUsPerRequest: number;
  serverCore: number;
  requests: number;
}

async function serverCpuSeconds(admin: Redis): Promise<number> {
  const info = parseInfo(await admin.info('cpu'));
  return Number(info['used_cpu_user'] ?? 0) + Number(info['used_cpu_sys'] ?? 0);
}

async function prepare(admin: Redis, source: string): Promise<void> {
  await admin.flushall(); // our own server, started by this script
  await admin.script('LOAD', source);
  await admin.set(stockKey(RUN_ID, 0), String(STOCK));
}

function runRedisBenchmark(port: number, sha: string, connections: number, pipeline: number, requests: number): Promise<{ rps: number; p50Us: number; cpuSeconds: number }> {
  const args = [
    '-h', '127.0.0.1', '-p', String(port), '-c', String(connections), '-P', String(pipeline), '-n', String(requests),
    '-r', '100000000', '--csv',
    'EVALSHA', sha, '2', stockKey(RUN_ID, 0), journalKey(RUN_ID, 0), '1', 'req:__rand_int__:__rand_int__',
  ];
  // bash's `times` prints the children's user and sys CPU time after redis-benchmark exits.
  const script = `redis-benchmark ${args.map((a) => `'${a}'`).join(' ')}; times`;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('close', (code) => {
      const row = out.split('\n').find((l) => l.startsWith('"EVALSHA'));
      if (code !== 0 || !row) return reject(new Error(`redis-benchmark failed (${code}): ${err || out}`));
      const cells = row.split(',').map((c) => Number(c.replace(/"/g, '')));
      // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",…
      const times = out.trim().split('\n').at(-1)!.trim().split(/\s+/);
      const seconds = (t: string) => { const m = /^(\d+)m([\d.]+)s$/.exec(t); return m ? Number(m[1]) * 60 + Number(m[2]) : NaN; };
      resolve({ rps: cells[1]!, p50Us: cells[4]! * 1000, cpuSeconds: seconds(times[0]!) + seconds(times[1]!) });
    });
  });
}

async function runSellout(port: number, source: string, connections: number, inFlight: number, requests: number, workers?: number) {
  const yaml = [
    'name: bench',
    'script: lua/deduct.lua',
    `skus: {count: 1, stock: ${STOCK}}`,
    `requests: ${requests}`,
    `load: {model: closed, connections: ${connections}, inFlight: ${inFlight}${workers ? `, workers: ${workers}` : ''}}`,
  ].join('\n');
  const scenario = parseScenario(yaml, join(ROOT, 'bench', 'bench.yaml'), { cwd: ROOT });
  if (scenario.scriptSource !== source) throw new Error('the scenario did not load lua/deduct.lua');
  const cpuBefore = process.cpuUsage();
  const load = await driveLoad({ scenario, endpoint: { host: '127.0.0.1', port, db: 0, tls: false }, runId: RUN_ID, scriptSha: scriptSha(source) });
  const cpu = process.cpuUsage(cpuBefore);
  const p50Us = percentiles(load.histograms[0]!).p50;
  for (const h of [...load.histograms, ...(load.histogramsRaw ?? [])]) h.destroy();
  const replies = load.records.count;
  if (load.counts.ok !== requests) throw new Error(`sellout: expected ${requests} ok replies, got ${JSON.stringify(load.counts)}`);
  return { rps: (replies / load.durationMs) * 1000, p50Us, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

function best(figures: Figure[], key: keyof Figure, lowest: boolean): number {
  const values = figures.map((f) => f[key]);
  return lowest ? Math.min(...values) : Math.max(...values);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main(): Promise<void> {
  await initHistograms();
  const source = readFileSync(join(ROOT, 'lua', 'deduct.lua'), 'utf8');
  const sha = scriptSha(source);
  const server = await startLocalRedis();
  const admin = new Redis({ host: server.host, port: server.port, lazyConnect: true });
  await admin.connect();
  const workers = process.env['BENCH_WORKERS'] ? Number(process.env['BENCH_WORKERS']) : undefined;
  const rb: Figure[] = [];
  const so: Figure[] = [];
  try {
    process.stderr.write(`bench: redis-server on port ${server.port}; ${ROUNDS} rounds, ${REQUESTS} requests at 50x16, ${REQUESTS_1X1} at 1x1\n`);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const side of ['redis-benchmark', 'sellout'] as const) {
        const figure: Partial<Figure> = {};
        for (const shape of ['50x16', '1x1'] as const) {
          const [c, p, n] = shape === '50x16' ? [50, 16, REQUESTS] : [1, 1, REQUESTS_1X1];
          await prepare(admin, source);
          const cpu0 = await serverCpuSeconds(admin);
          const wall0 = performance.now();
          const r = side === 'redis-benchmark' ? await runRedisBenchmark(server.port, sha, c, p, n) : await runSellout(server.port, source, c, p, n, workers);
          const serverCpu = (await serverCpuSeconds(admin)) - cpu0;
          // Over the time the load ran (requests / rate), not process startup: the server idles then.
          const loadS = Math.min(n / r.rps, (performance.now() - wall0) / 1000);
          if (shape === '50x16') {
            figure.throughput = r.rps;
            figure.cpuUsPerRequest = (r.cpuSeconds / n) * 1e6;
            figure.serverCore = serverCpu / loadS;
            figure.requests = n;
          } else {
            figure.p50Us = r.p50Us;
          }
        }
        (side === 'sellout' ? so : rb).push(figure as Figure);
        process.stderr.write(
          `round ${round} ${side.padEnd(15)} 50x16 ${Math.round(figure.throughput!).toLocaleString('en-US').padStart(8)}/s  ` +
            `cpu ${figure.cpuUsPerRequest!.toFixed(2)} us/req  server ${(figure.serverCore! * 100).toFixed(0)}% of a core  ` +
            `1x1 p50 ${figure.p50Us!.toFixed(0)} us\n`,
        );
      }
    }
  } finally {
    admin.disconnect();
    await server.stop();
  }
  const row = (name: string, a: number, b: number, unit: string, digits = 0) =>
    `${name.padEnd(34)} ${a.toFixed(digits).padStart(10)} ${b.toFixed(digits).padStart(10)}  ${unit.padEnd(6)} ${(b / a).toFixed(2)}x`;
  const lines = [
    '',
    `best of ${ROUNDS} interleaved rounds (medians below); the machine may be shared with other work`,
    `${'figure'.padEnd(34)} ${'redis-bm'.padStart(10)} ${'sellout'.padStart(10)}  ${'unit'.padEnd(6)} sellout/redis-benchmark`,
    row('throughput 50x16 (higher is better)', best(rb, 'throughput', false), best(so, 'throughput', false), '/s'),
    row('p50 at 1x1 (lower is better)', best(rb, 'p50Us', true), best(so, 'p50Us', true), 'us'),
    row('client CPU per deduction', best(rb, 'cpuUsPerRequest', true), best(so, 'cpuUsPerRequest', true), 'us', 2),
    row('server core share during 50x16', best(rb, 'serverCore', false), best(so, 'serverCore', false), 'core', 2),
    `medians: throughput ${median(rb.map((f) => f.throughput)).toFixed(0)} vs ${median(so.map((f) => f.throughput)).toFixed(0)}/s; ` +
      `p50 ${median(rb.map((f) => f.p50Us)).toFixed(0)} vs ${median(so.map((f) => f.p50Us)).toFixed(0)} us; ` +
      `cpu ${median(rb.map((f) => f.cpuUsPerRequest)).toFixed(2)} vs ${median(so.map((f) => f.cpuUsPerRequest)).toFixed(2)} us/req`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
