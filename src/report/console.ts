/** The console summary of a run, as a string (the CLI prints it). */
import { OUTCOMES } from '../outcomes.js';
import { COVERAGE_COUNTS, soldOutTwinsNote, type CoverageV1 } from '../summary/coverage.js';
import type { InvariantResult, SkuSummary, SummaryV1 } from '../summary/summary.js';
import { MAX_RANKED_SKUS, skuTotalsOfSummary } from '../summary/skus.js';
import { verdictOf } from '../summary/verdict.js';
import { agentBundle, agentClock } from './agent-figures.js';
import { int } from '../numbers.js';

const MARK = { pass: 'PASS', fail: 'FAIL', skipped: 'SKIP' } as const;

export function formatUs(us: number): string {
  if (us < 1000) return `${us} us`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

export interface ConsoleOptions {
  /** Where the target URL or password came from when not from --redis (`url from SELLOUT_REDIS_URL`); never the password itself. */
  readonly targetOrigin?: string | undefined;
}

export function formatSummary(summary: SummaryV1, reportDir?: string, options: ConsoleOptions = {}): string {
  const lines: string[] = [];
  // The one verdict (invariants, Redis lost, thresholds), so the headline agrees with the exit code.
  const verdict = verdictOf(summary).status.toUpperCase();
  lines.push(`sellout ${summary.scenario.name}: ${verdict}`);
  const t = summary.target;
  lines.push(`  target      redis ${t.redisVersion} ${t.mode} (${t.kind}, ${t.url}${options.targetOrigin ? `; ${options.targetOrigin}` : ''})`);
  if (summary.http) {
    lines.push(`  service     ${summary.http.url}${summary.http.reference ? ' (sellout\'s reference service, on the target above)' : ''}`);
    if (summary.http.stockFieldMissing > 0) lines.push(`  warning     ${int(summary.http.stockFieldMissing)} ok repl${summary.http.stockFieldMissing === 1 ? 'y' : 'ies'} had no "${summary.http.stockField}" field in the body: their replied stock was not checked`);
  }
  lines.push(`  script      ${summary.scenario.script} (sha ${summary.scenario.scriptSha.slice(0, 12)})`);
  const l = summary.load;
  // A distributed run: every agent opens the scenario's connections.
  const each = summary.agents !== undefined ? ` per agent x ${summary.agents.length} agents` : '';
  lines.push(
    l.model === 'closed'
      ? `  load        closed: ${l.connections} connection(s) x ${l.inFlight} in flight${each}, ${l.workers} worker(s)`
      : `  load        ${l.model}: target ${int(summary.targetRate ?? 0)}/s, achieved ${int(summary.achievedRate ?? 0)}/s, dropped ${int(summary.dropped ?? 0)}; ${l.connections} connection(s)${each}, ${l.workers} worker(s)`,
  );
  lines.push(...formatAgents(summary));
  lines.push(
    `  requests    ${int(summary.requests)}${summary.planned !== null && summary.planned !== summary.requests ? ` of ${int(summary.planned)} planned` : ''} in ${(summary.durationMs / 1000).toFixed(2)} s = ${int(summary.throughput)} replies/s`,
  );
  const server = summary.server;
  if (server) lines.push(`  server      ${server.says} (${server.cpu.toFixed(2)} CPU s per s${server.usecPerCall !== null ? `, ${server.usecPerCall.toFixed(1)} us per EVALSHA` : ''})`);
  const outcomes = OUTCOMES.filter((o) => summary.outcomes[o] > 0).map((o) => `${o} ${int(summary.outcomes[o])}`);
  lines.push(`  outcomes    ${outcomes.join(' · ') || 'none'}`);
  const twins = soldOutTwinsNote(summary.coverage);
  if (twins) lines.push(`              ${twins}`);
  for (const outcome of OUTCOMES) {
    const p = summary.latency[outcome];
    if (!p) continue;
    lines.push(
      `  latency     ${outcome.padEnd(9)} p50 ${formatUs(p.p50)}  p90 ${formatUs(p.p90)}  p99 ${formatUs(p.p99)}  p99.9 ${formatUs(p.p999)}  max ${formatUs(p.max)}`,
    );
  }
  lines.push(...formatShards(summary));
  for (const e of summary.errorReplies?.slice(0, 5) ?? []) lines.push(`  error reply ${int(e.count)} x ${e.reply}${e.refusal ? ' (the server refused the command)' : ''}`);
  if ((summary.errorReplies?.length ?? 0) > 5) lines.push(`              (${summary.errorReplies!.length - 5} more distinct error replies in summary.json)`);
  if (summary.connectionErrors?.length) lines.push(`  connections closed: ${summary.connectionErrors.join('; ')}${summary.reconnects ? ` (reopened ${int(summary.reconnects)} time(s))` : ''}`);
  lines.push(...formatFaults(summary));
  if (summary.crashed !== undefined) lines.push(`  crashed     ${summary.crashed}`);
  if (summary.incomplete !== undefined) lines.push(`  incomplete  ${summary.incomplete}`);
  if (summary.capped !== undefined) lines.push(`  capped      ${summary.capped}`);
  if (summary.targetLost !== undefined) lines.push(`  target lost ${summary.targetLost}`);
  lines.push(...formatSkuRanks(summary));
  if (summary.invariants.every((i) => i.status === 'skipped' && i.description === 'not checked')) {
    // Twelve identical "skipped" lines would bury the one thing that matters.
    lines.push(`  invariants  NOT CHECKED: ${summary.invariants[0]?.reason ?? ''}`);
  } else {
    const k = skuTotalsOfSummary(summary);
    const unreadable = k.unreadable > 0 ? `; ${int(k.unreadable)} with no integer stock` : '';
    const failing = k.failing > 0 ? `; violations at ${int(k.failing)}` : '';
    lines.push(`  stock       ${int(k.final)} left over ${int(k.count)} SKU(s); ${int(k.soldOut)} sold out${unreadable}${failing}`);
    lines.push(...formatInvariants(summary.invariants));
    if (summary.coverage) lines.push(...formatCoverage(summary.coverage));
  }
  const left = summary.run.keysLeft;
  const kept = summary.run.kept;
  if (kept && !left) lines.push(`  keys kept   ${kept.count < 0 ? 'the' : int(kept.count)} key(s) ${kept.pattern} are still in Redis (--keep); remove them with: redis-cli --scan --pattern '${kept.pattern}' | xargs redis-cli unlink`);
  if (left) lines.push(`  keys left   ${left.count < 0 ? 'an unknown number of' : int(left.count)} key(s) ${left.pattern} are still in Redis (cleanup failed: ${left.reason}); delete them with: redis-cli --scan --pattern '${left.pattern}' | xargs redis-cli unlink`);
  if (reportDir) lines.push(`  report      ${reportDir}`);
  return lines.join('\n');
}

/**
 * Every invariant on one line with its status; a failure adds two lines of evidence (what was
 * expected, and the first offending request in words), saying exactly how many more there are and
 * how many of them summary.json lists (it keeps the first few examples, not every violation).
 */
export function formatInvariants(invariants: readonly InvariantResult[]): string[] {
  const lines = ['  invariants'];
  const width = Math.max(0, ...invariants.map((i) => i.name.length));
  const pad = ' '.repeat(10);
  for (const inv of invariants) {
    lines.push(`    ${MARK[inv.status]}  ${inv.name.padEnd(width)}  ${inv.status === 'skipped' ? inv.reason ?? 'no reason given' : inv.actual}`);
    if (inv.status !== 'fail') continue;
    lines.push(`${pad}expected ${inv.expected}`);
    const total = Math.max(inv.violations ?? inv.examples.length, inv.examples.length);
    const listed = inv.examples.length;
    const where = listed >= total ? `all ${int(total)} are in summary.json` : listed > 1 ? `the first ${int(listed)} are in summary.json` : 'summary.json lists only this one';
    const more = total > 1 ? ` (${int(total - 1)} more; ${where})` : '';
    if (inv.examples.length > 0) lines.push(`${pad}e.g. ${inv.examples[0]}${more}`);
  }
  return lines;
}

/**
 * What the pass covers: each count by its summary.json name (the name a threshold uses), then one
 * line per safety claim the run did not exercise.
 */
export function formatCoverage(coverage: CoverageV1): string[] {
  const counts = COVERAGE_COUNTS.map((name) => `${name} ${int(coverage[name])}`);
  // Four to a line: all eight on one would run past 150 columns.
  return [
    `  coverage    ${counts.slice(0, 4).join(' · ')}`,
    `              ${counts.slice(4).join(' · ')}`,
    ...coverage.warnings.map((w) => `  warning     ${w}`),
  ];
}

/**
 * The per-shard table, only for more than one shard (a standalone server's one row repeats the
 * lines above), then the hot-shard warnings and the cluster redirections the load followed.
 */
export function formatShards(summary: SummaryV1): string[] {
  const shards = summary.shards ?? [];
  const lines: string[] = [];
  if (shards.length > 1) {
    const total = shards.reduce((n, s) => n + s.requests, 0);
    const num = (v: number | null, digits: number) => (v === null ? '-' : v.toFixed(digits));
    const rows = [
      ['node', 'slots', 'SKUs', 'requests', 'share', 'replies/s', 'ok p50', 'ok p99', 'ok p99.9', 'cpu', 'us/call'],
      ...shards.map((s) => [
        s.node, int(s.slots), int(s.skus), int(s.requests), total > 0 ? `${((s.requests / total) * 100).toFixed(1)}%` : '-', int(s.throughput),
        s.latency.ok ? formatUs(s.latency.ok.p50) : '-', s.latency.ok ? formatUs(s.latency.ok.p99) : '-', s.latency.ok ? formatUs(s.latency.ok.p999) : '-',
        num(s.serverCpu, 2), num(s.usecPerCall, 1),
      ]),
    ];
    const hottest = summary.hottestShardShare;
    lines.push(`  shards      ${shards.length} primaries${hottest !== undefined ? `; the busiest took ${(hottest * 100).toFixed(1)}% of the requests (fair share ${(100 / shards.length).toFixed(1)}%)` : ''}`);
    lines.push(...alignedRows(rows, [0]).map((r) => `    ${r}`));
  }
  for (const w of summary.shardWarnings ?? []) lines.push(`  warning     ${w}`);
  const r = summary.redirects;
  if (r && (shards.length > 1 || r.moved + r.ask + r.tryagain > 0)) lines.push(`  redirects   moved ${int(r.moved)} · ask ${int(r.ask)} · tryagain ${int(r.tryagain)}`);
  return lines;
}

/** A time since t0 with the resolution a sell-out needs: `12.3 ms` under a second (a 20 ms sale's SKUs are not all "0.00 s"), else `5.00 s`. */
export const sinceStart = (ms: number) => (ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`);

/** Milliseconds since t0 as seconds, e.g. `5.00 s`. */
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/**
 * The fault table: one row per timed fault with its window and effect (requests, errors and
 * unknown outcomes in the window, the latency peak there, the recovery time), the runner's detail
 * and why a fault failed under its row; then the error and unknown outcomes outside every window,
 * which the default `outcomes.error == 0` counts.
 */
export function formatFaults(summary: SummaryV1): string[] {
  const faults = summary.faults ?? [];
  if (faults.length === 0) return [];
  const outside = summary.outcomesOutsideFaults;
  const lines = [
    `  faults      ${faults.length} fault(s): errors and unknown outcomes inside a window are expected${outside ? `; outside every window: error ${int(outside.error)} · unknown ${int(outside.unknown)}` : ''}`,
  ];
  const rows = [
    ['#', 'action', 'at', 'window', 'requests', 'errors', 'unknown', 'latency peak', 'recovery'],
    ...faults.map((f) => [
      String(f.index), f.action, seconds(f.at),
      `${seconds(f.window.fromMs)} - ${f.effect.recoveryMs === null ? 'end (no ok after)' : seconds(f.window.toMs)}`,
      int(f.effect.requests), int(f.effect.errors), int(f.effect.unknown),
      f.effect.latencyPeakUs === null ? '-' : formatUs(Math.round(f.effect.latencyPeakUs)),
      f.effect.recoveryMs === null ? 'none' : formatUs(Math.round(f.effect.recoveryMs * 1000)),
    ]),
  ];
  // Text columns left, figures right.
  const aligned = alignedRows(rows, [1, 3]);
  const indent = ' '.repeat(4 + Math.max(...rows.map((r) => r[0]!.length)) + 2);
  lines.push(`    ${aligned[0]}`);
  faults.forEach((f, i) => {
    lines.push(`    ${aligned[i + 1]}`);
    if (f.failed !== undefined) lines.push(`${indent}FAILED: ${f.failed}`);
    if (f.detail !== undefined) lines.push(`${indent}${f.detail}`);
  });
  return lines;
}

/** Why more SKUs sold out (by the replies) than ended at stock 0: some refused a quantity above the stock they had left. */
const remainders = (byReplies: number, atZero: number) =>
  byReplies > atZero ? ` (${int(byReplies - atZero)} of them with stock left that the quantities asked could not fit)` : '';

/** Rows of cells as aligned text: the columns in `left` padded on the right, the others (figures) on the left. */
function alignedRows(rows: readonly string[][], left: readonly number[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (left.includes(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd());
}

/**
 * When the SKUs sold out and which were slowest, from the load's replies: one line for a one-SKU
 * sale; for more, the first ten to sell out and the ten with the highest ok p99 (summary.json keeps
 * the same lists, skus.csv every SKU). The p99 here runs from the write to the reply.
 */
export function formatSkuRanks(summary: SummaryV1): string[] {
  const ranks = summary.skuRanks;
  if (ranks === undefined) return [];
  const count = skuTotalsOfSummary(summary).count;
  const figures = (k: SkuSummary) => `${int(k.requests ?? 0)} requests, ${int(k.ok ?? 0)} ok${k.okP99Us != null ? `, ok p99 ${formatUs(k.okP99Us)}` : ''}`;
  if (count === 1) {
    const k = ranks.firstSoldOut[0] ?? ranks.slowest[0];
    if (k === undefined) return [];
    return [`  sold out    ${k.soldOutMs != null ? `SKU ${k.sku} at ${sinceStart(k.soldOutMs)}` : `not during the run (SKU ${k.sku})`} (${figures(k)})`];
  }
  const lines = [
    ranks.soldOut === 0
      ? `  sold out    none of ${int(count)} SKUs during the run`
      : `  sold out    ${int(ranks.soldOut)} of ${int(count)} SKUs during the run: the first at ${sinceStart(ranks.firstSoldOutMs!)}, the last at ${sinceStart(ranks.lastSoldOutMs!)}${remainders(ranks.soldOut, skuTotalsOfSummary(summary).soldOut)}`,
  ];
  const row = (k: SkuSummary) => [
    String(k.sku), k.soldOutMs != null ? sinceStart(k.soldOutMs) : 'no', int(k.requests ?? 0), int(k.ok ?? 0), k.okP99Us != null ? formatUs(k.okP99Us) : '-',
  ];
  const header = ['SKU', 'sold out', 'requests', 'ok', 'ok p99'];
  const table = (title: string, skus: readonly SkuSummary[]) =>
    skus.length === 0 ? [] : [`    ${title}`, ...alignedRows([header, ...skus.map(row)], []).map((r) => `      ${r}`)];
  if (count <= MAX_RANKED_SKUS) {
    // Both lists would repeat the same few SKUs: one table, in sell-out order.
    const every = new Map([...ranks.firstSoldOut, ...ranks.slowest].map((k) => [k.sku, k]));
    const order = (k: SkuSummary) => k.soldOutMs ?? Infinity;
    lines.push(...table('every SKU, by sell-out time (ok p99 from the write to the reply)', [...every.values()].sort((a, b) => order(a) - order(b) || a.sku - b.sku)));
  } else {
    lines.push(...table(`first ${ranks.firstSoldOut.length} to sell out`, ranks.firstSoldOut));
    lines.push(...table(`slowest ${ranks.slowest.length} by ok p99 (from the write to the reply)`, ranks.slowest));
  }
  return lines;
}

/** A distributed run: one line per agent (segment, host, requests, clock against Redis TIME). */
function formatAgents(summary: SummaryV1): string[] {
  const agents = summary.agents;
  if (agents === undefined) return [];
  const rows = agents.map((a) => {
    if (a.status === 'lost') return `segment ${a.segment}/${agents.length}  ${a.host}  LOST: not measured`;
    const clock = agentClock(a);
    const bundle = agentBundle(a);
    return `segment ${a.segment}/${agents.length}  ${a.host}  ${int(a.requests)} requests  clock ${clock.offset} from Redis TIME${clock.uncertainty !== undefined ? ` (+/- ${clock.uncertainty})` : ''}${bundle !== undefined ? `  bundle ${bundle}` : ''}`;
  });
  return rows.map((row, i) => `${i === 0 ? `  agents      ` : '              '}${row}`);
}
