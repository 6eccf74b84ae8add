/**
 * Per-shard figures (src/metrics/shards.ts) from hand-built records, their thresholds, and how the
 * console, summary.md and report.html show them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode, ScenarioError } from '../../src/errors.js';
import { initHistograms } from '../../src/metrics/histogram.js';
import { newRecords, reserveRow, type RequestRecords } from '../../src/metrics/records.js';
import { HOT_SHARD_FACTOR, shardFigures, type ShardFiguresInput } from '../../src/metrics/shards.js';
import { OUTCOMES, type Outcome } from '../../src/outcomes.js';
import { serverStatsDelta, type ServerStats } from '../../src/redis/server-stats.js';
import type { Shard } from '../../src/redis/topology.js';
import { formatShards, formatSummary } from '../../src/report/console.js';
import { renderHtml } from '../../src/report/html.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { parseScenario } from '../../src/scenario/load.js';
import { summarySchema, type ShardFigures, type SummaryV1 } from '../../src/summary/summary.js';
import { evaluateThreshold } from '../../src/thresholds/evaluate.js';
import { parseThresholds, type Threshold } from '../../src/thresholds/parse.js';
import { compareMetric } from '../../src/compare/compare.js';
import { buildFixture } from '../fixtures/report.js';

beforeAll(async () => {
  await initHistograms();
});

const shard = (i: number, slots: [number, number][]): Shard => ({ node: `10.0.0.${i}:6379`, endpoint: { host: `10.0.0.${i}`, port: 6379, db: 0, tls: false }, slots });
const THREE = { shards: [shard(1, [[0, 5460]]), shard(2, [[5461, 10922]]), shard(3, [[10923, 16383]])] };

interface Row { sku: number; outcome?: Outcome; sentUs?: number; latencyUs?: number }
function records(rows: Row[]): RequestRecords {
  const r = newRecords(4);
  for (const [i, row] of rows.entries()) {
    const at = reserveRow(r);
    r.index[at] = i;
    r.sku[at] = row.sku;
    r.quantity[at] = 1;
    r.outcome[at] = OUTCOMES.indexOf(row.outcome ?? 'ok');
    r.sentUs[at] = row.sentUs ?? 0;
    r.repliedUs[at] = (row.sentUs ?? 0) + (row.latencyUs ?? 100);
  }
  return r;
}

/** `n` rows of one SKU, sent 1 ms apart from `startUs`. */
const many = (n: number, sku: number, extra: Partial<Row> = {}, startUs = 0): Row[] => Array.from({ length: n }, (_, i) => ({ sku, sentUs: startUs + i * 1000, ...extra }));

const stats = (cpuSeconds: number, evalshaCalls: number, evalshaUsec: number, atMs: number): ServerStats => ({ cpuSeconds, evalshaCalls, evalshaUsec, atMs });

function input(rows: Row[], overrides: Partial<ShardFiguresInput> = {}): ShardFiguresInput {
  return {
    records: records(rows),
    // SKUs 0-2 on shard 0, 3-4 on shard 1, 5 on shard 2.
    skuShard: Uint16Array.from([0, 0, 0, 1, 1, 2]),
    topology: THREE,
    durationMs: 2000,
    intervals: 2,
    intervalMs: 1000,
    ...overrides,
  };
}

describe('shardFigures', () => {
  it('counts requests, outcomes, slots and SKUs per shard, and throughput over the run', async () => {
    const f = await shardFigures(input([...many(4, 0), ...many(2, 1, { outcome: 'sold_out' }), ...many(3, 3), { sku: 4, outcome: 'unknown' }, ...many(2, 5, { outcome: 'duplicate' })]));
    expect(f.shards.map((s) => s.node)).toEqual(['10.0.0.1:6379', '10.0.0.2:6379', '10.0.0.3:6379']);
    expect(f.shards.map((s) => s.slots)).toEqual([5461, 5462, 5461]);
    expect(f.shards.map((s) => s.skus)).toEqual([3, 2, 1]);
    expect(f.shards.map((s) => s.requests)).toEqual([6, 4, 2]);
    expect(f.shards[0]!.outcomes).toEqual({ ok: 4, duplicate: 0, sold_out: 2, not_found: 0, invalid: 0, error: 0, unknown: 0 });
    expect(f.shards[1]!.outcomes.unknown).toBe(1);
    expect(f.shards[2]!.outcomes.duplicate).toBe(2);
    expect(f.shards.map((s) => s.throughput)).toEqual([3, 2, 1]);
    expect(f.shards[2]!.latency.ok).toBeNull();
    expect(f.hottestShardShare).toBe(0.5);
  });

  it('takes ok latency from the actual send, or from the intended send when given, in microseconds', async () => {
    const rows = [...many(99, 0, { latencyUs: 200 }), { sku: 0, latencyUs: 5000 }, ...many(10, 3, { outcome: 'sold_out', latencyUs: 90_000 })];
    const f = await shardFigures(input(rows));
    expect(f.shards[0]!.latency.ok).toEqual({ p50: 200, p99: 200, p999: 5000 });
    // Sold-out replies do not count in the ok latency of their shard.
    expect(f.shards[1]!.latency.ok).toBeNull();
    // Open models: each send went out 1 ms after its intended time.
    const intended = Float64Array.from(rows, (r) => (r.sentUs ?? 0) - 1000);
    const late = await shardFigures(input(rows, { intendedUs: intended }));
    expect(late.shards[0]!.latency.ok).toEqual({ p50: 1200, p99: 1200, p999: 6000 });
  });

  it('bins replies per interval by reply time, the last interval taking any later reply', async () => {
    const f = await shardFigures(input([...many(3, 0, {}, 0), ...many(2, 0, {}, 1_200_000), { sku: 5, sentUs: 9_000_000 }]));
    expect(f.replies).toEqual([[3, 2], [0, 0], [0, 1]]);
  });

  it('derives server CPU (cores) and usec per EVALSHA from the readings, null when a reading is missing or the server restarted', async () => {
    const f = await shardFigures(input(many(3, 0), {
      serverBefore: [stats(10, 100, 1000, 0), undefined, stats(50, 500, 5000, 0)],
      serverAfter: [stats(11.86, 1100, 26_000, 2000), stats(1, 1, 1, 2000), stats(0.1, 10, 10, 2000)],
    }));
    expect(f.shards[0]!.serverCpu).toBe(0.93);
    // Readings further apart than the load lasted (start delay, shutdown): the share is over the load.
    const bracketed = await shardFigures(input(many(3, 0), { durationMs: 1000, serverBefore: [stats(10, 100, 1000, 0)], serverAfter: [stats(10.9, 100, 1000, 2000)] }));
    expect(bracketed.shards[0]!.serverCpu).toBe(0.9);
    expect(f.shards[0]!.usecPerCall).toBe(25);
    expect([f.shards[1]!.serverCpu, f.shards[1]!.usecPerCall]).toEqual([null, null]);
    expect([f.shards[2]!.serverCpu, f.shards[2]!.usecPerCall]).toEqual([null, null]);
    expect(serverStatsDelta(stats(1, 1, 1, 0), stats(1.5, 1, 1, 1000))).toEqual({ cpuSeconds: 0.5, wallSeconds: 1, evalshaCalls: 0, evalshaUsec: 0 });
  });

  it('a standalone server is one shard owning every slot and SKU, with no warning', async () => {
    const f = await shardFigures(input([...many(5, 0), ...many(5, 4)], { skuShard: new Uint16Array(6), topology: { shards: [shard(1, [[0, 16383]])] } }));
    expect(f.shards).toHaveLength(1);
    expect(f.shards[0]).toMatchObject({ slots: 16384, skus: 6, requests: 10 });
    expect(f.hottestShardShare).toBe(1);
    expect(f.warnings).toEqual([]);
    expect(formatShards({ ...base(), shards: f.shards, hottestShardShare: 1 })).toEqual([]);
  });

  it('warns about a shard above 1.5x its fair share, naming its busiest SKUs with their share of all requests', async () => {
    // 3 shards: fair share 1/3, warning line 1/2. SKU 1 alone takes 70%.
    const f = await shardFigures(input([...many(70, 1), ...many(6, 0), ...many(4, 2), ...many(10, 3), ...many(10, 5)]));
    expect(f.hottestShardShare).toBe(0.8);
    expect(f.warnings).toEqual([
      'shard 10.0.0.1:6379 took 80% of the requests, 2.4x its fair share of 33%; its busiest SKUs: SKU 1 (70%), SKU 0 (6%), SKU 2 (4%) of all requests; ' +
        'a SKU lives on one shard, so a hot SKU loads that shard alone: more shards will not spread it',
    ]);
  });

  it('says when the SKUs placed on a shard, not one hot SKU, overload it', async () => {
    const f = await shardFigures(input([...many(20, 0), ...many(20, 1), ...many(20, 2), ...many(20, 3), ...many(20, 5)]));
    expect(f.hottestShardShare).toBe(0.6);
    expect(f.warnings).toHaveLength(1);
    expect(f.warnings[0]).toMatch(/^shard 10\.0\.0\.1:6379 took 60% of the requests, 1\.8x its fair share of 33%; its busiest SKUs: SKU 0 \(20%\), SKU 1 \(20%\), SKU 2 \(20%\) of all requests; its 3 of the 6 SKUs drew more than their share/);
  });

  it('does not warn at exactly 1.5x the fair share', async () => {
    expect(HOT_SHARD_FACTOR).toBe(1.5);
    const f = await shardFigures(input([...many(50, 0), ...many(25, 3), ...many(25, 5)]));
    expect(f.hottestShardShare).toBe(0.5);
    expect(f.warnings).toEqual([]);
  });
});

function base(overrides: Partial<SummaryV1> = {}): SummaryV1 {
  return {
    version: 1,
    sellout: { version: '0.1.0', node: 'v20' },
    run: { id: 'r', startedAt: '2025-01-01T00:00:00.000Z', finishedAt: '2025-01-01T00:00:01.000Z', keysKept: false },
    scenario: { name: 's', file: 's.yaml', script: 'lua/deduct.lua', scriptSha: 'x', asRun: 'name: s\n' },
    status: 'pass',
    requests: 300,
    planned: 300,
    durationMs: 1000,
    throughput: 300,
    outcomes: { ok: 300, duplicate: 0, sold_out: 0, not_found: 0, invalid: 0, error: 0, unknown: 0 },
    latency: { ok: { count: 300, p50: 200, p90: 400, p99: 900, p999: 2000, max: 3000, mean: 250 }, duplicate: null, sold_out: null, not_found: null, invalid: null, error: null, unknown: null },
    load: { model: 'closed', connections: 1, inFlight: 1, workers: 1 },
    invariants: [],
    skus: [],
    target: { redisVersion: '7.0.15', mode: 'cluster', url: 'redis://x', kind: 'url' },
    ...overrides,
  };
}

function figure(node: string, requests: number, p99: number | null, extra: Partial<ShardFigures> = {}): ShardFigures {
  return {
    node, slots: 5461, skus: 10, requests,
    outcomes: { ok: requests, duplicate: 0, sold_out: 0, not_found: 0, invalid: 0, error: 0, unknown: 0 },
    throughput: requests, latency: { ok: p99 === null ? null : { p50: 100, p99, p999: p99 * 2 } }, serverCpu: 0.5, usecPerCall: 20, ...extra,
  };
}

const clustered = base({ shards: [figure('a:1', 100, 800), figure('b:2', 150, 4200), figure('c:3', 50, 1200)], hottestShardShare: 0.5 });

function one(metric: string, condition: string): Threshold {
  const { thresholds, problems } = parseThresholds({ [metric]: condition });
  expect(problems).toEqual([]);
  return thresholds[0]!;
}

describe('shard thresholds', () => {
  it('parses shards.max / min / <i> figures and hottestShardShare in their units', () => {
    expect(one('shards.max.latency.ok.p99', '< 5ms')).toMatchObject({ metric: { kind: 'shard', which: 'max', field: 'latency.ok.p99' }, unit: 'us', limit: 5000 });
    expect(one('shards.min.throughput', '>= 1000')).toMatchObject({ metric: { kind: 'shard', which: 'min', field: 'throughput' }, unit: 'per_s', limit: 1000 });
    expect(one('shards.2.serverCpu', '< 0.8')).toMatchObject({ metric: { kind: 'shard', which: 2, field: 'serverCpu' }, unit: 'count', limit: 0.8 });
    expect(one('shards.max.usecPerCall', '< 50us')).toMatchObject({ unit: 'us', limit: 50 });
    expect(one('hottestShardShare', '< 0.5')).toMatchObject({ metric: { kind: 'hottestShardShare' }, unit: 'share', limit: 0.5 });
    expect(one('hottestShardShare', '<= 40%')).toMatchObject({ unit: 'share', limit: 0.4 });
  });

  it('rejects a bad shard metric or condition in one line each at load time', () => {
    const yaml = 'name: t\nscript: builtin:deduct\nskus: {stock: 10}\nrequests: 10\nthresholds:\n  shards.max.latency.ok.p95: "< 5ms"\n  shards.avg.requests: "> 0"\n  shards.max.latency.ok.p99: "< 5"\n  hottestShardShare: "< 2"\n';
    let error: unknown;
    try { parseScenario(yaml, '/tmp/t.yaml', { cwd: '/tmp' }); } catch (err) { error = err; }
    expect(error).toBeInstanceOf(ScenarioError);
    expect((error as ScenarioError).exitCode).toBe(ExitCode.usage);
    const problems = (error as ScenarioError).problems;
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/^t\.yaml: thresholds\.shards\.max\.latency\.ok\.p95: expected a metric name \(.*shards\.<max\|min\|N>\.<latency\.ok\.p50\|latency\.ok\.p99\|latency\.ok\.p999\|requests\|throughput\|usecPerCall\|serverCpu>, hottestShardShare, .*\), got "shards\.max\.latency\.ok\.p95"$/);
    expect(problems[1]).toMatch(/^t\.yaml: thresholds\.shards\.avg\.requests: expected a metric name .*, got "shards\.avg\.requests"$/);
    expect(problems[2]).toBe('t.yaml: thresholds.shards.max.latency.ok.p99: expected a condition on a duration with a unit, like "< 5ms" (operators <, <=, >, >=, ==, !=; units us, ms, s), got "< 5"');
    expect(problems[3]).toBe('t.yaml: thresholds.hottestShardShare: expected a condition on a share of the requests, like "< 0.5" or "< 50%" (operators <, <=, >, >=, ==, !=), got "< 2"');
  });

  it('judges the slowest shard, the least busy one, or one shard by its index', () => {
    const max = evaluateThreshold(one('shards.max.latency.ok.p99', '< 4ms'), clustered);
    expect(max).toMatchObject({ status: 'fail', actual: 4200, limit: 4000 });
    expect(max.text).toBe('shards.max.latency.ok.p99 < 4ms: actual 4.2 ms, limit 4 ms, over by 200 us (5% of the limit)');
    expect(evaluateThreshold(one('shards.min.requests', '>= 60'), clustered)).toMatchObject({ status: 'fail', actual: 50 });
    expect(evaluateThreshold(one('shards.0.latency.ok.p99', '< 1ms'), clustered)).toMatchObject({ status: 'pass', actual: 800 });
  });

  it('fails a shard index the run did not have, a server figure not measured, and a summary without shards; skips a latency with no ok reply', () => {
    expect(evaluateThreshold(one('shards.3.requests', '> 0'), clustered)).toMatchObject({ status: 'fail', actual: null, reason: 'not measured: the run had 3 shard(s), numbered 0 to 2' });
    const noInfo = base({ shards: [figure('a:1', 100, 800, { serverCpu: null })], hottestShardShare: 1 });
    expect(evaluateThreshold(one('shards.max.serverCpu', '< 0.9'), noInfo)).toMatchObject({ status: 'fail', reason: expect.stringMatching(/^not measured: the server did not report serverCpu/) });
    expect(evaluateThreshold(one('shards.max.latency.ok.p99', '< 5ms'), base())).toMatchObject({ status: 'fail', reason: expect.stringMatching(/no per-shard figures/) });
    expect(evaluateThreshold(one('hottestShardShare', '< 0.5'), base())).toMatchObject({ status: 'fail', reason: expect.stringMatching(/no per-shard figures/) });
    const noOk = base({ shards: [figure('a:1', 100, null), figure('b:2', 100, null)], hottestShardShare: 0.5 });
    expect(evaluateThreshold(one('shards.max.latency.ok.p99', '< 5ms'), noOk)).toMatchObject({ status: 'skipped', reason: 'no ok replies on any shard in this run' });
  });

  it('gates the busiest shard\'s share, and skips it on a single shard where it is 1 by definition', () => {
    const pass = evaluateThreshold(one('hottestShardShare', '<= 0.5'), clustered);
    expect(pass).toMatchObject({ status: 'pass', actual: 0.5, unit: 'share' });
    expect(pass.text).toBe('hottestShardShare <= 0.5: actual 50%, limit 50%, headroom 0% (0% of the limit)');
    expect(evaluateThreshold(one('hottestShardShare', '< 0.4'), clustered)).toMatchObject({ status: 'fail', margin: -0.09999999999999998 });
    const standalone = base({ shards: [figure('a:1', 300, 900)], hottestShardShare: 1 });
    expect(evaluateThreshold(one('hottestShardShare', '< 0.5'), standalone)).toMatchObject({ status: 'skipped', reason: 'one shard takes every request: a balance gate applies to a cluster' });
    // A cluster gate on latency works on a standalone server: its one shard is the max.
    expect(evaluateThreshold(one('shards.max.latency.ok.p99', '< 5ms'), standalone)).toMatchObject({ status: 'pass', actual: 900 });
  });

  it('compare reads the same figures (lower share and latency are better)', () => {
    expect(compareMetric('hottestShardShare')).toMatchObject({ unit: 'share', better: 'lower' });
    expect(compareMetric('hottestShardShare')!.value(clustered)).toBe(0.5);
    expect(compareMetric('shards.max.latency.ok.p99')!.value(clustered)).toBe(4200);
    expect(compareMetric('shards.min.throughput')).toMatchObject({ better: 'higher' });
  });
});

describe('shard reports', () => {
  it('summary.json keeps the shard figures through the schema, and older summaries without them still parse', async () => {
    const { summary } = await buildFixture({ shards: 3 });
    const parsed = summarySchema.parse(JSON.parse(JSON.stringify(summary)));
    expect(parsed.shards).toEqual(summary.shards);
    expect(parsed.series!.shardReplies).toHaveLength(3);
    expect(parsed.redirects).toEqual({ moved: 2, ask: 0, tryagain: 0 });
    expect(parsed.shardWarnings).toEqual(summary.shardWarnings);
    const older = summarySchema.parse(JSON.parse(JSON.stringify(base())));
    expect(older.shards).toBeUndefined();
  });

  it('the console prints a shard table and the hot-shard warning for 3 shards, nothing for 1', async () => {
    const three = (await buildFixture({ shards: 3 })).summary;
    const text = formatSummary(three);
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l.startsWith('  shards      3 primaries; the busiest took '));
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1]).toMatch(/^ {4}node +slots +SKUs +requests +share +replies\/s +ok p50 +ok p99 +ok p99\.9 +cpu +us\/call$/);
    expect(lines[at + 2]).toMatch(/^ {4}127\.0\.0\.1:7000 +5,462 +5 +[\d,]+ +\d+\.\d% +[\d,]+ +[\d.]+ (us|ms) .* 0\.25 +21\.0$/);
    expect(lines.slice(at + 2, at + 5).map((l) => l.trim().split(/\s+/)[0])).toEqual(['127.0.0.1:7000', '127.0.0.1:7001', '127.0.0.1:7002']);
    const warning = lines.find((l) => l.startsWith('  warning     shard 127.0.0.1:7000 took '));
    expect(warning).toMatch(/its busiest SKUs: SKU 0 \(\d+%\), SKU 1 \(\d+%\), SKU 2 \([\d.]+%\) of all requests/);
    expect(text).toContain('  redirects   moved 2 · ask 0 · tryagain 0');

    const single = (await buildFixture()).summary;
    expect(single.shards).toHaveLength(1);
    const plain = formatSummary(single);
    expect(plain).not.toMatch(/^ {2}(shards|redirects) /m);
    expect(plain).not.toContain('127.0.0.1:7000');
  });

  it('summary.md and report.html show the shards, the warning and the chart for 3 shards, and no shard section for 1', async () => {
    const three = await buildFixture({ shards: 3 });
    const md = renderMarkdown(three.summary);
    expect(md).toContain('### Shards');
    expect(md).toMatch(/^\| `127\.0\.0\.1:7001` \| 5,462 \| 3 \| /m);
    expect(md).toMatch(/^- ⚠️ shard 127\.0\.0\.1:7000 took \d+% of the requests/m);
    expect(md).toContain('Redirections the load followed: MOVED 2, ASK 0, TRYAGAIN 0.');
    const html = renderHtml(three);
    expect(html).toContain('<section id="shards"><h2>Shards</h2>');
    expect(html).toContain('<code>127.0.0.1:7002</code>');
    expect(html).toContain('data-chart="shards"');
    const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!) as { charts: { id: string; series: { label: string; values: number[] }[] }[] };
    const chart = data.charts.find((c) => c.id === 'shards')!;
    expect(chart.series.map((s) => s.label)).toEqual(['127.0.0.1:7000', '127.0.0.1:7001', '127.0.0.1:7002']);
    // Replies per second of the shards add up to the run's replies per second.
    const total = chart.series.reduce((n, s) => n + s.values.reduce((a, b) => a + b, 0), 0);
    expect(total).toBe(three.summary.requests);

    const one = await buildFixture();
    expect(renderMarkdown(one.summary)).not.toContain('### Shards');
    const plain = renderHtml(one);
    expect(plain).not.toContain('id="shards"');
    expect(plain).not.toContain('data-chart="shards"');
  });
});
