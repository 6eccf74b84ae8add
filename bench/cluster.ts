/**
 * The cluster row of the engine issue: what routing by slot costs sellout's client, measured in
 * this process on a 3-primary embedded cluster next to the bench's standalone server, with a
 * 1-primary cluster as the control (the routing code on, one server like standalone); both
 * clusters are startLocalCluster's, started once for the part. Interleaved rounds, each runs:
 *   sellout standalone | sellout 3-primary | sellout 1-primary   (who goes first rotates)
 *   redis-benchmark --cluster on the 3-primary cluster            (when it is installed)
 *
 * The same closed scenario on every target: SKUS SKUs (uniform, so spread over the shards by
 * their hash tags), a stock that never runs out, quantity 1, a fresh request ID per request. The
 * same sockets and the same requests in flight: standalone (and 1-primary) STANDALONE_CONNECTIONS
 * x IN_FLIGHT; in a cluster a worker opens `connections` connections to EVERY primary, so the
 * 3-primary arm asks for STANDALONE_CONNECTIONS / SHARDS per primary, IN_FLIGHT each.
 *
 * Every run starts from empty servers (FLUSHALL on each node, SCRIPT LOAD on every primary) and
 * seeds the SKUs' stock on the primary owning each one (plain ioredis per node, the owner from
 * skuShards), so nothing here depends on sellout's own seeding.
 *
 * redis-benchmark --cluster cannot send sellout's keys (it does not route a command by its key;
 * probed once per part, see probeRouting), but it can send the same EVALSHA on keys named like
 * sellout's with its `{tag}` placeholder as the hash tag, which it rewrites to a tag of a slot its
 * client's primary owns: that is the reference arm, checked against the journals afterwards.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DEFAULT_KEY_TEMPLATES, RunKeys } from '../src/keys.js';
import { driveLoad } from '../src/load/coordinator.js';
import { initHistograms, percentiles } from '../src/metrics/histogram.js';
import { Code } from '../src/outcomes.js';
import { startLocalCluster } from '../src/redis/local-cluster.js';
import { discoverTopology, skuShards, standaloneTopology, type Topology } from '../src/redis/topology.js';
import { parseScenario } from '../src/scenario/load.js';
import { onCleanup, spawnTracked } from './lib/cleanup.js';
import type { Knobs } from './lib/knobs.js';
import { redisBenchmarkVersion, runRedisBenchmark } from './lib/redis-benchmark.js';
import { NEVER_SELLS_OUT, resetServer, ROOT, SCRIPT_PATH, SCRIPT_SHA, SCRIPT_SOURCE, serverCpuSeconds, type BenchServer } from './lib/server.js';
import { fmt, median } from './lib/stats.js';
import { ratiosOf, type Row } from './lib/table.js';

const RUN_ID = 'bench';
const SHARDS = 3;
const SKUS = 1000;
const IN_FLIGHT = 16;
/** Standalone: 48 x 16. Cluster: 16 per primary x 16, i.e. the same 48 sockets and 768 in flight. */
const STANDALONE_CONNECTIONS = 48;
const PER_SHARD_CONNECTIONS = STANDALONE_CONNECTIONS / SHARDS;
/** sellout's key naming with redis-benchmark's placeholder where the SKU's hash tag goes. */
const RB_STOCK_KEY = DEFAULT_KEY_TEMPLATES.stock.replace('<run>', RUN_ID).replace('{<sku>}', '{tag}');
const RB_JOURNAL_KEY = DEFAULT_KEY_TEMPLATES.journal.replace('<run>', RUN_ID).replace('{<sku>}', '{tag}');

/** A target of the part: its topology and one admin connection per shard, in topology order. */
interface Target {
  readonly topology: Topology;
  readonly admins: readonly Redis[];
}

export interface ClusterSelloutArm {
  readonly rps: number;
  readonly okP99: number;
  /** process.cpuUsage around driveLoad per reply (all threads, worker start included), us. */
  readonly cpuUsPerReply: number;
  /** The same between the first and the last progress tick (steady state), us; undefined when too short. */
  readonly steadyUsPerReply: number | undefined;
  /** read + write syscalls of this process (/proc/self/io) per 100 replies, steady state: how well replies are batched. */
  readonly steadySyscallsPer100: number | undefined;
  /** INFO cpu deltas summed over the primaries, per reply, us. */
  readonly serverUsPerReply: number;
  /** Each primary's share of a core over the load time. */
  readonly serverCores: number[];
}

export interface ClusterReferenceArm {
  readonly rps: number;
  readonly p99Us: number;
  readonly cpuUsPerRequest: number;
  readonly serverUsPerRequest: number;
  readonly serverCores: number[];
  /** The stock keys redis-benchmark wrote to, one per primary. */
  readonly keys: string[];
}

/** What redis-benchmark --cluster did with sellout's key shape (a hash tag from __rand_int__). */
export interface RoutingProbe {
  readonly command: string;
  readonly exitCode: number;
  /** Its first error line, as printed. */
  readonly error: string;
}

export interface ClusterResults {
  readonly standalone: ClusterSelloutArm[];
  readonly cluster: ClusterSelloutArm[];
  /** The control: a 1-primary cluster, i.e. the routing code on, one server like standalone. */
  readonly single: ClusterSelloutArm[];
  readonly reference: ClusterReferenceArm[];
  /** Undefined when redis-benchmark is not installed. */
  readonly probes: RoutingProbe[] | undefined;
  /** SKUs each primary owns. */
  readonly skusPerShard: number[];
}

const log = (text: string) => process.stderr.write(`${text}\n`);

async function connectAll(topology: Topology): Promise<Redis[]> {
  const admins = topology.shards.map(({ endpoint }) => new Redis({ host: endpoint.host, port: endpoint.port, lazyConnect: true, maxRetriesPerRequest: 1 }));
  await Promise.all(admins.map((a) => a.connect()));
  return admins;
}

/** Empty servers, the script loaded on every primary, every SKU's stock on its owner. */
async function seed(target: Target, keys: RunKeys): Promise<void> {
  await Promise.all(target.admins.map(resetServer));
  const owners = skuShards(target.topology, keys, SKUS);
  const pipelines = target.admins.map((a) => a.pipeline());
  for (let sku = 0; sku < SKUS; sku++) pipelines[owners[sku]!]!.set(keys.stock(sku), String(NEVER_SELLS_OUT));
  const replies = await Promise.all(pipelines.map((p) => p.exec()));
  const failed = replies.flatMap((r) => r ?? []).find(([err]) => err);
  if (failed) throw new Error(`seeding the SKUs' stock failed: ${failed[0]!.message}`);
}

/** read and write syscalls of this process so far, every thread (live or exited); undefined off Linux. */
function syscalls(): number | undefined {
  try {
    const io = readFileSync('/proc/self/io', 'utf8');
    return Number(/^syscr: (\d+)/m.exec(io)?.[1]) + Number(/^syscw: (\d+)/m.exec(io)?.[1]);
  } catch {
    return undefined;
  }
}

const cpuOf = (target: Target) => Promise.all(target.admins.map(serverCpuSeconds));

async function selloutArm(target: Target, keys: RunKeys, connections: number, requests: number, workers: number | undefined): Promise<ClusterSelloutArm> {
  await seed(target, keys);
  const yaml = [
    'name: bench-cluster',
    `script: ${JSON.stringify(SCRIPT_PATH)}`,
    `skus: {count: ${SKUS}, stock: ${NEVER_SELLS_OUT}, selection: uniform}`,
    `requests: ${requests}`,
    `load: {model: closed, connections: ${connections}, inFlight: ${IN_FLIGHT}${workers ? `, workers: ${workers}` : ''}}`,
  ].join('\n');
  const scenario = parseScenario(yaml, join(ROOT, 'bench', 'bench-cluster.yaml'), { cwd: ROOT });
  if (scenario.scriptSource !== SCRIPT_SOURCE) throw new Error('the bench scenario did not load lua/deduct.lua');
  const ticks: { atMs: number; cpuUs: number; replies: number; syscalls: number | undefined }[] = [];
  const cpuNow = () => { const c = process.cpuUsage(); return c.user + c.system; };
  const server0 = await cpuOf(target);
  const cpu0 = cpuNow();
  const result = await driveLoad({
    scenario,
    topology: target.topology,
    keys,
    runId: RUN_ID,
    scriptSha: SCRIPT_SHA,
    onProgress: (p) => { ticks.push({ atMs: performance.now(), cpuUs: cpuNow(), replies: p.replies, syscalls: syscalls() }); },
  });
  const cpuUs = cpuNow() - cpu0;
  const server1 = await cpuOf(target);
  const okP99 = percentiles(result.histograms[Code.ok]!).p99;
  for (const h of [...result.histograms, ...(result.histogramsRaw ?? [])]) h.destroy();
  const replies = result.records.count;
  const where = target.topology.cluster ? 'cluster' : 'standalone';
  if (result.counts.ok !== replies || replies !== requests) {
    throw new Error(`sellout ${where}: expected every request to deduct, got ${JSON.stringify(result.counts)}${result.connectionErrors[0] ? ` (${result.connectionErrors[0]})` : ''}`);
  }
  const { moved, ask, tryagain } = result.redirects;
  if (moved + ask + tryagain > 0) throw new Error(`sellout ${where}: ${moved} MOVED, ${ask} ASK, ${tryagain} TRYAGAIN on a cluster whose slots never moved: routing sent requests to the wrong primary`);
  const first = ticks[0];
  const last = ticks.at(-1);
  const steady = first && last && last.atMs - first.atMs > 500 && last.replies > first.replies;
  const durationS = result.durationMs / 1000;
  const serverS = server1.map((s, i) => s - server0[i]!);
  return {
    rps: replies / durationS,
    okP99,
    cpuUsPerReply: cpuUs / replies,
    steadyUsPerReply: steady ? (last.cpuUs - first.cpuUs) / (last.replies - first.replies) : undefined,
    steadySyscallsPer100: steady && first.syscalls !== undefined && last.syscalls !== undefined ? ((last.syscalls - first.syscalls) / (last.replies - first.replies)) * 100 : undefined,
    serverUsPerReply: (serverS.reduce((a, b) => a + b, 0) / replies) * 1e6,
    serverCores: serverS.map((s) => s / durationS),
  };
}

/** Runs a short tool command; its exit code and output (stdout and stderr). */
function runTool(command: string, args: readonly string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), out: out.replace(/\r/g, '\n') }));
  });
}

/**
 * Can redis-benchmark --cluster send sellout's key shape (the SKU as the hash tag, here a
 * `__rand_int__`)? Two probes on the cluster (no keys, the script loaded): the deduction itself (two keys), and one key
 * (GET) to see whether a command goes to the primary owning its key. What it printed is the answer.
 */
async function probeRouting(port: number): Promise<RoutingProbe[]> {
  const stock = RB_STOCK_KEY.replace('{tag}', '{__rand_int__}');
  const journal = RB_JOURNAL_KEY.replace('{tag}', '{__rand_int__}');
  const probes = [
    ['EVALSHA', SCRIPT_SHA, '2', stock, journal, '1', 'req:__rand_int__'],
    ['GET', stock],
  ];
  const results: RoutingProbe[] = [];
  for (const command of probes) {
    const { code, out } = await runTool('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '--cluster', '-c', '3', '-n', '3000', '-r', '1000', ...command]);
    const error = out.split('\n').find((l) => /error/i.test(l) && !/-e option/.test(l))?.trim() ?? '(no error printed)';
    results.push({ command: command.map((a) => (a === SCRIPT_SHA ? '<sha>' : a)).join(' '), exitCode: code, error });
  }
  return results;
}

/**
 * redis-benchmark's keys: its `{tag}` becomes the hash tag of the first slot of the client's
 * primary, one per primary. A SET through redis-benchmark itself writes the stock there (whatever
 * its tag table says), and each primary must then hold exactly one stock key.
 */
async function seedReference(cluster: Target, port: number, connections: number): Promise<string[]> {
  await Promise.all(cluster.admins.map(resetServer));
  const pattern = RB_STOCK_KEY.replace('{tag}', '*');
  for (let attempt = 1; ; attempt++) {
    const { code, out } = await runTool('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '--cluster', '-c', String(connections), '-n', String(connections * 100), 'SET', RB_STOCK_KEY, String(NEVER_SELLS_OUT)]);
    if (code !== 0) throw new Error(`redis-benchmark --cluster SET (seeding its keys) exited ${code}: ${out.trim().split('\n').slice(-3).join(' | ')}`);
    const found = await Promise.all(cluster.admins.map((a) => a.keys(pattern)));
    if (found.some((k) => k.length > 1)) throw new Error(`redis-benchmark --cluster wrote more than one {tag} key on a primary (${JSON.stringify(found)}): it no longer keeps one tag per primary, the reference arm needs a look`);
    if (found.every((k) => k.length === 1)) return found.map((k) => k[0]!);
    // A primary's clients got no request of the SET run (its threads race for them): again.
    if (attempt === 5) throw new Error(`redis-benchmark --cluster did not write a {tag} key on every primary in 5 tries (${JSON.stringify(found)})`);
  }
}

async function referenceArm(cluster: Target, port: number, requests: number): Promise<ClusterReferenceArm> {
  const keys = await seedReference(cluster, port, STANDALONE_CONNECTIONS);
  const server0 = await cpuOf(cluster);
  const r = await runRedisBenchmark(port, { cluster: true, sha: SCRIPT_SHA, stockKey: RB_STOCK_KEY, journalKey: RB_JOURNAL_KEY, connections: STANDALONE_CONNECTIONS, pipeline: IN_FLIGHT, requests });
  const server1 = await cpuOf(cluster);
  // An error reply to a command with {tag} does not stop redis-benchmark (it may be a MOVED): it
  // counts as a request. Every request must have deducted: the journals say how many did.
  const journals = RB_JOURNAL_KEY.replace('{tag}', '*');
  let deducted = 0;
  for (const admin of cluster.admins) {
    for (const key of await admin.keys(journals)) deducted += await admin.hlen(key);
  }
  if (deducted !== requests) throw new Error(`redis-benchmark --cluster reported ${fmt(requests)} requests, the journals hold ${fmt(deducted)} deductions: the rest were error replies it counted as requests`);
  const durationS = requests / r.rps;
  const serverS = server1.map((s, i) => s - server0[i]!);
  return {
    rps: r.rps,
    p99Us: r.p99Us,
    cpuUsPerRequest: (r.cpuSeconds / requests) * 1e6,
    serverUsPerRequest: (serverS.reduce((a, b) => a + b, 0) / requests) * 1e6,
    serverCores: serverS.map((s) => s / durationS),
    keys,
  };
}

interface EmbeddedCluster extends Target {
  /** A node's port, where redis-benchmark --cluster starts. */
  readonly port: number;
  stop(): Promise<void>;
}

/** startLocalCluster, its slot map (discoverTopology, as a run learns it) and an admin per primary; stopped on Ctrl-C too. */
async function startCluster(shards: number): Promise<EmbeddedCluster> {
  const local = await startLocalCluster({ shards });
  const admins: Redis[] = [];
  const stopAll = async () => {
    for (const a of admins) a.disconnect();
    await local.stop();
  };
  const unregister = onCleanup(stopAll);
  const stop = async () => {
    unregister();
    await stopAll();
  };
  try {
    const { host, port } = local.nodes[0]!;
    const seedAdmin = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 1 });
    let topology: Topology;
    try {
      await seedAdmin.connect();
      topology = await discoverTopology(seedAdmin, { host, port, db: 0, tls: false });
    } finally {
      seedAdmin.disconnect();
    }
    admins.push(...(await connectAll(topology)));
    return { topology, admins, port, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

const cores = (xs: readonly number[]) => xs.map((x) => x.toFixed(2)).join('/');
const describe = (so: ClusterSelloutArm) =>
  `${fmt(so.rps).padStart(8)}/s  ok p99 ${fmt(so.okP99)} us  client ${so.cpuUsPerReply.toFixed(2)} us/deduction (steady ${so.steadyUsPerReply?.toFixed(2) ?? '?'}, ` +
  `${so.steadySyscallsPer100?.toFixed(1) ?? '?'} syscalls per 100)  server ${so.serverUsPerReply.toFixed(2)} us/deduction, ${cores(so.serverCores)} core`;

export async function measureCluster(bench: BenchServer, knobs: Knobs): Promise<ClusterResults> {
  await initHistograms();
  const n = knobs.clusterRequests;
  const keys = new RunKeys(DEFAULT_KEY_TEMPLATES, RUN_ID);
  const withReference = redisBenchmarkVersion() !== undefined;
  log(`cluster: starting a ${SHARDS}-primary and a 1-primary embedded cluster`);
  const started: EmbeddedCluster[] = [];
  try {
    const cluster = await startCluster(SHARDS);
    started.push(cluster);
    const single = await startCluster(1);
    started.push(single);
    const standalone: Target = { topology: standaloneTopology({ host: bench.server.host, port: bench.server.port, db: 0, tls: false }), admins: [bench.admin] };
    const owners = skuShards(cluster.topology, keys, SKUS);
    const skusPerShard = cluster.topology.shards.map((_, s) => owners.filter((o) => o === s).length);
    // The probes run with the script loaded, so what stops redis-benchmark can only be where its keys went.
    if (withReference) await Promise.all(cluster.admins.map(resetServer));
    const results: ClusterResults = { standalone: [], cluster: [], single: [], reference: [], probes: withReference ? await probeRouting(cluster.port) : undefined, skusPerShard };
    log(
      `cluster: primaries ${cluster.topology.shards.map((s) => s.node).join(', ')}; ${SKUS} SKUs (${skusPerShard.join('/')} per primary); ${knobs.rounds} interleaved rounds of ${fmt(n)} requests: ` +
        `standalone ${STANDALONE_CONNECTIONS}x${IN_FLIGHT}, cluster ${PER_SHARD_CONNECTIONS}x${IN_FLIGHT} per primary, 1-primary cluster ${STANDALONE_CONNECTIONS}x${IN_FLIGHT}` +
        `${withReference ? `, redis-benchmark --cluster -c ${STANDALONE_CONNECTIONS} -P ${IN_FLIGHT}` : ' (redis-benchmark not installed: no reference arm)'}`,
    );
    for (const p of results.probes ?? []) log(`  probe redis-benchmark --cluster ${p.command}: exit ${p.exitCode}, ${p.error}`);
    const arms = [
      { name: 'standalone      ', target: standalone, connections: STANDALONE_CONNECTIONS, into: results.standalone },
      { name: `cluster (${SHARDS})     `, target: cluster, connections: PER_SHARD_CONNECTIONS, into: results.cluster },
      { name: 'cluster (1)     ', target: single, connections: STANDALONE_CONNECTIONS, into: results.single },
    ];
    for (let round = 1; round <= knobs.rounds; round++) {
      // The sellout arms take turns going first: a drift in the machine's load hits each alike.
      for (let i = 0; i < arms.length; i++) {
        const arm = arms[(round - 1 + i) % arms.length]!;
        const so = await selloutArm(arm.target, keys, arm.connections, n, knobs.workers);
        arm.into.push(so);
        log(`  round ${round} sellout ${arm.name} ${describe(so)}`);
      }
      if (withReference) {
        const rb = await referenceArm(cluster, cluster.port, n);
        results.reference.push(rb);
        log(`  round ${round} redis-benchmark --cluster ${fmt(rb.rps).padStart(8)}/s  p99 ${fmt(rb.p99Us)} us  client ${rb.cpuUsPerRequest.toFixed(2)} us/req  server ${rb.serverUsPerRequest.toFixed(2)} us/req, ${cores(rb.serverCores)} core (keys ${rb.keys.join(' ')})`);
      }
    }
    return results;
  } finally {
    for (const c of started) await c.stop();
  }
}

export function clusterNotes(r: ClusterResults | undefined): string[] {
  const m = (arms: readonly ClusterSelloutArm[] | undefined, of: (x: ClusterSelloutArm) => number | undefined, digits: number) => {
    const values = (arms ?? []).map(of).filter((v): v is number => v !== undefined);
    return values.length > 0 ? fmt(median(values), digits) : '?';
  };
  const serverCores = (x: ClusterSelloutArm) => x.serverCores.reduce((a, b) => a + b, 0);
  const notes = [
    `C   ${SHARDS}-primary cluster: redis-server primaries on loopback (startLocalCluster: slots split evenly, no replicas); a 1-primary`,
    '    cluster as a control (the routing code on, one server like standalone); both started once for the part. Standalone: the',
    `    bench's own server. The same closed scenario on each: ${SKUS} SKUs (uniform${r ? `; ${r.skusPerShard.join('/')} per primary` : ''}), stock never runs out,`,
    `    quantity 1, and the same ${STANDALONE_CONNECTIONS} sockets and ${STANDALONE_CONNECTIONS * IN_FLIGHT} in flight: standalone and 1-primary ${STANDALONE_CONNECTIONS} connections x ${IN_FLIGHT}; ${SHARDS} primaries ${PER_SHARD_CONNECTIONS} x ${IN_FLIGHT}`,
    '    per primary (a worker opens `connections` to every primary). The sellout arms take turns going first; stock is seeded per',
    '    primary (ioredis, owner from skuShards), the script loaded on every primary.',
    '    Client CPU per deduction = process.cpuUsage around driveLoad / replies (all threads, worker start included, as in 1);',
    '    "steady" = the same between the first and the last progress tick (none for a run shorter than two ticks); syscalls =',
    '    read+write syscalls of the bench process (/proc/self/io) over that window. Server CPU = INFO cpu deltas summed over primaries.',
    `C   On 2 cores a cluster cannot scale throughput: ${SHARDS} primaries, sellout's worker and its coordinator share the same 2 cores.`,
    `    The cluster's throughput (${m(r?.cluster, (x) => x.rps, 0)} vs ${m(r?.standalone, (x) => x.rps, 0)}/s standalone) is not scaling: a standalone server is one thread, it`,
    `    saturates one core (${m(r?.standalone, serverCores, 2)} core) and sellout does not fill the second; the primaries use the spare (${m(r?.cluster, serverCores, 2)} core together).`,
    '    More primaries would add nothing here. The row measures routing cost, not scaling: client CPU per deduction vs standalone.',
    `    The 1-primary control runs the routing code (SKU -> shard lookups, redirect checks) against one server: ${m(r?.single, (x) => x.steadyUsPerReply, 2)} vs`,
    `    ${m(r?.standalone, (x) => x.steadyUsPerReply, 2)} us steady is what routing itself costs. The rest of the ${SHARDS}-primary steady figure (${m(r?.cluster, (x) => x.steadyUsPerReply, 2)} us) comes with ${SHARDS} servers`,
    `    sharing 2 cores with sellout (likely smaller reply batches from half-busy primaries: ${m(r?.cluster, (x) => x.steadySyscallsPer100, 1)} vs ${m(r?.standalone, (x) => x.steadySyscallsPer100, 1)} syscalls per`,
    `    100 deductions, and contended caches: the servers' own CPU per deduction rises too, ${m(r?.cluster, (x) => x.serverUsPerReply, 2)} vs ${m(r?.standalone, (x) => x.serverUsPerReply, 2)} us).`,
    '    The target\'s whole-run figure also carries worker start (a fixed cost both arms pay), which dilutes its ratio.',
  ];
  if (!r || r.probes === undefined) {
    notes.push('C   redis-benchmark is not installed: no reference arm on the cluster.');
    return notes;
  }
  notes.push(
    'C   redis-benchmark --cluster cannot send sellout\'s keys (the SKU as the hash tag). Observed in this run:',
    ...r.probes.map((p) => `      \`${p.command}\`: exit ${p.exitCode}, "${p.error}"`),
    '    Every __rand_int__ is drawn on its own (stock and journal keys got different tags: CROSSSLOT), and it sends each',
    '    client\'s commands to the one primary the client is bound to (clients round-robin over the primaries), never routed by',
    '    key (MOVED), exiting at the first error reply. It can send the deduction only with its {tag} placeholder, which it',
    '    rewrites to the hash tag of the FIRST slot of the client\'s primary: one key pair per primary for the whole run',
    `    (${r.reference[0]?.keys.join(' ') ?? '?'}) vs sellout's ${SKUS} SKUs. That is the reference arm: -c ${STANDALONE_CONNECTIONS} -P ${IN_FLIGHT}`,
    `    (${PER_SHARD_CONNECTIONS} clients per primary, one thread per primary), its stock set through redis-benchmark itself (SET with {tag}). An`,
    '    error reply to a {tag} command does not stop it (it counts as a request), so each run is checked: the journals hold every request.',
  );
  return notes;
}

export function clusterRows(r: ClusterResults): Row[] {
  const cpu = { reference: r.standalone.map((x) => x.cpuUsPerReply), sellout: r.cluster.map((x) => x.cpuUsPerReply) };
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  const versus = (arms: readonly ClusterSelloutArm[]) => ({ reference: r.standalone, sellout: arms });
  // Rounds too short for two progress ticks have no steady figure: those rows show the others (paired).
  const steadyRow = (figure: string, unit: string, digits: number, arms: readonly ClusterSelloutArm[], of: (x: ClusterSelloutArm) => number | undefined): Row[] => {
    const pairs = r.standalone.map((x, i) => [of(x), arms[i] && of(arms[i])] as const).filter((p): p is readonly [number, number] => p[0] !== undefined && p[1] !== undefined);
    if (pairs.length === 0) return [];
    const some = pairs.length < arms.length ? ` (${pairs.length} of ${arms.length} rounds)` : '';
    return [{ target: 'C', figure: `${figure}${some}`, unit, digits, reference: pairs.map((p) => p[0]), sellout: pairs.map((p) => p[1]), goal: 'reported', met: null }];
  };
  const info = (figure: string, unit: string, digits: number, of: (x: ClusterSelloutArm) => number, arms = r.cluster): Row => {
    const { reference, sellout } = versus(arms);
    return { target: 'C', figure, unit, digits, reference: reference.map(of), sellout: sellout.map(of), goal: 'reported', met: null };
  };
  const rows: Row[] = [
    { target: 'C', figure: `client CPU per deduction, ${SHARDS}-primary cluster, ref standalone`, unit: 'us', digits: 2, ...cpu, goal: '<= 1.2x ref', met: median(ratiosOf(cpu)) <= 1.2 },
    ...steadyRow(`client CPU per deduction steady, ${SHARDS}-primary, ref standalone`, 'us', 2, r.cluster, (x) => x.steadyUsPerReply),
    info('client CPU per deduction, 1-primary cluster (control), ref standalone', 'us', 2, (x) => x.cpuUsPerReply, r.single),
    ...steadyRow('client CPU per deduction steady, 1-primary, ref standalone', 'us', 2, r.single, (x) => x.steadyUsPerReply),
    ...steadyRow(`client syscalls per 100 deductions steady, ${SHARDS}-primary, ref standalone`, '', 1, r.cluster, (x) => x.steadySyscallsPer100),
    info(`throughput, ${SHARDS}-primary, ref standalone (2 cores: see notes)`, '/s', 0, (x) => x.rps),
    info(`ok p99, ${SHARDS}-primary, ref standalone`, 'us', 0, (x) => x.okP99),
    info(`server CPU per deduction (all primaries), ${SHARDS}-primary, ref standalone`, 'us', 2, (x) => x.serverUsPerReply),
    info(`server cores (all primaries), ${SHARDS}-primary, ref standalone`, 'core', 2, (x) => sum(x.serverCores)),
  ];
  if (r.reference.length > 0) {
    rows.push(
      { target: 'C', figure: `throughput on the ${SHARDS}-primary cluster, ref redis-benchmark --cluster`, unit: '/s', digits: 0, reference: r.reference.map((x) => x.rps), sellout: r.cluster.map((x) => x.rps), goal: 'higher is better', met: null },
      { target: 'C', figure: 'client CPU per request on the cluster, ref redis-benchmark --cluster', unit: 'us', digits: 2, reference: r.reference.map((x) => x.cpuUsPerRequest), sellout: r.cluster.map((x) => x.cpuUsPerReply), goal: 'lower is better', met: null },
      { target: 'C', figure: 'ok p99 on the cluster, ref redis-benchmark --cluster', unit: 'us', digits: 0, reference: r.reference.map((x) => x.p99Us), sellout: r.cluster.map((x) => x.okP99), goal: 'reported', met: null },
      { target: 'C', figure: 'server CPU per deduction on the cluster, ref redis-benchmark --cluster', unit: 'us', digits: 2, reference: r.reference.map((x) => x.serverUsPerRequest), sellout: r.cluster.map((x) => x.serverUsPerReply), goal: 'reported', met: null },
    );
  }
  return rows;
}
