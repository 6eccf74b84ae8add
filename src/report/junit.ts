/**
 * junit.xml: one testcase per invariant and per threshold, so CI systems that read JUnit
 * (GitHub, GitLab, Jenkins) list each check by name. A failure's message carries expected vs
 * actual; skipped checks are <skipped/> with the reason; an interrupted run adds a failing
 * `run completed` case so the report can't read as green.
 */
import { escapeXml } from './escape.js';
import type { ReportOutput } from './output.js';
import type { SummaryV1 } from '../summary/summary.js';

interface Case { name: string; classname: string; failure?: { message: string; type: string; body: string }; skipped?: string }

/** Suite-level facts, as JUnit <properties> (CI systems list them with the suite). */
type Properties = readonly (readonly [string, string])[];

function suite(name: string, cases: Case[], timestamp: string, properties: Properties): string {
  const failures = cases.filter((c) => c.failure).length;
  const skipped = cases.filter((c) => c.skipped !== undefined).length;
  const body = cases.map((c) => {
    const open = `    <testcase classname="${escapeXml(c.classname)}" name="${escapeXml(c.name)}" time="0"`;
    if (c.failure) {
      return `${open}>\n      <failure message="${escapeXml(c.failure.message)}" type="${escapeXml(c.failure.type)}">${escapeXml(c.failure.body)}</failure>\n    </testcase>`;
    }
    if (c.skipped !== undefined) return `${open}>\n      <skipped message="${escapeXml(c.skipped)}"/>\n    </testcase>`;
    return `${open}/>`;
  });
  return [
    `  <testsuite name="${escapeXml(name)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="${skipped}" timestamp="${escapeXml(timestamp)}">`,
    '    <properties>',
    ...properties.map(([key, value]) => `      <property name="${escapeXml(key)}" value="${escapeXml(value)}"/>`),
    '    </properties>',
    ...body,
    '  </testsuite>',
  ].join('\n');
}

export function renderJunit(summary: SummaryV1): string {
  const prefix = `sellout.${summary.scenario.name}`;
  const invariants: Case[] = summary.invariants.map((i) => ({
    name: i.name,
    classname: `${prefix}.invariants`,
    ...(i.status === 'fail'
      ? { failure: { type: 'invariant', message: `expected ${i.expected}, got ${i.actual}`, body: [i.description, ...i.examples.map((e) => `- ${e}`)].join('\n') } }
      : {}),
    ...(i.status === 'skipped' ? { skipped: i.reason ?? 'skipped' } : {}),
  }));
  if (summary.status === 'crashed') {
    invariants.unshift({
      name: 'run completed',
      classname: `${prefix}.run`,
      failure: { type: 'crashed', message: summary.crashed ?? 'a load worker crashed', body: 'a bug in sellout: the run could not be verified' },
    });
  } else if (summary.status === 'incomplete') {
    invariants.unshift({
      name: 'run completed',
      classname: `${prefix}.run`,
      failure: { type: 'incomplete', message: summary.incomplete ?? 'part of the load was not measured', body: 'a distributed run lost an agent: its requests were not measured' },
    });
  } else if (summary.status === 'interrupted') {
    invariants.unshift({
      name: 'run completed',
      classname: `${prefix}.run`,
      failure: { type: 'interrupted', message: 'expected the run to finish, got an interruption', body: `${summary.requests} requests ran before the interruption` },
    });
  }
  const thresholds: Case[] = (summary.thresholds ?? []).map((t) => ({
    name: `${t.name} ${t.condition}`,
    classname: `${prefix}.thresholds`,
    ...(t.status === 'fail' ? { failure: { type: 'threshold', message: t.text, body: t.reason ?? t.text } } : {}),
    ...(t.status === 'skipped' ? { skipped: t.reason ?? 'skipped' } : {}),
  }));
  const all = [...invariants, ...thresholds];
  const failures = all.filter((c) => c.failure).length;
  // The script under test, so the JUnit report says what passed (its path and SHA-1).
  const properties: Properties = [['script', summary.scenario.script], ['scriptSha', summary.scenario.scriptSha]];
  const suites = [suite(`${prefix}.invariants`, invariants, summary.run.startedAt, properties)];
  if (thresholds.length) suites.push(suite(`${prefix}.thresholds`, thresholds, summary.run.startedAt, properties));
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${escapeXml(prefix)}" tests="${all.length}" failures="${failures}" errors="0" time="${(summary.durationMs / 1000).toFixed(3)}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}

export const junitOutput: ReportOutput = {
  name: 'junit',
  description: 'junit.xml: one testcase per invariant and per threshold',
  render: ({ summary }) => [{ name: 'junit.xml', content: renderJunit(summary) }],
};
