/**
 * Coverage on real runs against a private redis-server: a racy sale that sells out reaches every
 * edge condition, and each count equals a naive recount from the client's records and Redis read
 * directly (GET, HGET: not the snapshot the checks use); a sale that never sells out says, in one
 * line each, what its pass does not cover, and still passes unless a threshold asks for coverage.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journalKey, requestId, stockKey } from '../../src/keys.js';
import type { LoadResult } from '../../src/load/coordinator.js';
import { initHistograms } from '../../src/metrics/histogram.js';
import { Code, NOT_SENT } from '../../src/outcomes.js';
import { formatSummary } from '../../src/report/console.js';
import { runScenario } from '../../src/run.js';
import { parseScenario, type Scenario } from '../../src/scenario/load.js';
import { COVERAGE_COUNTS, coverageWarnings, type CoverageCounts } from '../../src/summary/coverage.js';
import { coverageOf } from '../../src/verify/coverage.js';
import { checkAll, prepare } from '../../src/verify/invariants.js';
import { takeSnapshot } from '../../src/verify/snapshot.js';
import { ROOT } from '../helpers/cli.js';
import { driveOn } from '../helpers/drive.js';
import { runShards, startTestRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
let runs = 0;

beforeAll(async () => {
  await initHistograms();
  redis = await startTestRedis();
});
afterAll(async () => { await redis?.stop(); });

function scenario(yaml: string): Scenario {
  return parseScenario(`name: coverage\nscript: ../lua/deduct.lua\n${yaml}`, `${ROOT}/test/t.yaml`, { cwd: ROOT });
}

/**
 * 8 SKUs of 30 units, ~3,750 units asked, 30% sent twice with the twin handed out right after its
 * original. Mostly 3s and rarely a 1, with few requests in flight: a SKU lingers at 1 or 2 units,
 * refusing 2s and 3s, until a 1 (sent after those refusals) takes it to 0.
 */
const RACY = 'seed: 11\nskus: {count: 8, stock: 30}\nquantity: {1: 0.1, 2: 0.3, 3: 0.6}\nrequests: 1500\n' +
  'load: {connections: 2, inFlight: 2, workers: 2}\nduplicates: {ratio: 0.3, pattern: concurrent}\ntimeoutMs: 5000';

/**
 * The definitions of docs/summary.md, recounted the slow and obvious way: objects per request,
 * O(n^2) scans, and Redis read with GET/HGET (the journal's `from` parsed here, not by the snapshot).
 */
async function recount(s: Scenario, runId: string, load: LoadResult): Promise<CoverageCounts> {
  const r = load.records;
  const rows = Array.from({ length: r.count }, (_, row) => ({
    index: r.index[row]!, sku: r.sku[row]!, q: r.quantity[row]!, code: r.outcome[row]!, value: r.value[row]!, sent: r.sentUs[row]!, replied: r.repliedUs[row]!,
  })).filter((x) => x.code !== NOT_SENT);
  const answered = (x: { code: number }) => x.code !== Code.unknown;
  const byId = new Map<number, typeof rows>();
  for (const x of rows) byId.set(x.index, [...(byId.get(x.index) ?? []), x]);
  const counts: CoverageCounts = Object.fromEntries(COVERAGE_COUNTS.map((n) => [n, 0])) as CoverageCounts;
  for (const sends of byId.values()) {
    if (sends.length !== 2) continue;
    const [a, b] = sends as [(typeof rows)[0], (typeof rows)[0]];
    if (a.sent < b.replied && b.sent < a.replied) { if (answered(a) && answered(b)) counts.concurrentTwin++; continue; }
    for (const [first, second] of [[a, b], [b, a]] as const) {
      if (!(first.replied <= second.sent) || !answered(second)) continue;
      if (first.code === Code.ok) counts.twinAfterOk++;
      if (first.code === Code.sold_out) counts.twinAfterSoldOut++;
    }
  }
  const finals: number[] = [];
  for (let sku = 0; sku < s.skus.count; sku++) finals.push(Number(await redis.client.get(stockKey(runId, sku))));
  counts.soldOutToZero = finals.filter((f) => f === 0).length;
  const journalFrom = new Map<number, number>();
  const journaled = new Set<number>();
  for (const x of rows) {
    const entry = await redis.client.hget(journalKey(runId, x.sku), requestId(s.seed, x.index));
    if (entry === null) continue;
    journaled.add(x.index);
    if (x.code === Code.ok) journalFrom.set(x.index, Number((JSON.parse(entry) as { from: number }).from));
  }
  for (const refused of rows.filter((x) => x.code === Code.sold_out)) {
    let lower = finals[refused.sku]!;
    for (const ok of rows) {
      if (ok.code === Code.ok && ok.sku === refused.sku && ok.sent >= refused.replied) lower = Math.max(lower, journalFrom.get(ok.index)!);
    }
    if (lower >= 1 && lower < refused.q) counts.partialBoundary++;
  }
  for (let sku = 0; sku < s.skus.count; sku++) {
    const zeroAt = Math.min(...rows.filter((x) => x.sku === sku && x.code === Code.ok && x.value === 0).map((x) => x.replied));
    counts.afterSellOut += rows.filter((x) => x.sku === sku && answered(x) && x.sent >= zeroAt).length;
  }
  for (const x of rows.filter((y) => y.code === Code.unknown)) {
    const okSomewhere = byId.get(x.index)!.some((y) => y.code === Code.ok);
    if (!journaled.has(x.index)) counts.unknownAbsent++;
    else if (!okSomewhere) counts.unknownRecovered++;
  }
  return counts;
}

describe('coverage of real runs (real redis-server)', () => {
  it('a racy sale that sells out reaches every edge condition, and each count equals a naive recount of the records', async () => {
    const s = scenario(RACY);
    const runId = `cov${++runs}`;
    try {
      const load = await driveOn(redis, s, runId);
      for (const h of [...load.histograms, ...(load.histogramsRaw ?? [])]) h.destroy();
      const snapshot = await takeSnapshot(runShards(redis.client, runId, s.skus.count), s.seed);
      const ctx = prepare({ snapshot, records: load.records, initialStock: s.skus.stock, seed: s.seed });
      expect(checkAll(ctx).filter((i) => i.status === 'fail').map((i) => `${i.name}: ${i.examples[0]}`)).toEqual([]);

      const { warnings, ...counts } = coverageOf(ctx);
      console.log(`coverage of a racy sale: ${COVERAGE_COUNTS.map((n) => `${n} ${counts[n]}`).join(', ')} (${load.records.count} requests)`);
      expect(counts).toEqual(await recount(s, runId, load));
      for (const n of ['concurrentTwin', 'twinAfterOk', 'twinAfterSoldOut', 'soldOutToZero', 'partialBoundary', 'afterSellOut'] as const) expect(counts[n], n).toBeGreaterThan(0);
      // Bounds the records set: one pair per twin, one SKU per sell-out, one refusal per boundary.
      let twins = 0;
      for (let row = 0; row < load.records.count; row++) twins += load.records.twin[row]!;
      expect(counts.concurrentTwin + counts.twinAfterOk + counts.twinAfterSoldOut).toBeLessThanOrEqual(twins);
      expect(counts.soldOutToZero).toBe(s.skus.count);
      expect(counts.partialBoundary).toBeLessThanOrEqual(load.counts.sold_out);
      expect(counts.afterSellOut).toBeLessThanOrEqual(load.records.count - load.counts.ok);
      expect(counts.unknownRecovered + counts.unknownAbsent).toBeLessThanOrEqual(load.counts.unknown);
      expect(warnings).toEqual([]);
    } finally {
      await redis.client.del(...Array.from({ length: s.skus.count }, (_, sku) => [stockKey(runId, sku), journalKey(runId, sku)]).flat());
    }
  });

  it('runScenario puts coverage in summary.json next to the invariants; a coverage threshold gates on it', async () => {
    // Twins after the reply: every retry lands after an ok or a sold_out, none in flight with its original.
    const s = scenario(`${RACY.replace('pattern: concurrent', 'pattern: sequential')}\nthresholds: {coverage.twinAfterOk: "> 0", coverage.twinAfterSoldOut: "> 0", coverage.concurrentTwin: "== 0"}`);
    const { summary } = await runScenario(s, { redis: redis.url });
    const keys = Object.keys(summary);
    expect(keys.indexOf('coverage')).toBe(keys.indexOf('invariants') + 1);
    const { warnings, ...counts } = summary.coverage!;
    expect(counts.twinAfterOk).toBeGreaterThan(0);
    expect(counts.twinAfterSoldOut).toBeGreaterThan(0);
    expect(counts.soldOutToZero).toBe(summary.skus.filter((k) => k.final === 0).length);
    expect(warnings).toEqual(coverageWarnings(counts));
    expect(warnings[0]).toMatch(/^no duplicate was in flight together with its original: /);
    expect(summary.thresholds!.filter((t) => !t.default).map((t) => [t.name, t.status, t.actual])).toEqual([
      ['coverage.twinAfterOk', 'pass', counts.twinAfterOk],
      ['coverage.twinAfterSoldOut', 'pass', counts.twinAfterSoldOut],
      ['coverage.concurrentTwin', 'pass', 0],
    ]);
    expect(summary.verdict).toMatchObject({ status: 'pass', exitCode: 0 });
  });

  it('timeouts: unknown outcomes the journal shows happened are recovered, and agree with bounds', async () => {
    // IDs ending in 13 take 300 ms in the script; with a 30 ms timeout they (and what queues behind them) end
    // unknown: timeouts are noticed by a 50 ms timer, and 300 ms leaves room for it to run late on a busy machine.
    const s = parseScenario(
      'name: coverage-slow\nscript: fixtures/slow-deduct.lua\nseed: 7\nskus: {count: 2, stock: 30}\nquantity: {1: 0.5, 2: 0.3, 3: 0.2}\nrequests: 200\nload: {connections: 4, inFlight: 2}\ntimeoutMs: 30',
      `${ROOT}/test/t.yaml`, { cwd: ROOT },
    );
    const { summary } = await runScenario(s, { redis: redis.url });
    const { unknownRecovered, unknownAbsent } = summary.coverage!;
    const recovered = summary.invariants.find((i) => i.name === 'bounds')!.recovered!;
    expect(recovered.ids).toContain('DEC-7-13');
    // Per unknown outcome vs per ID: each recovered ID has at least one unknown send.
    expect(unknownRecovered).toBeGreaterThanOrEqual(recovered.count);
    expect(unknownRecovered + unknownAbsent).toBeLessThanOrEqual(summary.outcomes.unknown);
    // No warning for unknown outcomes, whatever their counts.
    expect(summary.coverage!.warnings.join('\n')).not.toMatch(/unknown/);
  });

  it('a sale that never sells out passes, but says in one line each what its pass does not cover', async () => {
    const calm = 'seed: 12\nskus: {count: 2, stock: 100000}\nquantity: 1\nrequests: 400\nload: {connections: 2, inFlight: 4, workers: 1}\ntimeoutMs: 5000';
    const { summary } = await runScenario(scenario(`${calm}\nthresholds: {outcomes.error: "== 0"}`), { redis: redis.url });
    const coverage = summary.coverage!;
    expect(COVERAGE_COUNTS.map((n) => coverage[n])).toEqual(COVERAGE_COUNTS.map(() => 0));
    expect(coverage.warnings).toEqual([
      'no duplicate was in flight together with its original: a race between two sends of one request ID would go unseen; use duplicates with pattern concurrent or cross-worker',
      'no duplicate was sent after its original\'s ok reply: a script that forgets a request ID it already deducted would go unseen; use duplicates with pattern sequential or delayed',
      'no duplicate was sent after its original\'s sold_out reply: a script that burns the ID of a refused request (answering its retry as a duplicate) would go unseen; use duplicates with pattern sequential in a sale that sells out',
      'no SKU sold out exactly to 0: an off-by-one at the last unit would go unseen; use a stock the requests exhaust, with quantity 1 among the quantities',
      'no SKU reached a partial-stock boundary: a boundary bug would go unseen; use mixed quantities and a stock that sells out',
      'no request was sent after its SKU reached 0: a script that sells from an empty stock would go unseen; use more requests than the stock covers',
    ]);
    // Warnings inform; they never fail the run by themselves.
    expect(summary.invariants.filter((i) => i.status === 'fail')).toEqual([]);
    expect(summary.verdict).toMatchObject({ status: 'pass', exitCode: 0, reasons: [] });
    const text = formatSummary(summary);
    for (const w of coverage.warnings) expect(text).toContain(`\n  warning     ${w}`);

    // A threshold that requires the boundary turns the gap into a failure (exit 4).
    const gated = await runScenario(scenario(`${calm}\nthresholds: {coverage.partialBoundary: "> 0"}`), { redis: redis.url });
    expect(gated.summary.thresholds!.filter((t) => !t.default)).toMatchObject([{ name: 'coverage.partialBoundary', status: 'fail', actual: 0 }]);
    expect(gated.summary.verdict).toMatchObject({ status: 'fail', exitCode: 4 });
  });
});
