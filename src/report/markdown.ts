/**
 * summary.md: the run at a glance in GitHub-flavoured Markdown, written for
 * `$GITHUB_STEP_SUMMARY` (verdict first, then the figures a reviewer asks about).
 */
import { OUTCOMES } from '../outcomes.js';
import { COVERAGE_COUNTS, COVERAGE_MEANING, soldOutTwinsNote } from '../summary/coverage.js';
import { formatValue } from '../thresholds/evaluate.js';
import { sinceStart } from './console.js';
import { escapeMdCell } from './escape.js';
import type { ReportOutput } from './output.js';
import type { SummaryV1 } from '../summary/summary.js';
import { listedSkusOfSummary, skuTotalsOfSummary } from '../summary/skus.js';
import { verdictHeadline, verdictOf } from '../summary/verdict.js';
import { agentBundle, agentClockCell } from './agent-figures.js';
import { int } from '../numbers.js';

const MARK = { pass: '✅', fail: '❌', skipped: '⏭️' } as const;
const ms = (us: number) => formatValue(us, 'us');

function table(head: string[], rows: string[][]): string[] {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

export function renderMarkdown(summary: SummaryV1): string {
  const verdict = verdictOf(summary);
  const icon = verdict.status === 'pass' ? '✅' : verdict.status === 'fail' ? '❌' : '⚠️';
  const out: string[] = [`## ${icon} sellout ${escapeMdCell(summary.scenario.name)}: ${escapeMdCell(verdictHeadline(summary))}`, ''];
  if (summary.scenario.description) out.push(`> ${escapeMdCell(summary.scenario.description)}`, '');
  for (const reason of verdict.reasons) out.push(`- ${escapeMdCell(reason)}`);
  if (verdict.reasons.length) out.push('');
  // Which script passed or failed, so a gate is never read as passing on a script nobody chose.
  out.push(`Script \`${escapeMdCell(summary.scenario.script).replace(/`/g, "'")}\` (SHA-1 \`${escapeMdCell(summary.scenario.scriptSha)}\`)`, '');

  const t = summary.target;
  out.push(...table(
    ['requests', 'duration', 'throughput', ...OUTCOMES.filter((o) => summary.outcomes[o] > 0)],
    [[
      int(summary.requests),
      `${(summary.durationMs / 1000).toFixed(2)} s`,
      `${int(summary.throughput)}/s`,
      ...OUTCOMES.filter((o) => summary.outcomes[o] > 0).map((o) => int(summary.outcomes[o])),
    ]],
  ), '');
  const twins = soldOutTwinsNote(summary.coverage);
  if (twins) out.push(`${escapeMdCell(twins)}.`, '');
  if (summary.dropped !== undefined || summary.achievedRate !== undefined) {
    out.push(`Open model: achieved ${summary.achievedRate ?? '?'}/s of a target ${summary.targetRate ?? '?'}/s; dropped ${summary.dropped ?? 0}.`, '');
  }

  if (summary.server) out.push(`${escapeMdCell(summary.server.says)} (${summary.server.cpu.toFixed(2)} CPU s per s).`, '');

  if (summary.errorReplies?.length) {
    out.push('### Error replies', '');
    out.push(...table(['reply', 'deductions'], summary.errorReplies.map((e) => [`\`${escapeMdCell(e.reply).replace(/`/g, "'")}\`${e.refusal ? ' (refused by the server)' : ''}`, int(e.count)])), '');
  }

  out.push(...faultSection(summary));

  out.push('### Latency', '');
  out.push(...table(
    ['outcome', 'count', 'p50', 'p90', 'p99', 'p99.9', 'max'],
    OUTCOMES.flatMap((o) => {
      const p = summary.latency[o];
      return p ? [[o, int(p.count), ms(p.p50), ms(p.p90), ms(p.p99), ms(p.p999), ms(p.max)]] : [];
    }),
  ), '');

  if (summary.agents !== undefined) {
    // A distributed run: who sent what, and how far each agent's clock was from Redis's.
    out.push('### Agents', '');
    if (summary.incomplete !== undefined) out.push(`- ⚠️ ${escapeMdCell(summary.incomplete)}`, '');
    out.push(...table(
      ['segment', 'host', 'status', 'requests', 'clock vs Redis TIME', 'bundle'],
      summary.agents.map((a) => [
        `${a.segment}/${summary.agents!.length}`, `\`${escapeMdCell(a.host)}\``, a.status ?? 'ok', int(a.requests),
        a.status === 'lost' ? '—' : agentClockCell(a),
        agentBundle(a) ?? '—',
      ]),
    ), '');
    if (summary.clockSkippedPairs !== undefined) out.push(`Pairs the real-time checks left unjudged, closer than the agents' combined clock uncertainty: ${int(summary.clockSkippedPairs)}.`, '');
  }

  const shards = summary.shards ?? [];
  if (shards.length > 1) {
    // One row per shard; a standalone server's one row would repeat the tables above.
    const total = shards.reduce((n, s) => n + s.requests, 0);
    out.push('### Shards', '');
    for (const w of summary.shardWarnings ?? []) out.push(`- ⚠️ ${escapeMdCell(w)}`);
    if (summary.shardWarnings?.length) out.push('');
    out.push(...table(
      ['node', 'slots', 'SKUs', 'requests', 'share', 'throughput', 'ok p50', 'ok p99', 'ok p99.9', 'server CPU', 'per EVALSHA'],
      shards.map((s) => [
        `\`${escapeMdCell(s.node)}\``, int(s.slots), int(s.skus), int(s.requests), total > 0 ? `${((s.requests / total) * 100).toFixed(1)}%` : '—', `${int(s.throughput)}/s`,
        s.latency.ok ? ms(s.latency.ok.p50) : '—', s.latency.ok ? ms(s.latency.ok.p99) : '—', s.latency.ok ? ms(s.latency.ok.p999) : '—',
        s.serverCpu === null ? '—' : s.serverCpu.toFixed(2), s.usecPerCall === null ? '—' : `${s.usecPerCall.toFixed(1)} us`,
      ]),
    ), '');
  }
  const r = summary.redirects;
  if (r && (shards.length > 1 || r.moved + r.ask + r.tryagain > 0)) out.push(`Redirections the load followed: MOVED ${int(r.moved)}, ASK ${int(r.ask)}, TRYAGAIN ${int(r.tryagain)}.`, '');

  if (summary.thresholds?.length) {
    out.push('### Thresholds', '');
    out.push(...table(
      ['', 'threshold', 'actual', 'limit', 'margin'],
      summary.thresholds.map((r) => [
        MARK[r.status],
        escapeMdCell(`${r.name} ${r.condition}`),
        // A reason next to a value says what it counts (the default outcomes.error in a run with faults) or why it was skipped.
        r.actual === null ? escapeMdCell(r.reason ?? 'not measured') : `${formatValue(r.actual, r.unit)}${r.reason ? ` (${escapeMdCell(r.reason)})` : ''}`,
        // No limit (e.g. `0.9*target` on a model without a target): the reason says why.
        r.limit === null ? escapeMdCell(r.reason ?? '—') : formatValue(r.limit, r.unit),
        r.margin === null ? '—' : `${r.margin >= 0 ? '+' : '−'}${formatValue(Math.abs(r.margin), r.unit)}`,
      ]),
    ), '');
  }

  out.push('### Invariants', '');
  out.push(...table(
    ['', 'invariant', 'expected', 'actual'],
    summary.invariants.map((i) => [MARK[i.status], i.name, escapeMdCell(i.expected), escapeMdCell(i.status === 'skipped' ? i.reason ?? 'skipped' : i.actual)]),
  ), '');
  for (const i of summary.invariants.filter((x) => x.status === 'fail' && x.examples.length)) {
    out.push(`<details><summary>${escapeMdCell(i.name)}: ${i.examples.length} example(s)</summary>`, '');
    for (const e of i.examples) out.push(`- ${escapeMdCell(e)}`);
    out.push('', '</details>', '');
  }

  if (summary.coverage) {
    // What the pass covers, right after what it proves: a warning is a gap in the proof, not a failure.
    const coverage = summary.coverage;
    out.push('### Coverage', '');
    for (const w of coverage.warnings) out.push(`- ⚠️ ${escapeMdCell(w)}`);
    if (coverage.warnings.length) out.push('');
    out.push(...table(['condition', 'count', 'what is counted'], COVERAGE_COUNTS.map((name) => [`\`${name}\``, int(coverage[name]), escapeMdCell(COVERAGE_MEANING[name])])), '');
  }

  // The SKUs: totals, then the few summary.json lists (every SKU is in skus.csv).
  const k = skuTotalsOfSummary(summary);
  out.push('### SKUs', '');
  const listed = listedSkusOfSummary(summary);
  out.push(`${int(k.count)} SKU(s): ${int(k.sold)} of ${int(k.initial)} units sold, ${int(k.soldOut)} sold out, ${int(k.journal)} journal entries${k.unreadable ? `, ${int(k.unreadable)} with no integer stock` : ''}${k.failing ? `, violations at ${int(k.failing)}` : ''}.${listed.length < k.count ? ` The ${int(listed.length)} most worth a look (every SKU is in ${summary.skuTotals ? 'skus.csv' : 'summary.json'}):` : ''}`, '');
  // The load's figures per SKU, where the summary has them (older summaries do not).
  const load = listed.some((r) => r.requests !== undefined);
  const atSeconds = (v: number | null | undefined) => (v == null ? '—' : sinceStart(v));
  out.push(...table(
    ['SKU', 'initial', 'final', 'journal', 'violations', ...(load ? ['requests', 'ok', 'sold out at', 'ok p99'] : [])],
    listed.map((r) => [
      String(r.sku), int(r.initial), typeof r.final === 'number' ? int(r.final) : r.final === null ? 'missing' : escapeMdCell(JSON.stringify(r.final)), int(r.journal), r.violations ? int(r.violations) : '',
      ...(load ? [int(r.requests ?? 0), int(r.ok ?? 0), atSeconds(r.soldOutMs), r.okP99Us == null ? '—' : ms(r.okP99Us)] : []),
    ]),
  ), '');
  const ranks = summary.skuRanks;
  if (ranks !== undefined && ranks.soldOut > 0 && k.count > 1) {
    out.push(`Sold out during the run: ${int(ranks.soldOut)} of ${int(k.count)} SKUs, the first at ${atSeconds(ranks.firstSoldOutMs)} (SKU ${ranks.firstSoldOut.map((r) => r.sku).slice(0, 3).join(', SKU ')}${ranks.firstSoldOut.length > 3 ? ', …' : ''}), the last at ${atSeconds(ranks.lastSoldOutMs)}; the slowest by ok p99: ${ranks.slowest.slice(0, 3).map((r) => `SKU ${r.sku} (${ms(r.okP99Us ?? 0)})`).join(', ')}.`, '');
  }

  const fence = '`'.repeat(Math.max(3, ...[...summary.scenario.asRun.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  out.push('<details><summary>Scenario as run</summary>', '', `${fence}yaml`, summary.scenario.asRun.trimEnd(), fence, '', '</details>', '');
  const env = summary.environment;
  out.push(
    `<sub>redis ${escapeMdCell(t.redisVersion)} ${escapeMdCell(t.mode)} (${t.kind}) · sellout ${escapeMdCell(summary.sellout.version)}${env?.commit ? ` (${env.commit.slice(0, 12)})` : ''} · node ${escapeMdCell(summary.sellout.node)}${env ? ` · ${escapeMdCell(env.cpuModel)} × ${env.cores}` : ''} · run ${escapeMdCell(summary.run.id)} at ${summary.run.startedAt}</sub>`,
    '',
  );
  return out.join('\n');
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The timed faults: one row each with its window and effect, then what happened outside every window. */
function faultSection(summary: SummaryV1): string[] {
  const faults = summary.faults ?? [];
  if (faults.length === 0) return [];
  const outside = summary.outcomesOutsideFaults;
  const out = ['### Faults', ''];
  out.push(
    `Errors and unknown outcomes inside a fault's window (from its start to the first ok after it ends) are expected: the default \`outcomes.error == 0\` counts only those outside every window${outside ? ` (error ${int(outside.error)}, unknown ${int(outside.unknown)})` : ''}.`,
    '',
  );
  out.push(...table(
    ['#', 'action', 'at', 'window', 'requests', 'errors', 'unknown', 'latency peak', 'recovery', 'detail'],
    faults.map((f) => [
      String(f.index), `\`${escapeMdCell(f.action)}\``, seconds(f.at),
      `${seconds(f.window.fromMs)} – ${f.effect.recoveryMs === null ? 'end (no ok after)' : seconds(f.window.toMs)}`,
      int(f.effect.requests), int(f.effect.errors), int(f.effect.unknown),
      f.effect.latencyPeakUs === null ? '—' : ms(f.effect.latencyPeakUs),
      f.effect.recoveryMs === null ? 'none' : ms(f.effect.recoveryMs * 1000),
      [f.failed !== undefined ? `❌ failed: ${escapeMdCell(f.failed)}` : '', f.detail !== undefined ? escapeMdCell(f.detail) : ''].filter(Boolean).join('; '),
    ]),
  ), '');
  return out;
}

export const markdownOutput: ReportOutput = {
  name: 'md',
  description: 'summary.md: the verdict and main figures in Markdown, for $GITHUB_STEP_SUMMARY',
  render: ({ summary }) => [{ name: 'summary.md', content: renderMarkdown(summary) }],
};
