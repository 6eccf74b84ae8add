/**
 * The http part (issue 13's performance requirement): sellout in HTTP mode against the autocannon
 * CLI on the same reference sale service, and the same scenario in Redis mode, "where the time
 * goes". Interleaved rounds; each round runs, back to back, with who goes first rotating:
 *   sellout HTTP mode | autocannon CLI | sellout Redis mode
 * every arm CONNECTIONS connections x PIPELINING requests in flight for BENCH_HTTP_SECONDS.
 *
 * The service runs in a child process of its own (lib/serve-child.ts: startSaleService on a
 * connectAdmin connection, as `sellout run` starts it for an HTTP-mode scenario), one for the whole
 * part. Not in this process: sellout's coordinator runs here (its load in worker threads), so a
 * service here would share the coordinator's event loop and CPU while the autocannon CLI (a process
 * of its own) would meet it alone; out of process, both load generators meet the same service the
 * same way, over loopback, as a team's service would be met.
 *
 * Every arm starts from an empty server (FLUSHALL, SCRIPT LOAD) with one SKU whose stock never runs
 * out, quantity 1, a fresh request ID per request (sellout's <id>; autocannon's [<id>] with
 * --idReplacement), so every request is a deduction that succeeds. Checked after each arm from the
 * journal (HLEN): sellout's ok replies == journal entries; autocannon's 2xx <= journal entries <=
 * 2xx + connections x pipelining (it stops at -d with requests in flight that it does not count).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { DEFAULT_KEY_TEMPLATES, RunKeys } from '../src/keys.js';
import { driveLoad } from '../src/load/coordinator.js';
import { initHistograms, percentiles } from '../src/metrics/histogram.js';
import { Code } from '../src/outcomes.js';
import { standaloneTopology } from '../src/redis/topology.js';
import { httpTarget } from '../src/scenario/http.js';
import { parseScenario } from '../src/scenario/load.js';
import { killTracked, spawnTracked } from './lib/cleanup.js';
import type { Knobs } from './lib/knobs.js';
import { NEVER_SELLS_OUT, ROOT, SCRIPT_PATH, SCRIPT_SHA, SCRIPT_SOURCE, type BenchServer } from './lib/server.js';
import { fmt, median } from './lib/stats.js';
import { ratiosOf, type Row } from './lib/table.js';

const RUN_ID = 'bench-http';
const CONNECTIONS = 8;
const PIPELINING = 4;
const SKU = 0;
/** Untimed load on the fresh service before the rounds. */
const WARM_UP_SECONDS = 2;
const KEYS = new RunKeys(DEFAULT_KEY_TEMPLATES, RUN_ID);
const AUTOCANNON_CHILD = join(ROOT, 'dist', 'bench', 'lib', 'autocannon-child.js');
const SERVE_CHILD = join(ROOT, 'dist', 'bench', 'lib', 'serve-child.js');
/** The same body as sellout's default HTTP body template (src/scenario/http.ts DEFAULT_BODY), autocannon's ID placeholder for <id>. */
const AUTOCANNON_BODY = `{"sku": "${SKU}", "quantity": 1, "requestId": "[<id>]"}`;

export interface HttpArm {
  readonly rps: number;
  /** ok latency, us. */
  readonly p50: number;
  readonly p99: number;
  readonly requests: number;
  /** The load generator's user+sys CPU per deduction, us (sellout: process.cpuUsage around driveLoad, all threads; autocannon: its process), start included. */
  readonly clientUsPerRequest: number;
  /** autocannon: the ok p50 and p99 it printed (whole ms, truncated), us. */
  readonly printed?: { readonly p50: number; readonly p99: number };
  /** The service process's user+sys CPU per deduction, us (undefined in Redis mode or off Linux). */
  readonly serviceUsPerRequest: number | undefined;
  /** Its share of a core over the arm's load time. */
  readonly serviceCores: number | undefined;
  /** Its read + write syscalls per 100 deductions (/proc/<pid>/io): how many requests a read brings it. */
  readonly serviceSyscallsPer100: number | undefined;
}

export interface HttpResults {
  readonly http: HttpArm[];
  readonly autocannon: HttpArm[];
  readonly redis: HttpArm[];
  readonly seconds: number;
  readonly autocannonVersion: string;
}

const log = (text: string) => process.stderr.write(`${text}\n`);

/** The service child: its URL, its CPU so far (Linux /proc), stop. */
interface ServiceChild {
  readonly url: string;
  cpuSeconds(): number | undefined;
  syscalls(): number | undefined;
  stop(): Promise<void>;
}

async function startServiceChild(bench: BenchServer): Promise<ServiceChild> {
  const child: ChildProcess = spawnTracked(process.execPath, [SERVE_CHILD, bench.server.host, String(bench.server.port), RUN_ID], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error('the reference service child printed no port within 10 s')), 10_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch {
        reject(new Error(`the reference service child printed ${JSON.stringify(line)}, not {"port": N}`));
      }
    });
    child.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`the reference service child exited (${code ?? signal}) before listening`)); });
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
  }).catch((err: unknown) => {
    killTracked(child);
    throw err;
  });
  const ticks = 100; // USER_HZ on Linux
  return {
    url: `http://127.0.0.1:${port}`,
    cpuSeconds() {
      try {
        // /proc/<pid>/stat: fields after the ")" of the command name; utime and stime are the 14th and 15th.
        const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return (Number(fields[11]) + Number(fields[12])) / ticks;
      } catch {
        return undefined;
      }
    },
    syscalls() {
      try {
        const io = readFileSync(`/proc/${child.pid}/io`, 'utf8');
        return Number(/^syscr: (\d+)/m.exec(io)?.[1]) + Number(/^syscw: (\d+)/m.exec(io)?.[1]);
      } catch {
        return undefined;
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => killTracked(child), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function seed(bench: BenchServer): Promise<void> {
  await bench.reset();
  await bench.admin.set(KEYS.stock(SKU), String(NEVER_SELLS_OUT));
}

const journalEntries = (bench: BenchServer) => bench.admin.hlen(KEYS.journal(SKU));

type ServiceShare = Pick<HttpArm, 'serviceUsPerRequest' | 'serviceCores' | 'serviceSyscallsPer100'>;
const NO_SERVICE: ServiceShare = { serviceUsPerRequest: undefined, serviceCores: undefined, serviceSyscallsPer100: undefined };

/** The service's readings before an arm: CPU seconds and syscalls. */
const serviceReadings = (service: ServiceChild) => ({ cpu: service.cpuSeconds(), syscalls: service.syscalls() });

function serviceShare(service: ServiceChild, before: ReturnType<typeof serviceReadings>, requests: number, seconds: number): ServiceShare {
  const after = serviceReadings(service);
  const cpu = before.cpu === undefined || after.cpu === undefined ? undefined : after.cpu - before.cpu;
  const calls = before.syscalls === undefined || after.syscalls === undefined ? undefined : after.syscalls - before.syscalls;
  return {
    serviceUsPerRequest: cpu === undefined ? undefined : (cpu / requests) * 1e6,
    serviceCores: cpu === undefined ? undefined : cpu / seconds,
    serviceSyscallsPer100: calls === undefined ? undefined : (calls / requests) * 100,
  };
}

async function selloutArm(bench: BenchServer, service: ServiceChild | undefined, seconds: number, workers: number | undefined): Promise<HttpArm> {
  await seed(bench);
  const yaml = [
    'name: bench-http',
    `script: ${JSON.stringify(SCRIPT_PATH)}`,
    `skus: {count: 1, stock: ${NEVER_SELLS_OUT}}`,
    `duration: ${seconds}s`,
    `load: {model: closed, connections: ${CONNECTIONS}, inFlight: ${PIPELINING}${workers ? `, workers: ${workers}` : ''}}`,
    ...(service ? ['http: {}'] : []),
  ].join('\n');
  const scenario = parseScenario(yaml, join(ROOT, 'bench', 'bench-http.yaml'), { cwd: ROOT });
  if (scenario.scriptSource !== SCRIPT_SOURCE) throw new Error('the bench scenario did not load lua/deduct.lua');
  const before = service ? serviceReadings(service) : undefined;
  const client0 = process.cpuUsage();
  const result = await driveLoad({
    scenario,
    topology: standaloneTopology({ host: bench.server.host, port: bench.server.port, db: 0, tls: false }),
    keys: KEYS,
    runId: RUN_ID,
    scriptSha: SCRIPT_SHA,
    ...(service ? { http: httpTarget(scenario.http!, `${service.url}/deduct`, true) } : {}),
  });
  const client = process.cpuUsage(client0);
  const durationS = result.durationMs / 1000;
  const share = service ? serviceShare(service, before!, result.records.count, durationS) : NO_SERVICE;
  const ok = percentiles(result.histograms[Code.ok]!);
  for (const h of [...result.histograms, ...(result.histogramsRaw ?? [])]) h.destroy();
  const mode = service ? 'HTTP' : 'Redis';
  const replies = result.records.count;
  if (result.counts.ok !== replies || replies === 0) {
    throw new Error(`sellout ${mode} mode: expected every request to deduct, got ${JSON.stringify(result.counts)}${result.connectionErrors[0] ? ` (${result.connectionErrors[0]})` : ''}`);
  }
  const journal = await journalEntries(bench);
  if (journal !== result.counts.ok) throw new Error(`sellout ${mode} mode: ${fmt(result.counts.ok)} ok replies but ${fmt(journal)} journal entries: the replies and the deductions disagree`);
  return { rps: replies / durationS, p50: ok.p50, p99: ok.p99, requests: replies, clientUsPerRequest: (client.user + client.system) / replies, ...share };
}

/** What the autocannon CLI's --json prints (the fields read here). */
interface AutocannonJson {
  readonly duration: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly '2xx': number;
  readonly requests: { readonly total: number; readonly average: number };
  readonly latency: { readonly p50: number; readonly p99: number; readonly average: number };
}

/** What lib/autocannon-child.ts adds after autocannon's line. */
interface ChildJson {
  readonly p50Us: number;
  readonly p99Us: number;
  readonly count: number;
  readonly cpuUs: number;
}

/** The autocannon CLI (its own argument parsing and run, lib/autocannon-child.ts), its --json result and the child's microsecond figures. */
function runAutocannon(url: string, seconds: number): Promise<{ result: AutocannonJson; child: ChildJson }> {
  const args = [
    AUTOCANNON_CHILD, '-c', String(CONNECTIONS), '-p', String(PIPELINING), '-d', String(seconds),
    '-m', 'POST', '-H', 'content-type=application/json', '-b', AUTOCANNON_BODY, '--idReplacement', '--json', `${url}/deduct`,
  ];
  return new Promise((resolve, reject) => {
    const child = spawnTracked(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      const result = lines.find((l) => 'latency' in l) as AutocannonJson | undefined;
      const child = lines.find((l) => 'bench' in l)?.['bench'] as ChildJson | undefined;
      if (code !== 0 || result === undefined || child === undefined) {
        reject(new Error(`autocannon exited ${code}: ${(err || out).trim().split('\n').slice(-3).join(' | ')}`));
        return;
      }
      resolve({ result, child });
    });
  });
}

async function autocannonArm(bench: BenchServer, service: ServiceChild, seconds: number): Promise<HttpArm> {
  await seed(bench);
  const before = serviceReadings(service);
  const { result: r, child } = await runAutocannon(service.url, seconds);
  const ok = r['2xx'];
  const share = serviceShare(service, before, ok, r.duration);
  if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0 || ok === 0) {
    throw new Error(`autocannon: expected every request to deduct (2xx), got ${fmt(ok)} 2xx, ${fmt(r.non2xx)} non-2xx, ${fmt(r.errors)} errors, ${fmt(r.timeouts)} timeouts`);
  }
  // autocannon stops at -d with requests in flight it does not count; the service may still deduct them.
  const journal = await journalEntries(bench);
  if (journal < ok || journal > ok + CONNECTIONS * PIPELINING) {
    throw new Error(`autocannon: ${fmt(ok)} 2xx replies but ${fmt(journal)} journal entries (expected ${fmt(ok)} to ${fmt(ok + CONNECTIONS * PIPELINING)}): its requests were not the deductions it counted`);
  }
  // The latencies it prints are whole ms (see lib/autocannon-child.ts): the figures compared are its response times in us.
  return { rps: ok / r.duration, p50: child.p50Us, p99: child.p99Us, requests: ok, clientUsPerRequest: child.cpuUs / ok, printed: { p50: r.latency.p50 * 1000, p99: r.latency.p99 * 1000 }, ...share };
}

const describe = (a: HttpArm) =>
  `${fmt(a.rps).padStart(7)}/s  ok p50 ${fmt(a.p50)} us  p99 ${fmt(a.p99)} us${a.printed ? ` (printed ${fmt(a.printed.p50)}/${fmt(a.printed.p99)} us)` : ''}  (${fmt(a.requests)} deductions)  client ${a.clientUsPerRequest.toFixed(1)} us/deduction` +
  (a.serviceUsPerRequest !== undefined ? `  service ${a.serviceUsPerRequest.toFixed(1)} us/deduction, ${a.serviceCores!.toFixed(2)} core, ${a.serviceSyscallsPer100?.toFixed(0) ?? '?'} syscalls per 100` : '');

export async function measureHttp(bench: BenchServer, knobs: Knobs): Promise<HttpResults> {
  await initHistograms();
  const seconds = knobs.httpSeconds;
  const autocannonVersion = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'autocannon', 'package.json'), 'utf8')) as { version: string }).version;
  const service = await startServiceChild(bench);
  try {
    log(`http: reference service (child process) at ${service.url}; ${knobs.rounds} interleaved rounds of ${seconds} s per arm, ${CONNECTIONS} connections x ${PIPELINING} in flight: sellout HTTP mode, autocannon ${autocannonVersion} CLI -c ${CONNECTIONS} -p ${PIPELINING}, sellout Redis mode`);
    // A fresh node process runs its first seconds unoptimised: the service's JIT warm-up must not
    // fall on whichever arm happens to go first. autocannon warms it (its own process is fresh every arm anyway).
    await seed(bench);
    await runAutocannon(service.url, WARM_UP_SECONDS);
    const results: HttpResults = { http: [], autocannon: [], redis: [], seconds, autocannonVersion };
    const arms = [
      { name: 'sellout HTTP  ', into: results.http, run: () => selloutArm(bench, service, seconds, knobs.workers) },
      { name: 'autocannon    ', into: results.autocannon, run: () => autocannonArm(bench, service, seconds) },
      { name: 'sellout Redis ', into: results.redis, run: () => selloutArm(bench, undefined, seconds, knobs.workers) },
    ];
    for (let round = 1; round <= knobs.rounds; round++) {
      // Who goes first rotates: a drift in the machine's load hits every arm alike.
      for (let i = 0; i < arms.length; i++) {
        const arm = arms[(round - 1 + i) % arms.length]!;
        const r = await arm.run();
        arm.into.push(r);
        log(`  round ${round} ${arm.name} ${describe(r)}`);
      }
    }
    return results;
  } finally {
    await service.stop();
  }
}

export function httpNotes(r: HttpResults | undefined): string[] {
  const m = (arms: readonly HttpArm[] | undefined, of: (x: HttpArm) => number | undefined, digits = 0) => {
    const values = (arms ?? []).map(of).filter((v): v is number => v !== undefined);
    return values.length > 0 ? fmt(median(values), digits) : '?';
  };
  return [
    `H   One reference sale service (src/serve/, startSaleService as \`sellout run\` starts it) in a child process of its own for the`,
    '    whole part, on the bench\'s redis-server: out of the bench process so that sellout\'s coordinator (here; its load runs in worker',
    '    threads) does not share an event loop or a core with the service while the autocannon CLI would not. Each round, back to',
    `    back (who goes first rotates): sellout HTTP mode, autocannon ${r?.autocannonVersion ?? ''} CLI, sellout Redis mode; each ${CONNECTIONS} connections x ${PIPELINING} in flight`,
    `    for ${r?.seconds ?? '?'} s (sellout: closed model, connections ${CONNECTIONS}, inFlight ${PIPELINING}, duration; autocannon: -c ${CONNECTIONS} -p ${PIPELINING} -d ${r?.seconds ?? '?'}), FLUSHALL first,`,
    '    one SKU whose stock never runs out, a fresh request ID per request (autocannon: --idReplacement [<id>]) so each request is a',
    '    deduction that succeeds; checked against the journal after each arm (sellout: ok == entries; autocannon: 2xx <= entries <= 2xx + in flight).',
    '    Throughput: deductions / load time (sellout: first send to last reply; autocannon: its 2xx / its duration).',
    '    The autocannon CLI prints latency in whole milliseconds (its HdrHistogram\'s lowest discernible value is 1 ms and a float ms is',
    '    truncated), i.e. p50 0 or 1 ms against a local service: no figure to hold microseconds against. So the CLI runs through',
    '    lib/autocannon-child.ts: the CLI\'s own parseArguments and run (it prints the same --json result, read for throughput and the',
    '    2xx count), plus one listener on the \'response\' event autocannon emits for every response anyway, recording each 2xx\'s',
    '    response time (its own float ms, from writing the request to its response) in sellout\'s histogram settings: those are the',
    `    compared p50/p99. What the CLI printed (median of the rounds): p50 ${m(r?.autocannon, (x) => x.printed?.p50)} us, p99 ${m(r?.autocannon, (x) => x.printed?.p99)} us; sellout's`,
    `    truncated the same way: p50 ${m(r?.http, (x) => Math.floor(x.p50 / 1000) * 1000)} us, p99 ${m(r?.http, (x) => Math.floor(x.p99 / 1000) * 1000)} us. Little's law cross-check (closed loop, every slot busy):`,
    `    mean latency = ${CONNECTIONS * PIPELINING} in flight / throughput = ${m(r?.http, (x) => (CONNECTIONS * PIPELINING / x.rps) * 1e6)} us sellout HTTP, ${m(r?.autocannon, (x) => (CONNECTIONS * PIPELINING / x.rps) * 1e6)} us autocannon.`,
    `    The service was warmed by ${WARM_UP_SECONDS} s of autocannon before the rounds (untimed), so its JIT warm-up falls on no arm.`,
    '    Service readings are the child\'s /proc: utime+stime per deduction and over the load time (cores), read+write syscalls per',
    '    100 deductions. A node service is one event loop: near one core it is what limits both HTTP arms, so how a load generator',
    '    writes matters. sellout writes every request a reply freed in one write per connection (its Flusher); autocannon writes each',
    '    pipelined request as it goes. Fewer, fuller reads cost the service less per deduction: compare the syscall and CPU rows.',
    '    Where the time goes: HTTP-mode minus Redis-mode latency, per round, is what the service adds (its HTTP parsing, its own Redis',
    '    round trip, its event loop queueing) at the same connections and requests in flight.',
  ];
}

export function httpRows(r: HttpResults): Row[] {
  const thr = { reference: r.autocannon.map((x) => x.rps), sellout: r.http.map((x) => x.rps) };
  const p50 = { reference: r.autocannon.map((x) => x.p50), sellout: r.http.map((x) => x.p50) };
  const info = (figure: string, unit: string, digits: number, reference: readonly number[] | null, sellout: readonly number[]): Row =>
    ({ target: 'H', figure, unit, digits, reference, sellout, goal: 'reported', met: null });
  const deltas = (of: (x: HttpArm) => number) => r.http.map((x, i) => of(x) - of(r.redis[i]!));
  const all = <T>(xs: readonly (T | undefined)[]): xs is T[] => xs.every((x) => x !== undefined);
  const serviceRow = (figure: string, unit: string, digits: number, of: (x: HttpArm) => number | undefined): Row[] => {
    const reference = r.autocannon.map(of);
    const sellout = r.http.map(of);
    return all(reference) && all(sellout) ? [info(figure, unit, digits, reference, sellout)] : [];
  };
  return [
    { target: 'H', figure: `throughput HTTP mode ${CONNECTIONS}x${PIPELINING}, ref autocannon CLI -c ${CONNECTIONS} -p ${PIPELINING}`, unit: '/s', digits: 0, ...thr, goal: '>= 0.9x ref', met: median(ratiosOf(thr)) >= 0.9 },
    { target: 'H', figure: 'ok p50 HTTP mode, ref autocannon (its response times in us: notes)', unit: 'us', digits: 0, ...p50, goal: '<= 1.2x ref', met: median(ratiosOf(p50)) <= 1.2 },
    info('ok p99 HTTP mode, ref autocannon (us)', 'us', 0, r.autocannon.map((x) => x.p99), r.http.map((x) => x.p99)),
    info('client CPU per deduction (start included), ref autocannon', 'us', 1, r.autocannon.map((x) => x.clientUsPerRequest), r.http.map((x) => x.clientUsPerRequest)),
    ...serviceRow('service CPU per deduction under sellout HTTP, ref under autocannon', 'us', 1, (x) => x.serviceUsPerRequest),
    ...serviceRow('service cores under sellout HTTP, ref under autocannon', 'core', 2, (x) => x.serviceCores),
    ...serviceRow('service read+write syscalls per 100 deductions, ref under autocannon', '', 0, (x) => x.serviceSyscallsPer100),
    info('throughput HTTP mode, ref Redis mode (same scenario)', '/s', 0, r.redis.map((x) => x.rps), r.http.map((x) => x.rps)),
    info('ok p50 HTTP mode, ref Redis mode', 'us', 0, r.redis.map((x) => x.p50), r.http.map((x) => x.p50)),
    info('ok p99 HTTP mode, ref Redis mode', 'us', 0, r.redis.map((x) => x.p99), r.http.map((x) => x.p99)),
    info('the service adds: ok p50 HTTP minus Redis mode', 'us', 0, null, deltas((x) => x.p50)),
    info('the service adds: ok p99 HTTP minus Redis mode', 'us', 0, null, deltas((x) => x.p99)),
  ];
}
