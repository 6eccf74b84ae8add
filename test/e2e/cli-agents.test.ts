/**
 * Several load agents, one verdict (issue 14), with real processes against a private, real
 * redis-server: `run --agents 3` gives the totals and verdict of one process on the same scenario
 * and seed; every broken-script fixture is still caught with 3 agents; an agent killed mid-run
 * gives `incomplete` (exit 3) and a report; a second collect after cleanup says the run is gone;
 * prepare / agent / collect take bad input with one line and exit 2.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cliEnv, ROOT, runCli, startCli, track } from '../helpers/cli.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import type { SummaryV1 } from '../../src/summary/summary.js';

let dir: string;
let redis: TestRedis;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sellout-agents-'));
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let files = 0;
function scenario(body: string): string {
  const file = join(dir, `s${++files}.yaml`);
  writeFileSync(file, `name: s${files}\nscript: ${ROOT}/lua/deduct.lua\n${body}`);
  return file;
}

function summaryIn(out: string): SummaryV1 {
  return JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as SummaryV1;
}

/** Per-SKU requests and ok replies from skus.csv (the plan's SKUs: the same whoever sent them). */
function skuLoad(out: string): string[] {
  const [head, ...rows] = readFileSync(join(out, 'skus.csv'), 'utf8').trim().split('\n');
  const cols = head!.split(',');
  const pick = ['sku', 'requests', 'ok', 'journal', 'final'].map((c) => cols.indexOf(c));
  expect(pick.every((i) => i >= 0), head).toBe(true);
  return rows.map((r) => { const v = r.split(','); return pick.map((i) => v[i]).join(','); });
}

describe('sellout run --agents 3', () => {
  it('gives the same totals, per-SKU load and verdict as one process on the same scenario and seed', async () => {
    // Every original has a twin sent right after it and stock never runs out: the plan's totals are exact.
    const file = scenario('skus: {count: 6, stock: 100000}\nrequests: 6000\nload: {connections: 4, inFlight: 4, workers: 1}\nduplicates: {ratio: 1, pattern: concurrent}\nseed: 11\n');
    const one = join(dir, 'one');
    const three = join(dir, 'three');
    const a = await runCli(['run', file, '--redis', redis.url, '--out', one, '--quiet']);
    expect(a.code, a.stderr).toBe(0);
    const b = await runCli(['run', file, '--redis', redis.url, '--out', three, '--agents', '3']);
    expect(b.code, b.stderr + b.stdout).toBe(0);
    const s1 = summaryIn(one);
    const s3 = summaryIn(three);
    expect(s3.requests).toBe(6000);
    expect(s3.outcomes).toEqual(s1.outcomes);
    expect(s3.outcomes.ok).toBe(3000);
    expect(s3.outcomes.duplicate).toBe(3000);
    expect(s3.verdict).toEqual(s1.verdict);
    expect(s3.invariants.map((i) => [i.name, i.status])).toEqual(s1.invariants.map((i) => [i.name, i.status]));
    // The three slices are exactly the one plan: every SKU got the same requests.
    expect(skuLoad(three)).toEqual(skuLoad(one));
    // One entry per agent, in segment order, with what it sent and its clock.
    expect(s3.agents!.map((x) => [x.segment, x.status, x.requests])).toEqual([[0, 'ok', 2000], [1, 'ok', 2000], [2, 'ok', 2000]]);
    for (const agent of s3.agents!) {
      expect(Number.isFinite(agent.clockOffsetUs)).toBe(true);
      expect(agent.clockUncertaintyUs).toBeGreaterThan(0);
      // Bounded: at most 24 bytes a request (24 MB per million), plus a header of fixed size (histograms, series).
      expect(agent.bundleBytes!).toBeLessThanOrEqual(24 * agent.requests + 64 * 1024);
    }
    // Merged latency counts are every reply, once.
    expect(s3.latency.ok!.count + s3.latency.duplicate!.count).toBe(6000);
    expect(s3.clockSkippedPairs).toBeGreaterThanOrEqual(0);
    expect(b.stdout).toMatch(/agents {6}segment 0\/3 {2}\S+ {2}2,000 requests {2}clock [+-][\d,]+ us from Redis TIME \(\+\/- \d+ us\)/);
    // The reports say who sent what.
    expect(readFileSync(join(three, 'summary.md'), 'utf8')).toMatch(/### Agents\n\n\| segment \| host \| status \| requests \| clock vs Redis TIME \| bundle \|/);
    expect(readFileSync(join(three, 'report.html'), 'utf8').match(/<tr data-status="ok">/g)).toHaveLength(3);
    // Nothing left: the sale's keys and the agents' own.
    expect(await redis.client.dbsize()).toBe(0);
  }, 120_000);

  it('cross-agent twins: each twin goes out from the next agent, and the sale passes', async () => {
    const file = scenario('skus: {count: 2, stock: 600}\nrequests: 3000\nquantity: {1: 0.7, 2: 0.3}\nload: {connections: 2, inFlight: 4, workers: 1}\nduplicates: {ratio: 0.5, pattern: cross-agent}\nseed: 5\n');
    const out = join(dir, 'cross');
    const r = await runCli(['run', file, '--redis', redis.url, '--out', out, '--agents', '3', '--quiet']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const s = summaryIn(out);
    // Twins went out (from the next agent, at about their original's position in its slice: whether
    // the two overlap in flight depends on how evenly the agents run, so it is not asserted).
    const c = s.coverage!;
    expect(c.concurrentTwin + c.twinAfterOk + c.twinAfterSoldOut).toBeGreaterThan(0);
    expect(s.outcomes.duplicate).toBeGreaterThan(0);
    expect(s.invariants.filter((i) => i.status === 'fail')).toEqual([]);
  }, 120_000);
});

describe('a Redis Cluster with agents', () => {
  it('run --agents 2 --redis cluster: the agents route by slot as one process does, one verdict, PASS', async () => {
    const out = join(dir, 'cluster');
    const r = await runCli(['run', join(ROOT, 'scenarios/smoke.yaml'), '--redis', 'cluster', '--agents', '2', '--out', out, '--quiet', '--set', 'requests=1000']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const s = summaryIn(out);
    expect(s.target.mode).toBe('cluster');
    expect(s.target.kind).toBe('embedded');
    expect(s.shards!.length).toBe(3);
    expect(s.requests).toBe(1000);
    expect(s.agents!.map((a) => a.requests)).toEqual([500, 500]);
  }, 60_000);
});

describe('HTTP mode with agents', () => {
  it('each agent runs its own reference service on the one Redis: one verdict, PASS', async () => {
    const out = join(dir, 'http');
    const r = await runCli(['run', join(ROOT, 'scenarios/http-smoke.yaml'), '--redis', redis.url, '--agents', '2', '--out', out, '--quiet', '--set', 'requests=1000']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const s = summaryIn(out);
    expect(s.http!.reference).toBe(true);
    expect(s.agents!.map((a) => a.status)).toEqual(['ok', 'ok']);
    expect(s.outcomes.ok).toBeGreaterThan(0);
    expect(s.invariants.filter((i) => i.status === 'fail')).toEqual([]);
    expect(await redis.client.dbsize()).toBe(0);
  }, 60_000);
});

describe('Ctrl-C', () => {
  it('to the process group of run --agents 2: the agents store what they measured, the run is verified and reported interrupted (exit 130), nothing is left', async () => {
    const file = scenario('skus: {count: 3, stock: 100000000}\nduration: 60s\nload: {connections: 2, inFlight: 4, workers: 1}\n');
    const out = join(dir, 'ctrl-c');
    const run = startCli(['run', file, '--redis', redis.url, '--agents', '2', '--out', out], { detached: true });
    await waitFor(async () => (await redis.client.keys('sellout:*:agents:*:t0')).length === 1, 60_000);
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(-run.child.pid!, 'SIGINT');
    const code = await run.exited;
    expect(code, run.output.stderr + run.output.stdout).toBe(130);
    const s = summaryIn(out);
    expect(s.status).toBe('interrupted');
    expect(s.agents!.map((a) => a.status)).toEqual(['ok', 'ok']);
    expect(s.agents!.every((a) => a.requests > 0)).toBe(true);
    expect(s.invariants.filter((i) => i.status === 'fail')).toEqual([]);
    expect(s.durationMs).toBeLessThan(30_000);
    expect(await redis.client.dbsize()).toBe(0);
  }, 120_000);
});

describe('broken scripts are still caught with 3 agents', () => {
  const cases: { script: string; extra?: string[]; fails: string[] }[] = [
    // Stock for every request: three agents put three times the requests in flight, and a sale that
    // sells out in the first wave leaves no stock for a retry to deduct twice (then nothing fails).
    { script: 'no-idempotency', extra: ['--set', 'skus.stock=400'], fails: ['conservation', 'chain', 'no-lost-ack', 'at-most-once'] },
    { script: 'negative-stock', extra: ['--set', 'quantity=3', '--set', 'skus.stock=10'], fails: ['well-formed'] },
    { script: 'skip-journal', extra: ['--set', 'duplicates.ratio=0'], fails: ['conservation', 'chain', 'no-lost-ack'] },
    { script: 'wrong-change', fails: ['well-formed', 'conservation', 'no-lost-ack', 'no-unexpected'] },
    { script: 'wrong-reply', fails: ['no-lost-ack'] },
    { script: 'false-sold-out', fails: ['no-undersell'] },
    { script: 'string-compare', fails: ['no-undersell'] },
  ];
  for (const { script, extra = [], fails } of cases) {
    it(`${script}.lua fails ${fails.join(', ')} (exit 1)`, async () => {
      const out = join(dir, `broken-${script}`);
      const r = await runCli(['run', join(ROOT, 'test/fixtures/broken-sale.yaml'), '--script', join(ROOT, `test/fixtures/broken/${script}.lua`), '--redis', redis.url, '--agents', '3', '--out', out, '--quiet', ...extra]);
      expect(r.code, r.stderr + r.stdout).toBe(1);
      const s = summaryIn(out);
      expect(s.agents).toHaveLength(3);
      expect(s.invariants.filter((i) => i.status === 'fail').map((i) => i.name), JSON.stringify(s.invariants.map((i) => [i.name, i.status, i.actual]))).toEqual(fails);
      expect(await redis.client.dbsize()).toBe(0);
    }, 60_000);
  }
});

/** `sellout agent` as its own process (as on its own machine). */
function startAgent(runId: string, segment: string | { jobIndex: string }): { exited: Promise<number | null>; kill: () => void; stderr: () => string } {
  // A Kubernetes Indexed Job's pod gives its index in JOB_COMPLETION_INDEX instead of --segment.
  const where = typeof segment === 'string' ? ['--segment', segment] : [];
  const env = typeof segment === 'string' ? {} : { JOB_COMPLETION_INDEX: segment.jobIndex };
  const child = track(spawn(process.execPath, [BIN, 'agent', '--redis', redis.url, '--run-id', runId, ...where, '--wait', '60s'], { cwd: ROOT, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] }));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.stdout!.resume();
  return { exited: new Promise((resolve) => child.on('close', (code) => resolve(code))), kill: () => child.kill('SIGKILL'), stderr: () => stderr };
}

describe('prepare, agent, collect as separate processes', () => {
  it('an agent killed mid-run: collect names its segment, marks the run incomplete (exit 3) and still writes the report; a second collect says the run is gone', async () => {
    const file = scenario('skus: {count: 4, stock: 1000000}\nduration: 4s\nload: {connections: 2, inFlight: 4, workers: 1}\nduplicates: {ratio: 0.1, pattern: concurrent}\n');
    const prepared = await runCli(['prepare', file, '--redis', redis.url, '--agents', '3']);
    expect(prepared.code, prepared.stderr).toBe(0);
    const runId = prepared.stdout.trim();
    expect(runId).toMatch(/^[a-z0-9-]+$/);
    expect(prepared.stderr).toContain(`sellout agent --run-id ${runId} --segment I/3`);
    const agents = [startAgent(runId, '0/3'), startAgent(runId, '1/3'), startAgent(runId, { jobIndex: '2' })];
    const out = join(dir, 'lost');
    const collect = runCli(['collect', '--redis', redis.url, '--run-id', runId, '--out', out, '--wait', '90s']);
    // Mid-run: the load runs 4 s from the start every agent shares.
    await waitFor(async () => (await redis.client.keys(`sellout:${runId}:agents:*:t0`)).length === 1, 30_000);
    await new Promise((r) => setTimeout(r, 1500));
    agents[1]!.kill();
    // A replacement after the start is refused: a segment runs once (Kubernetes may retry a failed pod).
    const rejoin = startAgent(runId, '1/3');
    expect(await rejoin.exited).toBe(2);
    expect(rejoin.stderr()).toMatch(new RegExp(`^sellout: --segment 1/3: segment 1 of run ${runId} has already started .*: a segment runs once$`, 'm'));
    const codes = await Promise.all(agents.map((a) => a.exited));
    expect(codes[0], agents[0]!.stderr()).toBe(0);
    expect(codes[2], agents[2]!.stderr()).toBe(0);
    expect(agents[2]!.stderr()).toMatch(/segment 2\/3 sent [\d,]+ request\(s\)/);
    const r = await collect;
    expect(r.code, r.stderr + r.stdout).toBe(3);
    expect(r.stdout).toMatch(/verdict {5}INCOMPLETE: 1 of 3 agent\(s\) lost \(segment 1\/3 on \S+: it stored no result \(it died or was killed\)\)/);
    const s = summaryIn(out);
    expect(s.status).toBe('incomplete');
    expect(s.verdict!.exitCode).toBe(3);
    expect(s.agents!.map((a) => a.status)).toEqual(['ok', 'lost', 'ok']);
    expect(s.agents![1]!.requests).toBe(0);
    expect(s.requests).toBe(s.agents![0]!.requests + s.agents![2]!.requests);
    // Its deductions are in the journal as unknown outcomes, never as violations; everything was checked.
    expect(s.targetLost).toBeUndefined();
    expect(s.invariants.filter((i) => i.status === 'fail')).toEqual([]);
    expect(s.invariants.filter((i) => i.status === 'skipped').map((i) => i.name)).toEqual(['durability']);
    const bounds = s.invariants.find((i) => i.name === 'bounds')!;
    expect(bounds.recovered!.count).toBeGreaterThan(0);
    for (const name of ['report.html', 'summary.md', 'junit.xml', 'skus.csv']) expect(existsSync(join(out, name)), name).toBe(true);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toMatch(/<tr data-status="lost"><td>1\/3<\/td>/);
    expect(readFileSync(join(out, 'junit.xml'), 'utf8')).toMatch(/<failure message="1 of 3 agent\(s\) lost[^"]*" type="incomplete">/);
    expect(await redis.client.dbsize()).toBe(0);

    const again = await runCli(['collect', '--redis', redis.url, '--run-id', runId, '--out', join(dir, 'again'), '--wait', '5s']);
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(new RegExp(`^sellout: run ${runId}: nothing on redis://127\\.0\\.0\\.1:\\d+ \\(no manifest at \\S+\\): it was collected already and its keys removed, or it was never prepared there`, 'm'));
    expect(existsSync(join(dir, 'again'))).toBe(false);
  }, 120_000);

  it('bad input: one line each, exit 2, nothing written', async () => {
    const file = scenario('skus: {count: 1, stock: 10}\nrequests: 10\n');
    const cases: [string[], RegExp][] = [
      [['prepare', file], /^sellout: prepare: --redis: expected a redis:\/\/ or rediss:\/\/ URL every agent can reach \(or SELLOUT_REDIS_URL\), got nothing$/m],
      [['prepare', file, '--redis', redis.url, '--agents', 'x'], /^sellout: --agents: expected a number of agents from 1 to 1000, got "x"$/m],
      [['prepare', file, '--redis', redis.url, '--run-id', 'Bad ID'], /^sellout: --run-id: expected lowercase letters, digits and dashes .*, got "Bad ID"$/m],
      [['prepare', scenario('skus: {count: 1, stock: 10}\nrequests: 10\nduplicates: {ratio: 0.5, pattern: cross-agent}\n'), '--redis', redis.url], /duplicates\.pattern: cross-agent needs at least 2 agents \(--agents 2 or more\), got 1$/m],
      [['agent', '--redis', redis.url, '--segment', '0/3'], /^sellout: agent: --run-id: expected the run ID `sellout prepare` printed, got nothing$/m],
      [['agent', '--redis', redis.url, '--run-id', 'r1', '--segment', '3/3'], /^sellout: --segment: expected I\/N with I from 0 to N-1, got "3\/3"$/m],
      [['agent', '--redis', redis.url, '--run-id', 'r1'], /^sellout: agent: --segment: expected I\/N \(like 0\/3\), or JOB_COMPLETION_INDEX set \(a Kubernetes Indexed Job\), got neither$/m],
      [['collect', '--redis', redis.url, '--run-id', 'r1', '--wait', 'soon'], /^sellout: --wait: expected a duration like 30s or 10m, got "soon"$/m],
      [['run', scenario('skus: {count: 1, stock: 10}\nrequests: 10\nduplicates: {ratio: 0.5, pattern: cross-agent}\n')], /duplicates\.pattern: cross-agent needs agents \(run --agents 2 or more, or sellout prepare \/ agent \/ collect\), got one process$/m],
      [['run', file, '--agents', '0'], /^sellout: --agents: expected a number of agents from 1 to 1000, got "0"$/m],
      [['run', file, '--agents', '2', '--redis', 'docker'], /^sellout: --agents: expected --redis URL, cluster or nothing/m],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, { timeoutMs: 30_000 });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(await redis.client.dbsize()).toBe(0);
  }, 120_000);

  it('an agent of a run that was never prepared: exit 3 naming the run', async () => {
    const r = await runCli(['agent', '--redis', redis.url, '--run-id', 'never-prepared', '--segment', '0/1']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^sellout: run never-prepared: nothing on redis:\/\/127\.0\.0\.1:\d+ \(no manifest/m);
  }, 30_000);
});

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
