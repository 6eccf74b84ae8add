/**
 * The overall verdict of a run, in one place so the console, report.html, summary.md, junit.xml
 * and the exit code can never disagree. DESIGN.md §8: crashed 70 (a bug in sellout) >
 * interrupted 130 > incomplete 3 (an agent lost) > target failed 3 > invariant failed 1 > threshold failed 4 > ok 0.
 */
import { ExitCode } from '../errors.js';
import type { SummaryV1, VerdictV1 } from './summary.js';

export function verdictOf(summary: SummaryV1): VerdictV1 {
  const failedInvariants = summary.invariants.filter((i) => i.status === 'fail');
  const failedThresholds = (summary.thresholds ?? []).filter((t) => t.status === 'fail');
  const reasons = [
    ...failedInvariants.map((i) => `invariant ${i.name} failed: expected ${i.expected}, got ${i.actual}`),
    ...failedThresholds.map((t) => `threshold ${t.text}`),
  ];
  if (summary.status === 'crashed') {
    return { status: 'crashed', exitCode: ExitCode.internal, reasons: [summary.crashed ?? 'a load worker crashed', ...reasons] };
  }
  if (summary.status === 'interrupted') {
    return { status: 'interrupted', exitCode: ExitCode.interrupted, reasons: ['the run was interrupted before its end', ...reasons] };
  }
  if (summary.status === 'incomplete') {
    // Part of the load was not measured (a lost agent): nothing can pass, and the cause is outside the script.
    return { status: 'incomplete', exitCode: ExitCode.targetUnavailable, reasons: [summary.incomplete ?? 'part of the load was not measured', ...(summary.targetLost !== undefined ? [summary.targetLost] : []), ...reasons] };
  }
  if (summary.targetLost !== undefined) {
    return { status: 'fail', exitCode: ExitCode.targetUnavailable, reasons: [summary.targetLost, ...reasons] };
  }
  if (failedInvariants.length > 0) return { status: 'fail', exitCode: ExitCode.invariantFailed, reasons };
  if (failedThresholds.length > 0) return { status: 'fail', exitCode: ExitCode.thresholdFailed, reasons };
  return { status: 'pass', exitCode: ExitCode.ok, reasons };
}

/** The verdict as one headline, e.g. `FAIL: 1 threshold failed (latency.ok.p99)`. */
export function verdictHeadline(summary: SummaryV1): string {
  const v = verdictOf(summary);
  if (v.status === 'pass') return 'PASS';
  const parts: string[] = [];
  const inv = summary.invariants.filter((i) => i.status === 'fail').map((i) => i.name);
  const thr = (summary.thresholds ?? []).filter((t) => t.status === 'fail').map((t) => t.name);
  if (inv.length) parts.push(`${inv.length} invariant${inv.length > 1 ? 's' : ''} failed (${inv.join(', ')})`);
  if (thr.length) parts.push(`${thr.length} threshold${thr.length > 1 ? 's' : ''} failed (${thr.join(', ')})`);
  if (summary.targetLost !== undefined) {
    // The first thing that went wrong with the target, in its own words (the rest is in reasons).
    const first = summary.targetLost.split('; then ')[0]!;
    parts.unshift(`target problem: ${first.length > 160 ? `${first.slice(0, 159)}…` : first}`);
  }
  if (v.status === 'crashed') return `CRASHED: ${summary.crashed ?? 'a load worker crashed'} (a bug in sellout: please report it)`;
  if (v.status === 'interrupted') return `INTERRUPTED${parts.length ? `: ${parts.join('; ')}` : ''}`;
  if (v.status === 'incomplete') return `INCOMPLETE: ${summary.incomplete ?? 'part of the load was not measured'}${parts.length ? `; ${parts.join('; ')}` : ''}`;
  return `FAIL: ${parts.join('; ')}`;
}
