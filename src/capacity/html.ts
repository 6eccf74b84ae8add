/**
 * capacity.html: one self-contained page like report.html (uPlot inlined, data as JSON, works
 * offline): ok p99 against the offered rate with the SLO line and the knee marked, achieved
 * against offered, the server's CPU against the rate, and the client's p99 next to the server's
 * own EVALSHA p99 (the gap is queueing, network and client), then the steps.
 */
import { escapeHtml } from '../report/escape.js';
import { micro, renderChartPage, type ChartSeries, type ChartSpec } from '../report/html.js';
import { parseLatencyUs } from '../duration.js';
import { formatValue } from '../thresholds/evaluate.js';
import { formatMemory } from './answer.js';
import type { CapacityReport, CapacityStep } from './capacity.js';
import { int } from '../numbers.js';

export const CAPACITY_COLORS = { client: '#1f77b4', oneSku: '#ff7f0e', slo: '#c62828', knee: '#1a7f37', offered: '#333333', server: '#9467bd', ceiling: '#8c564b' } as const;

const h = escapeHtml;
const us = (v: number | null | undefined) => (v == null ? '—' : micro(formatValue(v, 'us')));

/** The last step at each offered rate of a series (a confirmation replaces the shorter step at its rate), by rate. */
function byRate(steps: readonly CapacityStep[], series: CapacityStep['series']): Map<number, CapacityStep> {
  const out = new Map<number, CapacityStep>();
  for (const s of steps) if (s.series === series && s.rate !== null) out.set(s.rate, s);
  return out;
}

/** The p99 limit of the SLO, µs, when it has one on latency.ok.p99 with < or <=. */
function sloP99Us(slo: readonly string[]): number | null {
  for (const s of slo) {
    const m = /^latency\.ok\.p99\s*<=?\s*(.+)$/.exec(s.trim());
    const limit = m ? parseLatencyUs(m[1]!) : undefined;
    if (limit !== undefined) return limit;
  }
  return null;
}

export function capacityCharts(r: CapacityReport): ChartSpec[] {
  const main = byRate(r.steps, 'all SKUs');
  const one = byRate(r.steps, 'one SKU');
  const x = [...new Set([...main.keys(), ...one.keys()])].sort((a, b) => a - b);
  if (x.length === 0) return [];
  const of = (m: Map<number, CapacityStep>, f: (s: CapacityStep) => number | null | undefined) => x.map((rate) => { const s = m.get(rate); const v = s ? f(s) : null; return v ?? null; });
  const ms = (v: number | null | undefined) => (v == null ? null : v / 1000);
  const limit = sloP99Us(r.slo);
  const p99: ChartSeries[] = [{ label: 'ok p99, all SKUs', color: CAPACITY_COLORS.client, values: of(main, (s) => ms(s.latency?.p99)), points: true }];
  if (one.size > 0) p99.push({ label: 'ok p99, one SKU', color: CAPACITY_COLORS.oneSku, values: of(one, (s) => ms(s.latency?.p99)), points: true });
  if (limit !== null) p99.push({ label: `SLO ${micro(formatValue(limit, 'us'))}`, color: CAPACITY_COLORS.slo, values: x.map(() => limit / 1000), dash: [6, 4] });
  if (r.maxRate !== null) p99.push({ label: `max ${int(r.maxRate)}/s`, color: CAPACITY_COLORS.knee, values: x.map((rate) => (rate === r.maxRate ? ms(main.get(rate)?.latency?.p99) : null)), marker: true });
  const achieved: ChartSeries[] = [
    { label: 'achieved', color: CAPACITY_COLORS.client, values: of(main, (s) => s.achieved), points: true },
    { label: 'offered', color: CAPACITY_COLORS.offered, values: x, dash: [6, 4] },
  ];
  if (r.ceiling !== null) achieved.push({ label: `ceiling ${int(r.ceiling)}/s`, color: CAPACITY_COLORS.ceiling, values: x.map(() => r.ceiling), dash: [2, 4] });
  return [
    { id: 'p99', title: 'ok p99 against the offered rate', xLabel: 'offered deductions/s', yLabel: 'ms', kind: 'xy', x, series: p99 },
    { id: 'achieved', title: 'Achieved against offered', xLabel: 'offered deductions/s', yLabel: 'replies/s', kind: 'xy', x, series: achieved },
    { id: 'cpu', title: 'Server CPU against the offered rate', xLabel: 'offered deductions/s', yLabel: '% of a core', kind: 'xy', x, series: [{ label: 'busiest primary', color: CAPACITY_COLORS.server, values: of(main, (s) => (s.server.cpu === null ? null : s.server.cpu * 100)), points: true }], yRange: [0, 100] },
    {
      id: 'split', title: 'Where the time goes: client p99 and the server\'s own', xLabel: 'offered deductions/s', yLabel: 'ms', kind: 'xy', x,
      series: [
        { label: 'client ok p99', color: CAPACITY_COLORS.client, values: of(main, (s) => ms(s.latency?.p99)), points: true },
        { label: 'server EVALSHA p99 (bucket bound)', color: CAPACITY_COLORS.server, values: of(main, (s) => ms(s.server.p99)), points: true },
      ],
    },
  ];
}

function stepsTable(r: CapacityReport): string {
  const rows = r.steps.map((s) => `<tr class="${s.phase === 'ceiling' || s.pass ? '' : 'fail'}"><td class="num">${s.index}</td><td>${h(s.series)}</td><td>${h(s.phase)}</td><td class="num">${s.rate === null ? 'closed' : `${int(s.rate)}/s`}</td><td class="num">${int(s.achieved)}/s</td><td class="num">${us(s.latency?.p50)}</td><td class="num">${us(s.latency?.p99)}</td><td class="num">${s.server.cpu === null ? '—' : `${Math.round(s.server.cpu * 100)}%`}</td><td class="num">${s.server.p99 === null ? '—' : `≤ ${us(s.server.p99)}`}</td><td>${s.phase === 'ceiling' ? 'ceiling' : s.pass ? '<span class="badge pass">PASS</span>' : `<span class="badge fail">FAIL</span> ${h(micro(s.reasons.join('; ')))}`}</td></tr>`);
  return `<table class="steps"><thead><tr><th class="num">#</th><th>series</th><th>phase</th><th class="num">offered</th><th class="num">achieved</th><th class="num">ok p50</th><th class="num">ok p99</th><th class="num">server CPU</th><th class="num">EVALSHA p99</th><th>verdict</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

export function renderCapacityHtml(r: CapacityReport): string {
  const status = r.interrupted ? 'interrupted' : r.exitCode === 0 ? 'pass' : 'fail';
  const headline = r.maxRate === null ? 'No rate held the SLO' : `${int(r.maxRate)} deductions/s under ${r.slo.join(' and ')}`;
  const card = (k: string, v: string) => `<div class="card"><div class="k">${h(k)}</div><div class="v">${h(v)}</div></div>`;
  const cards = [
    card('max rate', r.maxRate === null ? '—' : `${int(r.maxRate)}/s`),
    card('closed-loop ceiling', r.ceiling === null ? '—' : `${int(r.ceiling)}/s`),
    card('one SKU', r.singleSkuMaxRate === null ? '—' : `${int(r.singleSkuMaxRate)}/s`),
    card('journal', r.journalBytesPerEntry === null ? '—' : `${Math.round(r.journalBytesPerEntry)} B/entry`),
    card(`${int(r.projection.orders)} orders`, r.projection.bytes === null ? '—' : formatMemory(r.projection.bytes)),
    ...(r.shardsNeeded !== null ? [card(`shards for ${int(r.targetRate ?? 0)}/s`, String(r.shardsNeeded))] : []),
  ];
  const charts = capacityCharts(r);
  const body = [
    `<header><h1>sellout capacity · ${h(r.scenario.name)}</h1><div class="muted">${h(r.scenario.file)} · script ${h(r.scenario.script)} (sha ${h(r.scenario.scriptSha)}) · redis ${h(r.target.redisVersion)} ${h(r.target.mode)} (${h(r.target.kind)}, ${h(r.target.url)}) · ${h(r.startedAt)}</div></header>`,
    `<div id="verdict" class="verdict ${status}" data-status="${status}" data-exit-code="${r.exitCode}"><div class="headline">${h(headline)}</div><ul>${r.answer.map((a) => `<li>${h(micro(a))}</li>`).join('')}</ul></div>`,
    `<section><div class="cards">${cards.join('')}</div>${r.notes.length ? `<ul class="warnings">${r.notes.map((n) => `<li>${h(micro(n))}</li>`).join('')}</ul>` : ''}</section>`,
    `<section id="charts"><h2>Search</h2>${charts.length ? `<div class="charts">${charts.map((c) => `<figure class="chart-box"><figcaption>${h(c.title)}</figcaption><div class="chart" data-chart="${c.id}"></div></figure>`).join('')}</div>` : '<p class="muted">No constant-rate step ran: nothing to draw.</p>'}<p class="muted">Each point is one constant-rate step of ${r.stepMs / 1000} s (a confirmation ${(r.stepMs * 2) / 1000} s) on fresh keys with stock that never sold out. The server's EVALSHA p99 is the upper bound of a LATENCY HISTOGRAM bucket (powers of two).${r.serverLatency ? '' : ' This server has no LATENCY HISTOGRAM (Redis < 7, or refused).'}</p></section>`,
    `<section id="steps"><h2>Steps</h2>${stepsTable(r)}</section>`,
  ].join('\n');
  return renderChartPage({ title: `sellout capacity ${r.scenario.name}: ${headline}`, body, charts });
}
