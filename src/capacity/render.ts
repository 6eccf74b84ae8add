/** The capacity report as text: a console line per step, the answer, capacity.json and capacity.md. */
import { escapeMdCell } from '../report/escape.js';
import { formatValue } from '../thresholds/evaluate.js';
import { formatMemory } from './answer.js';
import type { CapacityReport, CapacityStep } from './capacity.js';
import { int } from '../numbers.js';

const latency = (us: number | null | undefined) => (us == null ? '-' : formatValue(us, 'us'));

/** One step as it ends: `  3  all SKUs  grow     4,000/s  achieved 3,998/s  ok p99 1.21 ms  server 41% (p99 <= 16 us)  pass`. */
export function formatCapacityStep(s: CapacityStep): string {
  const offered = s.rate === null ? 'closed 50x16' : `${int(s.rate)}/s`;
  const server = s.server.cpu === null ? 'server -' : `server ${Math.round(s.server.cpu * 100)}%${s.server.p99 !== null ? ` (EVALSHA p99 <= ${latency(s.server.p99)})` : ''}`;
  const verdict = s.phase === 'ceiling' ? 'ceiling' : s.pass ? 'pass' : `FAIL: ${s.reasons.join('; ')}`;
  return `  ${String(s.index).padStart(2)}  ${s.series.padEnd(8)}  ${s.phase.padEnd(7)}  ${offered.padStart(12)}  achieved ${`${int(s.achieved)}/s`.padStart(10)}  ok p99 ${latency(s.latency?.p99).padStart(8)}  ${server}  ${verdict}`;
}

export function formatCapacityAnswer(r: CapacityReport, reportDir?: string): string {
  const lines = [`sellout capacity ${r.scenario.name}: ${r.maxRate === null ? 'no rate held the SLO' : `${int(r.maxRate)}/s under ${r.slo.join(' and ')}`}${r.interrupted ? ' (INTERRUPTED: the steps that ran)' : ''}`];
  for (const sentence of r.answer) lines.push(`  ${sentence}`);
  for (const note of r.notes) lines.push(`  note: ${note}`);
  if (!r.serverLatency) lines.push('  note: the server has no LATENCY HISTOGRAM (Redis < 7, or refused): no server-side latency split');
  lines.push(`  search      ${r.steps.length} step(s) in ${(r.durationMs / 1000).toFixed(1)} s of a ${(r.budgetMs / 1000).toFixed(0)} s budget; stopped: ${r.stoppedBy}`);
  if (reportDir) lines.push(`  report      ${reportDir}`);
  lines.push(`  exit        ${r.exitCode}${r.exitCode === 4 ? ' (the target rate is not reachable: see above)' : ''}`);
  return lines.join('\n');
}

export function renderCapacityJson(r: CapacityReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

export function renderCapacityMarkdown(r: CapacityReport): string {
  const out = [`## sellout capacity ${escapeMdCell(r.scenario.name)}: ${r.maxRate === null ? 'no rate held the SLO' : `${int(r.maxRate)}/s`}`, ''];
  out.push(`SLO: ${r.slo.map((s) => `\`${escapeMdCell(s)}\``).join(', ')} · ceiling ${r.ceiling === null ? '—' : `${int(r.ceiling)}/s`} · one SKU ${r.singleSkuMaxRate === null ? '—' : `${int(r.singleSkuMaxRate)}/s`} · journal ${r.journalBytesPerEntry === null ? '—' : `${Math.round(r.journalBytesPerEntry)} B/entry`} · ${int(r.projection.orders)} orders ${r.projection.bytes === null ? '—' : formatMemory(r.projection.bytes)}${r.shardsNeeded !== null ? ` · shards needed ${r.shardsNeeded}` : ''}`, '');
  for (const sentence of r.answer) out.push(`- ${escapeMdCell(sentence)}`);
  for (const note of r.notes) out.push(`- ⚠️ ${escapeMdCell(note)}`);
  out.push('', '| # | series | phase | offered | achieved | ok p50 | ok p99 | ok p99.9 | server CPU | EVALSHA p99 (server) | verdict |', '|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const s of r.steps) {
    out.push(`| ${s.index} | ${s.series} | ${s.phase} | ${s.rate === null ? 'closed' : `${int(s.rate)}/s`} | ${int(s.achieved)}/s | ${latency(s.latency?.p50)} | ${latency(s.latency?.p99)} | ${latency(s.latency?.p999)} | ${s.server.cpu === null ? '—' : `${Math.round(s.server.cpu * 100)}%`} | ${s.server.p99 === null ? '—' : `≤ ${latency(s.server.p99)}`} | ${s.phase === 'ceiling' ? 'ceiling' : s.pass ? 'pass' : `fail: ${escapeMdCell(s.reasons.join('; '))}`} |`);
  }
  out.push('', `<sub>redis ${escapeMdCell(r.target.redisVersion)} ${escapeMdCell(r.target.mode)} (${r.target.kind}) · ${r.steps.length} steps in ${(r.durationMs / 1000).toFixed(1)} s · started ${r.startedAt}</sub>`, '');
  return out.join('\n');
}
