/**
 * report.html: one self-contained page (uPlot's JS and CSS inlined, data as JSON in the page, no
 * network) that answers "does the shop survive the sale?" at a glance: the verdict, latency
 * spectra per outcome, replies/s, p99 and stock over time, the outcome breakdown, invariants with
 * their evidence, thresholds, the scenario as run and the environment. Everything embedded is
 * escaped (HTML text, attribute values, and JSON inside <script>).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { decodeHistogramForReport } from '../metrics/histogram.js';
import { OUTCOMES, type Outcome } from '../outcomes.js';
import { COVERAGE_COUNTS, COVERAGE_MEANING, warnsAtZero } from '../summary/coverage.js';
import { formatValue } from '../thresholds/evaluate.js';
import { escapeHtml, inlineSafe, jsonForScript } from './escape.js';
import type { ReportInput, ReportOutput } from './output.js';
import { listedSkusOfSummary, skuTotalsOfSummary } from '../summary/skus.js';
import type { SeriesV1, SummaryV1 } from '../summary/summary.js';
import { verdictHeadline, verdictOf } from '../summary/verdict.js';
import { agentBundle, agentClockCell } from './agent-figures.js';
import { int } from '../numbers.js';

export const OUTCOME_COLORS: Record<Outcome, string> = {
  ok: '#1a9850',
  duplicate: '#4575b4',
  sold_out: '#8c8c8c',
  not_found: '#984ea3',
  invalid: '#a6611a',
  error: '#d73027',
  unknown: '#e7298a',
};
/**
 * Fault windows on the over-time charts: the window (from the fault's start to the first ok after
 * it ends) in the light shade, the fault's own action (start to end) in the darker one, opaque and
 * drawn under the grid and the lines; `label` names the fault at the top of its band.
 */
export const FAULT_BAND_COLORS = { window: '#fde4c4', action: '#f7c17e', label: '#8a5300' } as const;
const SKU_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** Spectrum x positions: 1/(1 - percentile), log-spaced from 0% to 99.999% as in HdrHistogram's plotter. */
const SPECTRUM_POINTS = 241;
const SPECTRUM_MAX_X = 100_000;

/**
 * `dash`: a dashed line (uPlot's canvas dash pattern), for a reference such as the target rate.
 * `of`: the values are percentages of this many units (the stock chart), and the legend shows the units too.
 * `points`: a dot at each value (sparse measurements, such as capacity steps); `marker`: dots only, no line.
 */
export interface ChartSeries { label: string; color: string; values: (number | null)[]; dash?: number[]; width?: number; of?: number; points?: boolean; marker?: boolean }
/**
 * `yRange`: a fixed y range (the stock chart's 0..100%) instead of one fitted to the data.
 * `kind`: `time` (x in seconds since t0), `spectrum` (percentiles, log-log), `xy` (x in `xLabel`'s unit, such as an offered rate).
 */
export interface ChartSpec { id: string; title: string; xLabel: string; yLabel: string; kind: 'spectrum' | 'time' | 'xy'; x: number[]; series: ChartSeries[]; yRange?: [number, number] }

/**
 * The percentile spectrum per outcome, in milliseconds. Each outcome's line stops where its
 * sample count runs out (beyond 1/(1-p) = count a percentile says nothing new), ending at the max.
 */
export function spectrumChart(histograms: ReportInput['histograms']): ChartSpec | null {
  const x = Array.from({ length: SPECTRUM_POINTS }, (_, i) => 10 ** ((Math.log10(SPECTRUM_MAX_X) * i) / (SPECTRUM_POINTS - 1)));
  const series: ChartSeries[] = [];
  for (const outcome of OUTCOMES) {
    const encoded = histograms[outcome];
    if (!encoded) continue;
    const h = decodeHistogramForReport(encoded);
    const count = h.totalCount;
    const max = h.maxValue;
    let ended = false;
    const values = x.map((xi) => {
      if (ended) return null;
      if (xi >= count) { ended = true; return max / 1000; }
      return Math.min(h.getValueAtPercentile(100 - 100 / xi), max) / 1000;
    });
    series.push({ label: outcome, color: OUTCOME_COLORS[outcome], values });
  }
  return series.length ? { id: 'spectrum', title: 'Latency by percentile', xLabel: 'percentile', yLabel: 'ms', kind: 'spectrum', x, series } : null;
}

/** The open models' lines on the replies/s chart: the schedule's rate, and the sends it dropped. */
export const TARGET_RATE_COLOR = '#333333';
export const DROPPED_COLOR = '#ff7f00';
/** A last interval shorter than this share of the interval gives no rate: too few replies in too short a time to mean one. */
const MIN_LAST_SHARE = 0.1;

/**
 * Counts per interval as rates per second: each divided by its interval's length, the last by its
 * real length (`lastIntervalMs`: the run ended inside it), so the run's end shows no false dip. A
 * last interval under MIN_LAST_SHARE of the interval is left out (null): its counts are in
 * summary.json, but a rate over a few milliseconds is noise.
 */
export function perSecondOf(s: Pick<SeriesV1, 'intervalMs' | 'lastIntervalMs'>, counts: readonly number[]): (number | null)[] {
  const last = counts.length - 1;
  const lastMs = s.lastIntervalMs ?? s.intervalMs;
  return counts.map((n, i) => {
    const ms = i === last ? lastMs : s.intervalMs;
    if (i === last && ms < s.intervalMs * MIN_LAST_SHARE) return null;
    return (n * 1000) / ms;
  });
}

/** "100 ms", "1 s", "2.5 s". */
function intervalLabel(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${ms / 1000} s`;
}

/** SKU lines on the stock chart, besides the total. */
export const STOCK_SKU_LINES = 5;
export const STOCK_TOTAL_COLOR = '#1b1f24';
/**
 * Two SKUs whose stock (in % of their initial stock) is never further apart than this draw as one
 * line: on the fixed 0..100% scale of a 260 px chart that is under 4 px, about a line's width.
 */
const SAME_CURVE_PCT = 2;

/**
 * The stock chart. summary.series.stock has up to 10 SKUs (the busiest, by their numbers), and
 * drawn as they are, SKUs that sell at the same pace lie on top of each other: ten lines showed
 * two colours. So the chart shows
 * - the total of the sampled SKUs (all of them when the run had no more), dark and dashed, so a
 *   SKU line under it still shows through its gaps;
 * - at most STOCK_SKU_LINES SKUs: those that sold out first, then those that sold the most;
 * - every line in % of its initial stock on a fixed 0..100% scale, so the total (thousands of
 *   units) and one SKU (hundreds) share a scale and a SKU's sell-out reads as the fall to 0% (the
 *   legend gives the units); a fitted scale would zoom a barely sold stock into distinct lines;
 * - SKUs whose curves stay within SAME_CURVE_PCT of each other as one line, its label naming the
 *   others ("SKU 3 (and SKUs 1, 4: same curve)"), so no line hides another unnamed.
 */
export function stockChart(
  skus: { sku: number; initial: number | null; values: (number | null)[] }[], skuCount: number,
): Pick<ChartSpec, 'title' | 'yLabel' | 'series' | 'yRange'> | null {
  const known = skus.filter((k): k is typeof k & { initial: number } => k.initial !== null && k.initial > 0);
  if (!known.length) return null;
  // Each SKU's samples, the initial stock at t0 first, in % of the initial stock.
  const pct = known.map((k) => ({ ...k, curve: [k.initial, ...k.values].map((v) => (v === null ? null : (v / k.initial) * 100)) }));
  const soldOutAt = (c: (number | null)[]) => { const i = c.findIndex((v) => v !== null && v <= 0); return i < 0 ? Infinity : i; };
  const lastOf = (c: (number | null)[]) => [...c].reverse().find((v) => v !== null) ?? 100;
  const ranked = [...pct].sort((a, b) => soldOutAt(a.curve) - soldOutAt(b.curve) || lastOf(a.curve) - lastOf(b.curve) || a.sku - b.sku);
  const same = (a: (number | null)[], b: (number | null)[]) => a.every((v, i) => (v === null) === (b[i] === null) && (v === null || Math.abs(v - b[i]!) <= SAME_CURVE_PCT));
  const groups: { lead: (typeof pct)[number]; others: number[] }[] = [];
  for (const k of ranked) {
    const group = groups.find((g) => same(g.lead.curve, k.curve));
    if (group) group.others.push(k.sku);
    else groups.push({ lead: k, others: [] });
  }
  const shown = groups.slice(0, STOCK_SKU_LINES);
  const sameAs = (others: number[]) => {
    if (!others.length) return '';
    const named = others.length > 3 ? `${others.length} other SKUs` : `SKU${others.length > 1 ? 's' : ''} ${others.sort((a, b) => a - b).join(', ')}`;
    return ` (and ${named}: same curve ±${SAME_CURVE_PCT}%)`;
  };
  const series: ChartSeries[] = shown.map((g, i) => ({
    label: `SKU ${g.lead.sku}${sameAs(g.others)}`,
    color: SKU_COLORS[i % SKU_COLORS.length]!, values: g.lead.curve, of: g.lead.initial,
  }));
  const all = known.reduce((n, k) => n + k.initial, 0);
  const length = pct[0]!.curve.length;
  const total = Array.from({ length }, (_, i) => {
    let n = 0;
    for (const k of known) { const v = i === 0 ? k.initial : k.values[i - 1]; if (v === null || v === undefined) return null; n += v; }
    return (n / all) * 100;
  });
  const everySku = known.length >= skuCount;
  // Drawn last: dashed over the SKU lines, which show through its gaps where they coincide.
  series.push({ label: everySku ? `all ${known.length} SKUs` : `the ${known.length} sampled SKUs`, color: STOCK_TOTAL_COLOR, values: total, of: all, dash: [7, 4], width: 2.5 });
  const hidden = groups.length - shown.length;
  return {
    title: `Stock left over time${everySku && !hidden ? '' : ` (${[...(everySku ? [] : [`${known.length} of ${skuCount} SKUs sampled`]), ...(hidden > 0 ? [`${STOCK_SKU_LINES} fastest shown`] : [])].join(', ')})`}`,
    yLabel: '% left',
    series,
    yRange: [0, 100],
  };
}

/** Charts over time from summary.series (replies/s and p99 per outcome, stock per SKU). */
export function timeCharts(summary: SummaryV1): ChartSpec[] {
  const s = summary.series;
  // A line needs two points: a run shorter than two intervals gets the note instead of empty axes.
  if (!s || s.t.length < 2) return [];
  const x = s.t.map((ms) => ms / 1000);
  const outcomes = OUTCOMES.filter((o) => s.replies[o]?.some((n) => n > 0));
  const charts: ChartSpec[] = [];
  if (outcomes.length) {
    const series: ChartSeries[] = outcomes.map((o) => ({ label: o, color: OUTCOME_COLORS[o], values: perSecondOf(s, s.replies[o]!) }));
    // Open models: what the schedule asked for, and what could not be sent (max in flight reached).
    if (s.scheduled) series.push({ label: 'target rate', color: TARGET_RATE_COLOR, values: perSecondOf(s, s.scheduled), dash: [6, 4] });
    if (s.dropped) series.push({ label: 'dropped', color: DROPPED_COLOR, values: perSecondOf(s, s.dropped) });
    charts.push({
      id: 'replies', title: `Replies per second (per ${intervalLabel(s.intervalMs)})`, xLabel: 's', yLabel: 'replies/s', kind: 'time', x,
      series,
    });
  }
  const withP99 = OUTCOMES.filter((o) => s.p99[o]?.some((v) => v !== null));
  if (withP99.length) {
    charts.push({
      id: 'p99', title: 'p99 latency over time', xLabel: 's', yLabel: 'ms', kind: 'time', x,
      series: withP99.map((o) => ({ label: o, color: OUTCOME_COLORS[o], values: s.p99[o]!.map((v) => (v === null ? null : v / 1000)) })),
    });
  }
  if (s.stock.length) {
    // Stock is sampled at each interval's end (the last sample when the run ended), and starts at
    // the initial stock at t0: plot it there, not at the interval starts the rates use.
    const last = s.t.length - 1;
    const sampledAt = s.t.map((ms, i) => (i === last ? Math.max(ms, summary.durationMs) : ms + s.intervalMs) / 1000);
    // Every SKU starts with the scenario's stock; summary.json lists only a few SKUs, so take it from the totals.
    const totals = skuTotalsOfSummary(summary);
    const initial = (sku: number) => summary.skus.find((k) => k.sku === sku)?.initial ?? (totals.count > 0 ? totals.initial / totals.count : null);
    const stock = stockChart(s.stock.map((k) => ({ sku: k.sku, initial: initial(k.sku), values: k.values })), totals.count);
    if (stock) charts.push({ id: 'stock', xLabel: 's', kind: 'time', x: [0, ...sampledAt], ...stock });
  }
  // The sell-out timeline: how many SKUs had sold out by each interval's end (from the load's
  // replies, every SKU counted, not only the sampled ones), starting from none at t0.
  const soldOut = s.soldOut;
  if (soldOut && soldOut.some((n) => n > 0)) {
    const last = s.t.length - 1;
    const endsAt = s.t.map((ms, i) => (i === last ? Math.max(ms, summary.durationMs) : ms + s.intervalMs) / 1000);
    const count = skuTotalsOfSummary(summary).count;
    charts.push({
      id: 'soldout', title: `SKUs sold out over time (of ${count.toLocaleString('en-US')})`, xLabel: 's', yLabel: 'SKUs', kind: 'time', x: [0, ...endsAt],
      series: [{ label: 'sold out', color: SOLD_OUT_COLOR, values: [0, ...soldOut] }],
      yRange: [0, Math.max(1, count)],
    });
  }
  return charts;
}

/** The sell-out timeline's line. */
export const SOLD_OUT_COLOR = '#6a3d9a';

/** Replies per second of each shard (summary.series.shardReplies), for a run on more than one shard. */
export function shardChart(summary: SummaryV1): ChartSpec | null {
  const s = summary.series;
  const shards = summary.shards ?? [];
  const replies = s?.shardReplies;
  if (!s || s.t.length < 2 || shards.length < 2 || !replies || replies.length !== shards.length) return null;
  return {
    id: 'shards', title: 'Replies per second by shard', xLabel: 's', yLabel: 'replies/s', kind: 'time', x: s.t.map((ms) => ms / 1000),
    series: shards.map((shard, i) => ({ label: shard.node, color: SKU_COLORS[i % SKU_COLORS.length]!, values: perSecondOf(s, replies[i]!) })),
  };
}

/** A fault's band on the time charts, in seconds since t0 (the charts' x axis). */
export interface FaultBand { label: string; from: number; ended: number; to: number }

export function faultBands(summary: SummaryV1): FaultBand[] {
  return (summary.faults ?? []).map((f) => ({
    label: `#${f.index} ${f.action}${f.failed !== undefined ? ' (failed)' : ''}`,
    from: f.window.fromMs / 1000,
    ended: Math.max(f.window.fromMs, f.endedMs) / 1000,
    to: f.window.toMs / 1000,
  }));
}

let uplotAssets: { js: string; css: string } | undefined;
function uplot(): { js: string; css: string } {
  if (!uplotAssets) {
    const require = createRequire(import.meta.url);
    const dir = require.resolve('uplot/package.json').replace(/package\.json$/, 'dist/');
    uplotAssets = {
      js: inlineSafe(readFileSync(`${dir}uPlot.iife.min.js`, 'utf8'), 'script'),
      css: inlineSafe(readFileSync(`${dir}uPlot.min.css`, 'utf8'), 'style'),
    };
  }
  return uplotAssets;
}

const h = escapeHtml;
/**
 * Microseconds as µs: formatValue is shared with the console (which stays ASCII), so the page
 * rewrites its " us" unit, in formatted values and in the sentences built from them (a threshold's text).
 */
export const micro = (text: string) => text.replace(/(\d) us\b/g, '$1 µs');
const us = (v: number) => micro(formatValue(v, 'us'));
const fv: typeof formatValue = (v, unit) => micro(formatValue(v, unit));
const STATUS_LABEL = { pass: 'PASS', fail: 'FAIL', skipped: 'SKIP' } as const;

function chartBox(spec: ChartSpec): string {
  return `<figure class="chart-box"><figcaption>${h(spec.title)}</figcaption><div class="chart" data-chart="${h(spec.id)}"></div></figure>`;
}

function section(title: string, body: string, id?: string): string {
  return `<section${id ? ` id="${h(id)}"` : ''}><h2>${h(title)}</h2>${body}</section>`;
}

function keyFigures(s: SummaryV1): string {
  const cards: [string, string][] = [
    ['requests', `${int(s.requests)}${s.planned !== null && s.planned !== s.requests ? ` of ${int(s.planned)}` : ''}`],
    ['duration', `${(s.durationMs / 1000).toFixed(2)} s`],
    ['throughput', `${int(s.throughput)}/s`],
    ['ok p99', s.latency.ok ? us(s.latency.ok.p99) : '—'],
    ['sold', `${int(skuTotalsOfSummary(s).sold)} units`],
  ];
  if ((s.shards?.length ?? 0) > 1 && s.hottestShardShare !== undefined) cards.push(['busiest shard\'s share', `${(s.hottestShardShare * 100).toFixed(1)}%`]);
  if (s.achievedRate !== undefined) cards.push(['achieved rate', `${int(s.achievedRate)}/s${s.targetRate !== undefined ? ` of ${int(s.targetRate)}` : ''}`]);
  if (s.dropped !== undefined) cards.push(['dropped', int(s.dropped)]);
  if (s.server) cards.push(['Redis busy', `${Math.round(s.server.cpu * 100)}% of a core`]);
  // Which side limited the run, in the words the console uses.
  const server = s.server ? `<p id="bottleneck" class="muted" data-limit="${s.server.limit}">${h(micro(s.server.says))}${s.server.usecPerCall !== null ? ` (${h(micro(`${s.server.usecPerCall.toFixed(1)} us`))} per EVALSHA)` : ''}.</p>` : '';
  return `<div class="cards">${cards.map(([k, v]) => `<div class="card"><div class="k">${h(k)}</div><div class="v">${h(v)}</div></div>`).join('')}</div>${server}`;
}

function outcomeBreakdown(s: SummaryV1): string {
  const total = Math.max(1, OUTCOMES.reduce((n, o) => n + s.outcomes[o], 0));
  const rows = OUTCOMES.filter((o) => s.outcomes[o] > 0).map((o) => {
    const pct = (s.outcomes[o] / total) * 100;
    return `<tr><td><span class="dot" style="background:${OUTCOME_COLORS[o]}"></span>${h(o)}</td><td class="num">${int(s.outcomes[o])}</td><td class="num">${pct >= 0.1 || pct === 0 ? pct.toFixed(1) : pct.toPrecision(1)}%</td><td class="barcell"><div class="bar" style="width:${pct.toFixed(2)}%;background:${OUTCOME_COLORS[o]}"></div></td></tr>`;
  });
  const table = `<table class="outcomes"><thead><tr><th>outcome</th><th class="num">replies</th><th class="num">share</th><th></th></tr></thead><tbody>${rows.join('') || '<tr><td colspan="4">no replies</td></tr>'}</tbody></table>`;
  return table + errorReplyTable(s);
}

/** The distinct error replies behind the `error` outcome: an error count alone says nothing about its cause. */
function errorReplyTable(s: SummaryV1): string {
  if (!s.errorReplies?.length) return '';
  const rows = s.errorReplies.map((e) => `<tr><td><code>${h(e.reply)}</code>${e.refusal ? ' <span class="muted">(the server refused the command)</span>' : ''}</td><td class="num">${int(e.count)}</td></tr>`);
  return `<h3>Error replies</h3><table class="errors"><thead><tr><th>reply</th><th class="num">deductions</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function latencyTable(s: SummaryV1): string {
  const rows = OUTCOMES.flatMap((o) => {
    const p = s.latency[o];
    return p ? [`<tr><td>${h(o)}</td><td class="num">${int(p.count)}</td>${[p.p50, p.p90, p.p99, p.p999, p.max, p.mean].map((v) => `<td class="num">${h(us(v))}</td>`).join('')}</tr>`] : [];
  });
  return `<table><thead><tr><th>outcome</th><th class="num">count</th><th class="num">p50</th><th class="num">p90</th><th class="num">p99</th><th class="num">p99.9</th><th class="num">max</th><th class="num">mean</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** A distributed run's agents: segment, host, what each sent, its clock against Redis TIME, its bundle. */
function agentSection(s: SummaryV1): string {
  const agents = s.agents ?? [];
  const cell = (v: string) => `<td class="num">${h(v)}</td>`;
  const rows = agents.map((a) => `<tr data-status="${h(a.status ?? 'ok')}"><td>${h(`${a.segment}/${agents.length}`)}</td><td><code>${h(a.host)}</code></td><td>${h(a.status === 'lost' ? 'LOST: not measured' : 'ok')}</td>${[
    int(a.requests),
    a.status === 'lost' ? '—' : agentClockCell(a, 'µs'),
    agentBundle(a, false) ?? '—',
  ].map(cell).join('')}</tr>`);
  const warning = s.incomplete !== undefined ? `<ul class="warnings"><li>${h(s.incomplete)}</li></ul>` : '';
  const table = `<table class="agents"><thead><tr><th>segment</th><th>host</th><th>status</th><th class="num">requests</th><th class="num">clock vs Redis TIME</th><th class="num">bundle</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  const skipped = s.clockSkippedPairs !== undefined ? ` The real-time checks left ${h(int(s.clockSkippedPairs))} pair(s) unjudged: closer than the agents' combined clock uncertainty.` : '';
  return `${warning}${table}<p class="muted">One plan split over the agents (agent i sends requests i, i+N, …), one start taken from Redis TIME, histograms merged exactly and the invariants verified once.${skipped}</p>`;
}

/** The Shards section: hot-shard warnings, one row per shard, the replies/s chart and the redirections followed. */
function shardSection(s: SummaryV1, chart: ChartSpec | null): string {
  const shards = s.shards ?? [];
  const warnings = s.shardWarnings?.length ? `<ul class="warnings">${s.shardWarnings.map((w) => `<li>${h(w)}</li>`).join('')}</ul>` : '';
  const total = shards.reduce((n, x) => n + x.requests, 0);
  const cell = (v: string) => `<td class="num">${h(v)}</td>`;
  const rows = shards.map((x) => `<tr><td><code>${h(x.node)}</code></td>${[
    int(x.slots), int(x.skus), int(x.requests), total > 0 ? `${((x.requests / total) * 100).toFixed(1)}%` : '—', `${int(x.throughput)}/s`,
    x.latency.ok ? us(x.latency.ok.p50) : '—', x.latency.ok ? us(x.latency.ok.p99) : '—', x.latency.ok ? us(x.latency.ok.p999) : '—',
    x.serverCpu === null ? '—' : x.serverCpu.toFixed(2), x.usecPerCall === null ? '—' : `${x.usecPerCall.toFixed(1)} µs`,
  ].map(cell).join('')}</tr>`);
  const table = `<table class="shards"><thead><tr><th>node</th><th class="num">slots</th><th class="num">SKUs</th><th class="num">requests</th><th class="num">share</th><th class="num">throughput</th><th class="num">ok p50</th><th class="num">ok p99</th><th class="num">ok p99.9</th><th class="num">server CPU</th><th class="num">per EVALSHA</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  const r = s.redirects;
  const redirects = r ? `<p>Redirections the load followed: MOVED ${h(int(r.moved))}, ASK ${h(int(r.ask))}, TRYAGAIN ${h(int(r.tryagain))}.</p>` : '';
  const charts = chart ? `<div class="charts" style="margin-top:10px">${chartBox(chart)}</div>` : '';
  return `${warnings}${table}${charts}${redirects}<p class="muted">A SKU's two keys share a slot, so each SKU lives on one shard. Server CPU: cores the server used over the load (CPU seconds from INFO cpu over wall seconds); per EVALSHA: the server's microseconds per script call (INFO commandstats). Thresholds address them as <code>shards.max.latency.ok.p99</code>, <code>shards.0.serverCpu</code>, <code>hottestShardShare</code>.</p>`;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The Faults section: one row per timed fault with its window and effect, then the outcomes outside every window. */
function faultTable(s: SummaryV1): string {
  const faults = s.faults ?? [];
  const outside = s.outcomesOutsideFaults;
  const cell = (v: string) => `<td class="num">${h(v)}</td>`;
  const rows = faults.map((f) => {
    const notes = [
      f.failed !== undefined ? `<div class="failed">failed: ${h(f.failed)}</div>` : '',
      f.detail !== undefined ? `<div class="muted">${h(micro(f.detail))}</div>` : '',
    ].join('');
    return `<tr${f.failed !== undefined ? ' class="fail"' : ''}><td class="num">${f.index}</td><td><code>${h(f.action)}</code>${notes}</td>${[
      seconds(f.at),
      `${seconds(f.window.fromMs)} – ${f.effect.recoveryMs === null ? 'end (no ok after)' : seconds(f.window.toMs)}`,
      int(f.effect.requests), int(f.effect.errors), int(f.effect.unknown),
      f.effect.latencyPeakUs === null ? '—' : us(f.effect.latencyPeakUs),
      f.effect.recoveryMs === null ? 'none' : us(f.effect.recoveryMs * 1000),
    ].map(cell).join('')}</tr>`;
  });
  const table = `<table class="faults"><thead><tr><th class="num">#</th><th>action</th><th class="num">at</th><th class="num">window</th><th class="num">requests</th><th class="num">errors</th><th class="num">unknown</th><th class="num">latency peak</th><th class="num">recovery</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  const outsideLine = outside ? `<p id="outside-faults">Outside every fault window: <strong>${h(int(outside.error))}</strong> error(s), <strong>${h(int(outside.unknown))}</strong> unknown outcome(s).</p>` : '';
  return `${outsideLine}${table}<p class="muted">A fault's window runs from its start to the first ok reply of a request sent after it ended (to the run's end when none came); its requests, errors and unknown outcomes are those answered (or given up) in the window, and its latency peak the slowest reply there. Errors and unknown outcomes inside a window are expected: the default <code>outcomes.error == 0</code> counts those outside every window (<code>outcomesOutsideFaults.error</code>). Recovery: from the fault's end to that first ok. The over-time charts shade each window, darker while the fault itself lasted.</p>`;
}

/**
 * Request IDs (DEC-<seed>-<index>, keys.ts) in an example's escaped text as <code class="rid">,
 * which never wraps: a narrow column broke them mid-token ("DEC-42-" on one line, "1234" on the next).
 */
const requestIds = (escaped: string) => escaped.replace(/\bDEC-\d+-\d+\b/g, (id) => `<code class="rid">${id}</code>`);

function invariantTable(s: SummaryV1): string {
  const rows = s.invariants.map((i) => {
    const evidence = i.examples.length
      ? `<details${i.status === 'fail' ? ' open' : ''}><summary>${i.examples.length} example(s)</summary><ul class="examples">${i.examples.map((e) => `<li>${requestIds(h(micro(e)))}</li>`).join('')}</ul></details>`
      : '';
    return `<tr class="${i.status}"><td><span class="badge ${i.status}">${STATUS_LABEL[i.status]}</span></td><td><strong>${h(i.name)}</strong><div class="muted">${h(i.description)}</div></td><td>${h(micro(i.expected))}</td><td>${h(micro(i.status === 'skipped' ? i.reason ?? 'skipped' : i.actual))}${evidence}</td></tr>`;
  });
  return `<table class="checks"><thead><tr><th></th><th>invariant</th><th>expected</th><th>actual and evidence</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** The Coverage section: warnings for what the run did not exercise, then every count. */
function coverageTable(s: SummaryV1): string {
  const c = s.coverage;
  if (!c) return '<p class="muted">No coverage: Redis could not be read back after the load (or the summary predates coverage).</p>';
  const warnings = c.warnings.length
    ? `<ul class="warnings">${c.warnings.map((w) => `<li>${h(w)}</li>`).join('')}</ul>`
    : '<p class="muted">Every edge condition was exercised at least once.</p>';
  const rows = COVERAGE_COUNTS.map((name) => `<tr${c[name] === 0 && warnsAtZero(name) ? ' class="zero"' : ''}><td><code>${h(name)}</code></td><td class="num">${h(int(c[name]))}</td><td>${h(COVERAGE_MEANING[name])}</td></tr>`);
  return `${warnings}<table class="coverage"><thead><tr><th>condition</th><th class="num">count</th><th>what is counted</th></tr></thead><tbody>${rows.join('')}</tbody></table><p class="muted">A pass proves only what the workload exercised. Each count is also a threshold metric (<code>coverage.partialBoundary: "&gt; 0"</code>); definitions in docs/summary.md.</p>`;
}

/** The SKUs: totals over all of them, then the few summary.json lists (every SKU is in skus.csv). */
function skuTable(s: SummaryV1): string {
  const k = skuTotalsOfSummary(s);
  const figures = `<p>${int(k.count)} SKU(s): ${int(k.initial)} units at the start, ${int(k.sold)} sold, ${int(k.final)} left; ${int(k.soldOut)} sold out, ${int(k.journal)} journal entries${k.unreadable ? `; ${int(k.unreadable)} with no integer stock` : ''}${k.failing ? `; violations at ${int(k.failing)} SKU(s)` : ''}.</p>`;
  const listed = listedSkusOfSummary(s);
  const rows = listed.map((r) => `<tr${r.violations ? ' class="fail"' : ''}><td class="num">${r.sku}</td><td class="num">${h(int(r.initial))}</td><td class="num">${h(typeof r.final === 'number' ? int(r.final) : r.final === null ? 'missing' : JSON.stringify(r.final))}</td><td class="num">${h(int(r.journal))}</td><td class="num">${r.violations ? h(int(r.violations)) : ''}</td></tr>`);
  const which = listed.length < k.count
    ? `The ${int(listed.length)} SKUs most worth a look (violations first, then the lowest final stock, then the most journal entries); every SKU is in ${s.skuTotals ? 'skus.csv' : 'summary.json'}.`
    : 'Every SKU, violations first, then the lowest final stock, then the most journal entries.';
  return `${figures}<table class="skus"><thead><tr><th class="num">SKU</th><th class="num">initial</th><th class="num">final</th><th class="num">journal</th><th class="num">violations</th></tr></thead><tbody>${rows.join('')}</tbody></table><p class="muted">${h(which)}</p>`;
}

function thresholdTable(s: SummaryV1): string {
  if (!s.thresholds?.length) return '<p class="muted">No thresholds in this scenario (or they were turned off with --no-thresholds).</p>';
  const rows = s.thresholds.map((t) => {
    const margin = t.margin === null ? '—' : `${t.margin >= 0 ? '+' : '−'}${fv(Math.abs(t.margin), t.unit)}`;
    // A reason next to a value says what it counts (the default outcomes.error in a run with faults) or why it was skipped.
    const actual = t.actual === null ? h(micro(t.reason ?? 'not measured')) : `${h(fv(t.actual, t.unit))}${t.reason ? `<div class="muted">${h(micro(t.reason))}</div>` : ''}`;
    return `<tr class="${t.status}"><td><span class="badge ${t.status}">${STATUS_LABEL[t.status]}</span></td><td><code>${h(t.name)} ${h(t.condition)}</code></td><td class="num">${actual}</td><td class="num">${h(t.limit === null ? t.reason ?? '—' : fv(t.limit, t.unit))}</td><td class="num">${h(margin)}</td></tr>`;
  });
  return `<table class="checks"><thead><tr><th></th><th>threshold</th><th class="num">actual</th><th class="num">limit</th><th class="num">margin</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function environmentTable(s: SummaryV1): string {
  const t = s.target;
  const e = s.environment;
  const rows: [string, string][] = [
    ['Redis', `${t.redisVersion} (${t.mode}, ${t.kind}: ${t.url})`],
    ['sellout', `${s.sellout.version}${e?.commit ? ` at commit ${e.commit}` : ''}`],
    ['Node.js', s.sellout.node],
  ];
  if (e) rows.push(['CPU', `${e.cpuModel} × ${e.cores} cores`], ['OS', `${e.os} ${e.arch}, ${int(e.memoryMb)} MB memory`]);
  rows.push(
    ['script', `${s.scenario.script} (sha ${s.scenario.scriptSha})`],
    ['load', `${s.load.model}: ${s.load.connections} connection(s) × ${s.load.inFlight} in flight, ${s.load.workers} worker(s)`],
    ['run', `${s.run.id}, ${s.run.startedAt} → ${s.run.finishedAt}${s.run.keysKept ? ' (keys kept)' : ''}`],
  );
  return `<table class="env"><tbody>${rows.map(([k, v]) => `<tr><th>${h(k)}</th><td>${h(v)}</td></tr>`).join('')}</tbody></table>`;
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:22px;margin:8px 0 2px}h2{font-size:17px;margin:0 0 10px}
section{background:#fff;border:1px solid #e2e5e9;border-radius:8px;padding:14px 16px;margin:14px 0;overflow-wrap:anywhere}
.muted{color:#5f6b7a;font-size:12.5px}
.verdict{border-radius:8px;padding:14px 18px;margin:12px 0;color:#fff;font-weight:600}
.verdict .headline{font-size:20px}
.verdict ul{margin:6px 0 0;padding-left:20px;font-weight:400}
.verdict.pass{background:#1a7f37}.verdict.fail{background:#c62828}.verdict.interrupted{background:#b26a00}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{flex:1 1 140px;background:#f6f7f9;border-radius:6px;padding:8px 12px}
.card .k{color:#5f6b7a;font-size:12px}
.card .v{font-size:18px;font-weight:600;white-space:nowrap}
code.rid{white-space:nowrap}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,440px),1fr));gap:14px}
figure.chart-box{margin:0;min-width:0}
figcaption{font-weight:600;margin-bottom:4px}
.chart{width:100%;min-height:260px}
table{border-collapse:collapse;width:100%;table-layout:auto}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eceff2;vertical-align:top;overflow-wrap:anywhere}
th{font-weight:600;color:#3d4753;font-size:12.5px}
.num{text-align:right;white-space:nowrap}
table.env th{width:110px}
.badge{display:inline-block;white-space:nowrap;border-radius:4px;padding:1px 6px;font-size:11.5px;font-weight:700;color:#fff}
.badge.pass{background:#1a7f37}.badge.fail{background:#c62828}.badge.skipped{background:#8c8c8c}
tr.fail td{background:#fff4f4}
ul.warnings{margin:0 0 10px;padding-left:20px;color:#8a5300}
table.coverage tr.zero td{color:#8a5300}
table.checks td:first-child{width:56px}
table.faults .failed{color:#c62828;font-size:12.5px}
td.num .muted{white-space:normal}
.fault-key{display:inline-block;width:14px;height:10px;margin:0 4px 0 8px;vertical-align:baseline}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:6px}
td.barcell{width:45%}.bar{height:12px;border-radius:3px;min-width:2px}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f7f9;border-radius:6px;padding:10px;margin:0;font-size:12.5px}
code{font-size:12.5px}
details summary{cursor:pointer;color:#3d4753}
.u-legend{font-size:12px}
.u-legend .u-value:empty{display:none}
.u-inline.u-live .u-series:has(.u-value:empty) th::after{content:none}
.u-legend .u-series:first-child:has(.u-value:empty){display:none}
`;

// Runs in the browser: builds each chart from the JSON data at the width of its box.
const SCRIPT = `
(function(){
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var plots = [];
  var faults = data.faults || [], bandColors = data.faultColors;
  // Each fault's window as a shaded interval under the grid and the lines (drawClear runs first).
  function drawFaults(u){
    if (!faults.length) return;
    var ctx = u.ctx, b = u.bbox, left = b.left, right = b.left + b.width, ratio = window.devicePixelRatio || 1;
    var labels = [];
    ctx.save();
    faults.forEach(function(f){
      var x0 = u.valToPos(f.from, 'x', true), xe = u.valToPos(f.ended, 'x', true), x1 = u.valToPos(f.to, 'x', true);
      if (!(x1 >= left && x0 <= right)) return;
      x0 = Math.max(left, x0); xe = Math.min(right, Math.max(x0, xe)); x1 = Math.min(right, x1);
      // At least 2 px: an instant fault whose ok came at once still shows.
      ctx.fillStyle = bandColors.window; ctx.fillRect(x0, b.top, Math.max(2 * ratio, x1 - x0), b.height);
      ctx.fillStyle = bandColors.action; ctx.fillRect(x0, b.top, Math.max(2 * ratio, xe - x0), b.height);
      ctx.fillStyle = bandColors.label; ctx.font = (11 * ratio) + 'px system-ui, sans-serif'; ctx.textBaseline = 'top';
      // Right of the band's start, or left of it when that would run past the plot; a label that
      // would overlap one already drawn goes a line lower.
      var tx = x0 + 3 * ratio, tw = ctx.measureText(f.label).width;
      if (tx + tw > right) tx = Math.max(left, x0 - 3 * ratio - tw);
      var line = 0;
      while (labels.some(function(l){ return l.line === line && tx < l.end + 6 * ratio && tx + tw + 6 * ratio > l.start; })) line++;
      labels.push({ line: line, start: tx, end: tx + tw });
      ctx.fillText(f.label, tx, b.top + (3 + 14 * line) * ratio);
    });
    ctx.restore();
  }
  function pctLabel(x){ if (x <= 1) return '0%'; var p = 100 - 100 / x; return (Math.round(p * 1000) / 1000) + '%'; }
  function fmt(v){ return v == null ? '—' : (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : +v.toPrecision(3)); }
  // Tick values on a linear axis, with the decimals their step needs (uPlot passes it as incr):
  // 950k, 1.25M rather than 950,000 and 1,250,000 from 10,000 on, and 99.95 next to 99.9, never "100, 100".
  function decimals(x){ var t = String(+x.toPrecision(6)); return t.indexOf('e') >= 0 ? 6 : (t.split('.')[1] || '').length; }
  function tickValues(u, splits, i, space, incr){
    var top = Math.max.apply(null, splits.map(Math.abs)), div = top >= 1e6 && incr >= 1e4 ? 1e6 : top >= 1e4 && incr >= 10 ? 1e3 : 1;
    var d = decimals(incr / div), unit = div === 1e6 ? 'M' : div === 1e3 ? 'k' : '';
    return splits.map(function(v){ return (v / div).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) + unit; });
  }
  // An axis as wide as its widest tick value (measured in the axis's canvas font) plus the tick and
  // the gap: a fixed width let "999,000" run into the axis label beside it.
  function axisSize(u, values, i){
    var axis = u.axes[i], ctx = u.ctx, ratio = uPlot.pxRatio || 1, widest = 0;
    if (values) {
      ctx.save(); ctx.font = axis.font[0];
      values.forEach(function(v){ if (v != null) widest = Math.max(widest, ctx.measureText(String(v)).width / ratio); });
      ctx.restore();
    }
    return Math.ceil(Math.max(24, widest) + axis.ticks.size + axis.gap + 6);
  }
  // The legend: nothing until the cursor is on a chart (uPlot's idle legend showed "— ms"), then
  // the values under it; a stock line gives its units and the % of its initial stock.
  function legendValue(spec, s){
    return function(u, v, si, idx){
      if (idx == null) return '';
      if (v == null) return '—';
      if (s.of) return Math.round(v * s.of / 100).toLocaleString('en-US') + ' units (' + fmt(v) + '%)';
      return fmt(v) + ' ' + spec.yLabel;
    };
  }
  data.charts.forEach(function(spec){
    var el = document.querySelector('.chart[data-chart="' + spec.id + '"]');
    if (!el) return;
    var spectrum = spec.kind === 'spectrum', xy = spec.kind === 'xy';
    var opts = {
      width: Math.max(260, el.clientWidth), height: 260,
      // Room on the right for half of the last x tick value (centred on the plot's edge).
      padding: [null, spectrum ? 28 : 16, null, null],
      // Spectrum: both axes log-scaled, so the body (sub-ms) and the tail (tens of ms) both show.
      scales: spectrum ? { x: { time: false, distr: 3, log: 10 }, y: { distr: 3, log: 10 } } : { x: { time: false }, y: spec.yRange ? { range: spec.yRange } : {} },
      series: [{ label: spectrum ? 'percentile' : xy ? spec.xLabel : 'time', value: function(u, v, si, idx){ return idx == null ? '' : v == null ? '—' : spectrum ? pctLabel(v) : xy ? fmt(v) : v.toFixed(1) + ' s'; } }].concat(spec.series.map(function(s){
        var series = { label: s.label, stroke: s.color, width: s.width || 2, dash: s.dash, spanGaps: !!s.points, points: s.points || s.marker ? { show: true, size: s.marker ? 11 : 6, fill: s.color, stroke: s.color } : { show: false }, value: legendValue(spec, s) };
        if (s.marker) series.paths = function(){ return null; };
        return series;
      })),
      axes: [
        spectrum
          ? { label: 'percentile', splits: function(){ return [1, 10, 100, 1000, 10000, 100000]; }, values: function(u, splits){ return splits.map(pctLabel); } }
          : xy ? { label: spec.xLabel, values: tickValues }
          : { label: 'seconds since start', values: function(u, splits){ return splits.map(function(v){ return v + ' s'; }); } },
        spectrum
          ? { label: spec.yLabel, size: axisSize, values: function(u, splits){ return splits.map(fmt); }, splits: function(u){
              // Decades only: uPlot's log axis would also grid every 2..9 multiple.
              var out = [], lo = Math.floor(Math.log10(u.scales.y.min)), hi = Math.ceil(Math.log10(u.scales.y.max));
              for (var e = lo; e <= hi; e++) { var v = Math.pow(10, e); if (v >= u.scales.y.min * 0.999 && v <= u.scales.y.max * 1.001) out.push(v); }
              return out.length >= 2 ? out : [u.scales.y.min, u.scales.y.max]; } }
          : { label: spec.yLabel, size: axisSize, values: tickValues }
      ],
      legend: { live: true },
      hooks: spectrum || xy ? {} : { drawClear: [drawFaults] }
    };
    plots.push({ el: el, plot: new uPlot(opts, [spec.x].concat(spec.series.map(function(s){ return s.values; })), el) });
  });
  var pending = 0;
  window.addEventListener('resize', function(){
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(function(){ plots.forEach(function(p){ p.plot.setSize({ width: Math.max(260, p.el.clientWidth), height: 260 }); }); });
  });
})();
`;

/**
 * A self-contained page (uPlot's JS and CSS inlined, the charts' data as JSON in the page, nothing
 * fetched): report.html and capacity.html. `body` is trusted HTML (its text escaped by the caller);
 * each chart is drawn into the element `.chart[data-chart=<id>]` of the body.
 */
export function renderChartPage(page: { title: string; body: string; charts: readonly ChartSpec[]; faults?: readonly FaultBand[] }): string {
  const assets = uplot();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${h(page.title)}</title>
<style>${assets.css}</style>
<style>${CSS}</style>
</head>
<body>
<main>
${page.body}
</main>
<script type="application/json" id="report-data">${jsonForScript({ charts: page.charts, faults: page.faults ?? [], faultColors: FAULT_BAND_COLORS })}</script>
<script>${assets.js}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

export function renderHtml(input: ReportInput): string {
  const s = input.summary;
  const verdict = verdictOf(s);
  const headline = verdictHeadline(s);
  const spectrum = spectrumChart(input.histograms);
  const over = timeCharts(s);
  const byShard = shardChart(s);
  const charts = [...(spectrum ? [spectrum] : []), ...over, ...(byShard ? [byShard] : [])];
  const bands = faultBands(s);
  const faultKey = bands.length && over.length
    ? `<p class="muted">Shaded: fault windows (<span class="fault-key" style="background:${FAULT_BAND_COLORS.action}"></span>the fault itself<span class="fault-key" style="background:${FAULT_BAND_COLORS.window}"></span>until the first ok after it; see Faults).</p>`
    : '';
  const body = [
    `<header><h1>sellout · ${h(s.scenario.name)}</h1>`,
    `<div class="muted">${h(s.scenario.description ?? '')}${s.scenario.description ? ' · ' : ''}run ${h(s.run.id)} · ${h(s.run.startedAt)} · ${h(s.scenario.file)}</div></header>`,
    `<div id="verdict" class="verdict ${verdict.status}" data-status="${verdict.status}" data-exit-code="${verdict.exitCode}"><div class="headline">${h(headline)}</div>${verdict.reasons.length ? `<ul>${verdict.reasons.map((r) => `<li>${h(micro(r))}</li>`).join('')}</ul>` : ''}</div>`,
    `<section>${keyFigures(s)}</section>`,
    section('Latency', `<div class="charts">${spectrum ? chartBox(spectrum) : '<p class="muted">No latency recorded.</p>'}</div><div style="margin-top:10px">${latencyTable(s)}</div><p class="muted">Latency per outcome: fast sold-out replies must not hide the p99 of real deductions. The spectrum's x axis is 1/(1 − percentile), log-scaled, as in HdrHistogram's plotter (the y axis is log-scaled too); each line ends at its maximum, where its sample count runs out.</p>`, 'latency'),
    section('Over time', over.length ? `<div class="charts">${over.map(chartBox).join('')}</div>${faultKey}` : '<p class="muted">This run was shorter than two intervals of its series: nothing to draw over time.</p>', 'over-time'),
    ...(bands.length ? [section('Faults', faultTable(s), 'faults')] : []),
    ...(s.agents !== undefined ? [section('Agents', agentSection(s), 'agents')] : []),
    // A standalone server is one shard: its row would repeat the figures above.
    ...((s.shards?.length ?? 0) > 1 ? [section('Shards', shardSection(s, byShard), 'shards')] : []),
    section('Outcomes', outcomeBreakdown(s), 'outcomes'),
    section('Thresholds', thresholdTable(s), 'thresholds'),
    section('Invariants', invariantTable(s), 'invariants'),
    section('Coverage', coverageTable(s), 'coverage'),
    section('SKUs', skuTable(s), 'skus'),
    section('Scenario as run', `<pre>${h(s.scenario.asRun)}</pre>`, 'scenario'),
    section('Environment', environmentTable(s), 'environment'),
  ].join('\n');
  return renderChartPage({ title: `sellout ${s.scenario.name}: ${verdict.status.toUpperCase()}`, body, charts, faults: bands });
}


export const htmlOutput: ReportOutput = {
  name: 'html',
  description: 'report.html: self-contained report with charts, works offline',
  render: (input) => [{ name: 'report.html', content: renderHtml(input) }],
};
