/**
 * The load engine against a real private redis-server: worker threads, outcome totals, duplicate
 * patterns (checked in Redis's journal and in the replies), open models, lost connections.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadResult } from '../../src/load/coordinator.js';
import { initHistograms } from '../../src/metrics/histogram.js';
import { Code } from '../../src/outcomes.js';
import { parseScenario, type Scenario } from '../../src/scenario/load.js';
import { journalKey, requestId } from '../../src/keys.js';
import { checkAll } from '../../src/verify/invariants.js';
import { takeSnapshot } from '../../src/verify/snapshot.js';
import { ROOT } from '../helpers/cli.js';
import { driveOn } from '../helpers/drive.js';
import { maxOutstanding } from '../helpers/concurrency.js';
import { runShards, startTestRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
let runs = 0;

beforeAll(async () => {
  await initHistograms();
  redis = await startTestRedis();
});
afterAll(async () => { await redis?.stop(); });

function scenario(yaml: string): Scenario {
  return parseScenario(`name: t\nscript: ../lua/deduct.lua\nseed: 5\n${yaml}`, `${ROOT}/test/t.yaml`, { cwd: ROOT });
}

async function run(s: Scenario, during?: (runId: string) => Promise<void>): Promise<{ load: LoadResult; runId: string }> {
  const runId = `t${++runs}`;
  return { load: await driveOn(redis, s, runId, during), runId };
}

async function verify(s: Scenario, runId: string, load: LoadResult) {
  const snapshot = await takeSnapshot(runShards(redis.client, runId, s.skus.count), s.seed);
  const invariants = checkAll({ snapshot, records: load.records, initialStock: s.skus.stock, seed: s.seed });
  for (const h of [...load.histograms, ...(load.histogramsRaw ?? [])]) h.destroy();
  return { snapshot, invariants };
}

/** Every invariant passes; only durability is skipped (no faults are injected here). */
function expectAllHold(invariants: ReturnType<typeof checkAll>): void {
  expect(invariants.filter((i) => i.status === 'fail').map((i) => `${i.name}: ${i.actual}; ${i.examples[0] ?? ''}`)).toEqual([]);
  expect(invariants.filter((i) => i.status === 'skipped').map((i) => i.name)).toEqual(['durability']);
}

/** Rows per request index: [original row, twin row] (-1 when missing). */
function rowsByIndex(load: LoadResult): Map<number, { orig: number; twin: number }> {
  const map = new Map<number, { orig: number; twin: number }>();
  const r = load.records;
  for (let row = 0; row < r.count; row++) {
    const entry = map.get(r.index[row]!) ?? { orig: -1, twin: -1 };
    if (r.twin[row]) entry.twin = row;
    else entry.orig = row;
    map.set(r.index[row]!, entry);
  }
  return map;
}

function workerOfRow(load: LoadResult): (row: number) => number {
  const ends: number[] = [];
  load.rowsByWorker.reduce((acc, n) => { ends.push(acc + n); return acc + n; }, 0);
  return (row) => ends.findIndex((end) => row < end);
}

describe('load engine (worker threads, real redis-server)', () => {
  it('a multi-worker closed run: outcome totals equal the plan and Redis agrees', async () => {
    const s = scenario('skus: {count: 3, stock: 400}\nquantity: {1: 0.7, 2: 0.3}\nrequests: 2000\nload: {connections: 6, inFlight: 8, workers: 3}');
    const { load, runId } = await run(s);
    expect(load.workers).toBe(3);
    expect(load.rowsByWorker).toHaveLength(3);
    expect(load.rowsByWorker.every((n) => n > 0)).toBe(true);
    const total = Object.values(load.counts).reduce((a, b) => a + b, 0);
    expect(total).toBe(2000);
    expect(load.records.count).toBe(2000);
    expect(load.histograms.reduce((a, h) => a + h.totalCount, 0)).toBe(2000);
    // Every plan index 0..1999 was sent exactly once (no duplicates configured).
    const seen = new Uint8Array(2000);
    for (let row = 0; row < load.records.count; row++) seen[load.records.index[row]!]!++;
    expect(seen.every((n) => n === 1)).toBe(true);
    expect(load.counts.ok).toBeGreaterThan(0);
    expect(load.counts.sold_out).toBeGreaterThan(0); // 1200 units for ~2600 asked
    const series = load.series;
    expect(series.replies.ok!.reduce((a, b) => a + b, 0)).toBe(load.counts.ok);
    expect(series.stock[0]!.values.at(-1)).toBe(0);
    const { snapshot, invariants } = await verify(s, runId, load);
    expect(snapshot.journal.count).toBe(load.counts.ok);
    expectAllHold(invariants);
  });

  it('a sub-second closed run still has a shape: a 100 ms series of several points, counts summing to the replies', async () => {
    // 20,000 requests on a 2-core box: well under a second, which a 1 s series drew as one point.
    const s = scenario('skus: {count: 1, stock: 5000}\nrequests: 20000\nload: {connections: 4, inFlight: 8, workers: 2}');
    const { load } = await run(s);
    for (const h of [...load.histograms, ...(load.histogramsRaw ?? [])]) h.destroy();
    const series = load.series;
    expect(series.intervalMs).toBe(100);
    expect(series.t.length, `a ${load.durationMs.toFixed(0)} ms run`).toBeGreaterThanOrEqual(Math.min(3, Math.floor(load.durationMs / 100)));
    expect(series.t.length).toBeGreaterThanOrEqual(2);
    expect(series.t).toEqual(series.t.map((_, n) => n * 100));
    const total = Object.values(series.replies).reduce((a, r) => a + r!.reduce((x, y) => x + y, 0), 0);
    expect(total).toBe(20000);
    // The last interval's real length: the run ended inside it.
    expect(series.lastIntervalMs).toBeGreaterThanOrEqual(0);
    expect(series.lastIntervalMs).toBeLessThanOrEqual(100);
    expect(series.scheduled).toBeUndefined();
    expect(series.stock[0]!.values.at(-1)).toBe(0);
  });

  it('the closed model keeps exactly connections x inFlight outstanding (the warm-up leaves it no extra slots)', async () => {
    const s = scenario('skus: {count: 2, stock: 100000}\nrequests: 6000\nload: {connections: 4, inFlight: 3, workers: 2}');
    const { load } = await run(s);
    for (const h of [...load.histograms, ...(load.histogramsRaw ?? [])]) h.destroy();
    expect(load.records.count).toBe(6000);
    expect(maxOutstanding(load.records)).toBe(12);
  });

  for (const pattern of ['sequential', 'concurrent', 'cross-worker'] as const) {
    it(`duplicates ${pattern}: every original has its twin, one is ok and the other a duplicate, and the journal holds each ID once`, async () => {
      const s = scenario(`skus: {count: 2, stock: 100000}\nrequests: 600\nload: {connections: 4, inFlight: 4, workers: 2}\nduplicates: {ratio: 1, pattern: ${pattern}}`);
      const { load, runId } = await run(s);
      expect(load.counts.ok).toBe(300);
      expect(load.counts.duplicate).toBe(300);
      const byIndex = rowsByIndex(load);
      expect(byIndex.size).toBe(300);
      const worker = workerOfRow(load);
      const r = load.records;
      for (const [index, { orig, twin }] of byIndex) {
        expect(orig, `original of ${index}`).toBeGreaterThanOrEqual(0);
        expect(twin, `twin of ${index}`).toBeGreaterThanOrEqual(0);
        const outcomes = [r.outcome[orig], r.outcome[twin]].sort();
        expect(outcomes).toEqual([Code.ok, Code.duplicate]);
        if (pattern === 'sequential') {
          // Sent only after the original's reply arrived.
          expect(r.sentUs[twin]!).toBeGreaterThanOrEqual(r.repliedUs[orig]!);
          expect(r.outcome[twin]).toBe(Code.duplicate);
        }
        if (pattern === 'concurrent') {
          // In flight together: the twin was sent before the original's reply came back.
          expect(r.sentUs[twin]!).toBeLessThanOrEqual(r.repliedUs[orig]!);
        }
        if (pattern === 'cross-worker') expect(worker(twin)).not.toBe(worker(orig));
      }
      const { snapshot, invariants } = await verify(s, runId, load);
      expect(snapshot.journal.count).toBe(300);
      const ids = new Set<string>();
      for (const sku of [0, 1]) {
        const keys = await redis.client.hkeys(journalKey(runId, sku));
        for (const k of keys) ids.add(k);
      }
      expect(ids).toEqual(new Set([...byIndex.keys()].map((i) => requestId(s.seed, i))));
      expectAllHold(invariants);
    });
  }

  it('duplicates delayed: the twin goes out delayMs after its original and is answered as a duplicate', async () => {
    const s = scenario('skus: {count: 1, stock: 100000}\nrequests: 200\nload: {connections: 2, inFlight: 2, workers: 1}\nduplicates: {ratio: 0.5, pattern: delayed, delayMs: 150}');
    const { load, runId } = await run(s);
    const byIndex = rowsByIndex(load);
    const r = load.records;
    let twins = 0;
    for (const { orig, twin } of byIndex.values()) {
      if (twin < 0) continue;
      twins++;
      expect(r.sentUs[twin]! - r.sentUs[orig]!).toBeGreaterThanOrEqual(150_000);
      expect(r.outcome[twin]).toBe(Code.duplicate);
      expect(r.outcome[orig]).toBe(Code.ok);
    }
    expect(twins).toBeGreaterThan(40);
    expect(load.counts.duplicate).toBe(twins);
    expect(load.counts.ok + load.counts.duplicate).toBe(200);
    const { snapshot } = await verify(s, runId, load);
    expect(snapshot.journal.count).toBe(load.counts.ok);
  });

  it('constant-rate: sends on schedule, keeps corrected and raw latency, and reports the rates', async () => {
    const s = scenario('skus: {count: 1, stock: 100000}\nrequests: 300\nload: {model: constant-rate, rate: 1000, connections: 2, workers: 2}');
    const { load, runId } = await run(s);
    expect(load.records.count).toBe(300);
    expect(load.counts.ok).toBe(300);
    expect(load.scheduled).toBe(300);
    expect(load.dropped).toBe(0);
    expect(load.histogramsRaw).toBeDefined();
    expect(load.histogramsRaw![Code.ok]!.totalCount).toBe(300);
    // Corrected latency starts at the intended send, never after the actual one.
    expect(load.histograms[Code.ok]!.maxValue).toBeGreaterThanOrEqual(load.histogramsRaw![Code.ok]!.maxValue);
    expect(load.targetRate).toBeGreaterThan(900);
    expect(load.targetRate).toBeLessThan(1100);
    expect(load.achievedRate).toBeGreaterThan(0);
    // 300 sends at 1,000/s: a 0.3 s schedule, cut at 100 ms; its sends per interval are the target rate's line.
    const series = load.series;
    expect(series.intervalMs).toBe(100);
    expect(series.t.length).toBeGreaterThanOrEqual(3);
    expect(series.scheduled!.reduce((a, b) => a + b, 0)).toBe(300);
    expect(series.scheduled![0]).toBe(100);
    expect(series.dropped!.reduce((a, b) => a + b, 0)).toBe(0);
    await verify(s, runId, load);
  });

  it('an open model past max in flight counts dropped sends instead of delaying them', async () => {
    // One in flight at most, a send due every 50 us: a round trip takes longer than that, so due
    // sends keep finding the one slot taken.
    const s = scenario('skus: {count: 1, stock: 100000}\nduration: 300ms\nload: {model: constant-rate, rate: 20000, maxInFlight: 1, connections: 2, workers: 1}');
    const { load, runId } = await run(s);
    expect(load.dropped!).toBeGreaterThan(0);
    expect(load.records.count + load.dropped!).toBe(load.scheduled);
    expect(load.records.count).toBeGreaterThan(0);
    // Dropped per interval adds up to the run's dropped.
    expect(load.series.dropped!.reduce((a, b) => a + b, 0)).toBe(load.dropped);
    expect(load.series.dropped!.length).toBe(load.series.t.length);
    await verify(s, runId, load);
  });

  it('a duration run makes every send due before its end: none is dropped at the deadline when the server keeps up', async () => {
    // 2,700/s for 600 ms: sends due every 0.37 ms, so the loop wakes for the deadline with a send or
    // two due since its last batch; those were dropped (the run "lost" sends no server refused).
    for (let i = 0; i < 4; i++) {
      const s = scenario('skus: {count: 1, stock: 100000}\nduration: 600ms\nload: {model: constant-rate, rate: 2700, connections: 4, workers: 1}');
      const { load, runId } = await run(s);
      expect(load.dropped, `run ${i + 1}`).toBe(0);
      expect(load.records.count, `run ${i + 1}`).toBe(1620);
      expect(load.scheduled).toBe(1620);
      await verify(s, runId, load);
    }
  });

  it('ramping-rate runs its stages and the stage total is its duration', async () => {
    const s = scenario('skus: {count: 1, stock: 100000}\nload: {model: ramping-rate, startRate: 200, stages: [{duration: 500ms, target: 600}], connections: 2, workers: 1}');
    const { load, runId } = await run(s);
    // 0.5 s averaging 400/s: 200 sends.
    expect(load.scheduled).toBe(200);
    expect(load.records.count + load.dropped!).toBe(200);
    await verify(s, runId, load);
  });

  it('a server that stops answering for longer than timeoutMs: unknown outcomes, connections reopened, the run goes on', async () => {
    // The run outlasts the pause by seconds however late the pause begins on a loaded machine (it
    // begins once 100 deductions are in): what is asserted does not ride on the timing.
    const s = scenario('skus: {count: 1, stock: 100000000}\nduration: 4s\ntimeoutMs: 200\nload: {connections: 2, inFlight: 4, workers: 1}');
    let resumedAtUs = 0;
    const { load, runId } = await run(s, async (id) => {
      while (Number(await redis.client.hlen(journalKey(id, 0))) < 100) await new Promise((r) => setTimeout(r, 20));
      const t0 = Date.now();
      redis.server.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 700));
      redis.server.kill('SIGCONT');
      resumedAtUs = (Date.now() - t0) * 1000;
    });
    expect(resumedAtUs).toBeGreaterThan(0);
    expect(load.counts.unknown).toBeGreaterThan(0);
    expect(load.connectionErrors).toContain('no reply within timeoutMs (200 ms)');
    expect(load.loadLost).toBeUndefined();
    // Deductions went on after the pause: the last ok reply came well after the first unknown.
    const r = load.records;
    let firstUnknownUs = Infinity;
    let lastOkUs = 0;
    for (let row = 0; row < r.count; row++) {
      if (r.outcome[row] === Code.unknown) firstUnknownUs = Math.min(firstUnknownUs, r.repliedUs[row]!);
      if (r.outcome[row] === Code.ok) lastOkUs = Math.max(lastOkUs, r.repliedUs[row]!);
    }
    expect(lastOkUs - firstUnknownUs).toBeGreaterThan(500_000);
    const { invariants } = await verify(s, runId, load);
    expectAllHold(invariants);
  });

  it('connections the server kills mid-run are reopened: unknown outcomes, the load goes on, the bounds still hold', async () => {
    const s = scenario('skus: {count: 1, stock: 100000000}\nduration: 4s\nload: {connections: 4, inFlight: 16, workers: 2}');
    let journalAtKill = 0;
    const { load, runId } = await run(s, async (id) => {
      // Kill the load connections once deductions are flowing (a fixed sleep is not enough on a
      // loaded machine: the workers may not have started yet).
      while (Number(await redis.client.hlen(journalKey(id, 0))) < 100) await new Promise((r) => setTimeout(r, 20));
      await redis.client.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      journalAtKill = Number(await redis.client.hlen(journalKey(id, 0)));
    });
    expect(load.counts.unknown).toBeGreaterThan(0);
    expect(load.connectionErrors.some((e) => /^connection (closed by the server|error: )/.test(e))).toBe(true);
    // Every killed connection came back (the admin connections were killed too: they reconnect on their own).
    expect(load.reconnects).toBeGreaterThanOrEqual(4);
    expect(load.loadLost).toBeUndefined();
    const { snapshot, invariants } = await verify(s, runId, load);
    // Deductions went on after the kill, on the reopened connections.
    expect(snapshot.journal.count).toBeGreaterThan(journalAtKill + 1000);
    // Unknown deductions may or may not have run: the journal lies between ok and ok + unknown.
    expect(snapshot.journal.count).toBeGreaterThanOrEqual(load.counts.ok);
    expect(snapshot.journal.count).toBeLessThanOrEqual(load.counts.ok + load.counts.unknown);
    expectAllHold(invariants);
  });
});

describe('runScenario as a library', () => {
  it('leaves no timer behind when it returns (a caller exits at once, not 5 s later)', async () => {
    const { runScenario } = await import('../../src/run.js');
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const out = await runScenario(scenario('skus: {count: 1, stock: 1000}\nrequests: 200\nload: {connections: 2, inFlight: 2}'), { redis: redis.url });
    expect(out.summary.verdict.exitCode).toBe(0);
    // Closing sockets may keep a timer for a few milliseconds; a leaked one (5 s before) stays.
    for (let i = 0; i < 50 && timers() > before; i++) await new Promise((r) => setImmediate(r)).then(() => new Promise((r) => setTimeout(r, 10)));
    expect(timers()).toBeLessThanOrEqual(before);
  });
});
