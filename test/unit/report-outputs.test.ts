/**
 * Each report output rendered from a realistic fixture, written to disk and read back: the .hgrm
 * agrees with summary.json, the .hlog adds back up to the whole-run histograms, junit.xml is
 * well-formed with the right failure count, and report.html escapes what it embeds.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFiles } from '../../src/cli/output.js';
import { decodeHistogramForReport, percentiles } from '../../src/metrics/histogram.js';
import { OUTCOMES } from '../../src/outcomes.js';
import { readHlog } from '../../src/report/hlog.js';
import type { ReportInput } from '../../src/report/output.js';
import { ALL_OUTPUTS, renderOutputs } from '../../src/report/registry.js';
import type { SummaryV1 } from '../../src/summary/summary.js';
import { buildFixture, NASTY } from '../fixtures/report.js';
import { parseHgrm } from '../helpers/hgrm.js';
import { findAll, parseXml } from '../helpers/xml.js';
import { formatSummary } from '../../src/report/console.js';

let dir: string;
let input: ReportInput;
const read = (name: string) => readFileSync(join(dir, name), 'utf8');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sellout-report-'));
  input = await buildFixture();
  writeFiles(dir, renderOutputs(input));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('report outputs', () => {
  it('writes one file per output (an .hgrm per outcome that occurred)', () => {
    const names = renderOutputs(input).map((f) => f.name).sort();
    expect(names).toEqual(['junit.xml', 'latency-duplicate.hgrm', 'latency-error.hgrm', 'latency-ok.hgrm', 'latency-sold_out.hgrm', 'latency.hlog', 'report.html', 'skus.csv', 'summary.json', 'summary.md']);
    expect(ALL_OUTPUTS).toEqual(['summary', 'hgrm', 'hlog', 'html', 'md', 'junit', 'skus']);
  });

  it('summary.json reads back equal to the summary, thresholds and verdict included', () => {
    const back = JSON.parse(read('summary.json')) as SummaryV1;
    expect(back).toEqual(JSON.parse(JSON.stringify(input.summary)));
    expect(back.thresholds!.map((t) => [t.name, t.status])).toEqual([['latency.ok.p99', 'pass'], ['latency.ok.p999', 'fail'], ['outcomes.error', 'fail']]);
    expect(back.verdict).toMatchObject({ status: 'fail', exitCode: 4 });
  });

  it('each .hgrm parsed back gives summary.json\'s percentiles (in ms, scaled by 1000)', () => {
    for (const outcome of OUTCOMES) {
      const p = input.summary.latency[outcome];
      if (!p) continue;
      const text = read(`latency-${outcome}.hgrm`);
      expect(text.split('\n')[0]).toBe('       Value     Percentile TotalCount 1/(1-Percentile)');
      expect(text).toContain('#[Values in milliseconds: recorded in microseconds, output scaled by 1000');
      const hgrm = parseHgrm(text);
      expect(hgrm.totalCount).toBe(p.count);
      // The encoding keeps buckets, not the exact max: read back, the max is its bucket's highest
      // equivalent value, within HdrHistogram's 3 significant digits (0.1%) of the recorded one.
      expect(Math.abs(hgrm.maxMs * 1000 - p.max)).toBeLessThanOrEqual(p.max * 0.001);
      expect(Math.abs(hgrm.meanMs * 1000 - p.mean)).toBeLessThanOrEqual(0.5 + 1e-9);
      // The percentile levels HdrHistogram prints (5 ticks per half distance) include 50% and 90%
      // exactly: the value there is summary.json's. 99% and 99.9% fall between two printed levels,
      // so summary.json's value lies between the values printed at those levels.
      const valueAt = (level: number) => Math.round(hgrm.lines.find((l) => l.percentile >= level - 1e-12)!.valueMs * 1000);
      expect(valueAt(0.5)).toBe(p.p50);
      expect(valueAt(0.9)).toBe(p.p90);
      for (const [level, value] of [[0.99, p.p99], [0.999, p.p999]] as const) {
        const below = [...hgrm.lines].reverse().find((l) => l.percentile < level);
        const above = hgrm.lines.find((l) => l.percentile >= level)!;
        expect(Math.round(below!.valueMs * 1000)).toBeLessThanOrEqual(value);
        expect(Math.min(Math.round(above.valueMs * 1000), p.max)).toBeGreaterThanOrEqual(value);
      }
      // Monotonic, as HdrHistogram prints it (the WebAssembly printer in hdr-histogram-js 3.0.1 is not).
      hgrm.lines.forEach((l, i) => { if (i) expect(l.valueMs).toBeGreaterThanOrEqual(hgrm.lines[i - 1]!.valueMs); });
    }
  });

  it('latency.hlog holds one tagged histogram per outcome per interval that adds up to the whole run', () => {
    const text = read('latency.hlog');
    expect(text.startsWith('#[Histogram log format version 1.3]\n#[StartTime: 1735689600.000 (seconds since epoch)')).toBe(true);
    expect(text).toContain('"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"');
    expect(text.split('\n').filter((l) => l.startsWith('Tag=')).length).toBe(input.intervals.length);
    const back = readHlog(text);
    expect(back.intervals.map((i) => [i.outcome, i.startMs, i.durationMs])).toEqual(
      [...input.intervals].sort((a, b) => a.startMs - b.startMs || OUTCOMES.indexOf(a.outcome) - OUTCOMES.indexOf(b.outcome)).map((i) => [i.outcome, i.startMs, i.durationMs]),
    );
    for (const outcome of OUTCOMES) {
      const p = input.summary.latency[outcome];
      expect(back.histograms[outcome] !== undefined).toBe(p !== null);
      if (!p) continue;
      const q = percentiles(decodeHistogramForReport(back.histograms[outcome]!));
      expect({ ...q, p999: 0, max: 0 }).toEqual({ ...p, p999: 0, max: 0 });
      // max (and p99.9, which is clamped to max) are exact to HdrHistogram's resolution, 0.1%.
      expect(Math.abs(q.max - p.max)).toBeLessThanOrEqual(p.max * 0.001);
      expect(Math.abs(q.p999 - p.p999)).toBeLessThanOrEqual(p.p999 * 0.001);
    }
  });

  it('without intervals, latency.hlog holds one interval per outcome covering the run', () => {
    const files = renderOutputs({ ...input, intervals: [] }, ['hlog']);
    const back = readHlog(files[0]!.content);
    expect(back.intervals.map((i) => [i.outcome, i.startMs, i.durationMs])).toEqual(
      OUTCOMES.filter((o) => input.summary.latency[o]).map((o) => [o, 0, input.summary.durationMs]),
    );
  });

  it('junit.xml is well-formed: one testcase per invariant and threshold, failures with expected vs actual', () => {
    const root = parseXml(read('junit.xml'));
    const s = input.summary;
    const cases = findAll(root, 'testcase');
    expect(cases.map((c) => c.attributes.name)).toEqual([...s.invariants.map((i) => i.name), ...s.thresholds!.map((t) => `${t.name} ${t.condition}`)]);
    const failures = findAll(root, 'failure');
    const expectedFailures = s.invariants.filter((i) => i.status === 'fail').length + s.thresholds!.filter((t) => t.status === 'fail').length;
    expect(failures).toHaveLength(expectedFailures);
    expect(root.attributes.failures).toBe(String(expectedFailures));
    expect(failures[0]!.attributes.message).toMatch(/^latency\.ok\.p999 < 5ms: actual .* limit 5 ms, over by/);
    expect(findAll(root, 'skipped').map((e) => e.attributes.message)).toEqual(['not recorded by this run <yet>']);
  });

  it('every report names the script under test by its path and SHA-1: console (first 12 hex), summary.md and junit.xml (in full)', () => {
    const { script, scriptSha } = input.summary.scenario;
    expect(formatSummary(input.summary).split('\n').slice(0, 3)).toContain(`  script      ${script} (sha ${scriptSha.slice(0, 12)})`);
    const md = read('summary.md').split('\n');
    // Right under the verdict and its reasons, before the figures.
    expect(md.indexOf(`Script \`${script}\` (SHA-1 \`${scriptSha}\`)`)).toBeGreaterThan(0);
    expect(md.indexOf(`Script \`${script}\` (SHA-1 \`${scriptSha}\`)`)).toBeLessThan(md.findIndex((l) => l.startsWith('| requests |')));
    const suites = findAll(parseXml(read('junit.xml')), 'testsuite');
    expect(suites.length).toBeGreaterThan(0);
    for (const suite of suites) {
      expect(findAll(suite, 'property').map((p) => [p.attributes.name, p.attributes.value])).toEqual([['script', script], ['scriptSha', scriptSha]]);
    }
  });

  it('junit.xml of a failed invariant carries expected vs actual and the examples', () => {
    const failed = {
      ...input.summary,
      status: 'fail' as const,
      thresholds: [],
      invariants: [{ name: 'at-most-once', status: 'fail' as const, description: 'd', expected: 'no ID with two ok replies', actual: '1 violation(s) & <more>', examples: ['request R1 got two ok replies'] }],
    };
    const root = parseXml(renderOutputs({ ...input, summary: failed }, ['junit'])[0]!.content);
    const [failure] = findAll(root, 'failure');
    expect(failure!.attributes.message).toBe('expected no ID with two ok replies, got 1 violation(s) & <more>');
    expect(failure!.text).toContain('- request R1 got two ok replies');
  });

  it('summary.md leads with the verdict and lists thresholds and invariants', () => {
    const md = read('summary.md');
    expect(md.split('\n')[0]).toBe('## ❌ sellout fixture: FAIL: 2 thresholds failed (latency.ok.p999, outcomes.error)');
    expect(md).toContain('| ❌ | latency.ok.p999 &lt; 5ms |');
    expect(md).toContain('| ✅ | latency.ok.p99 &lt; 2ms |');
    expect(md).toContain('| ⏭️ | real-time-order |');
    // Outside the fenced YAML (shown verbatim by GitHub), the description's HTML is escaped.
    const outsideFences = md.replace(/```yaml[\s\S]*?```/g, '');
    expect(outsideFences).not.toContain('<script>');
    expect(outsideFences).toContain('&lt;/script&gt;');
    expect(md).toContain(`description: ${JSON.stringify(NASTY)}`);
  });

  it('each report says what the pass covered: every count, and one line per condition not exercised', () => {
    const coverage = input.summary.coverage!;
    expect(coverage.warnings).toHaveLength(3);
    expect(coverage.concurrentTwin).toBeGreaterThan(0);
    // Warnings are not reasons: the verdict comes from the thresholds alone.
    expect(input.summary.verdict!.reasons.join('\n')).not.toContain('would go unseen');

    const html = read('report.html');
    const sections = [...html.matchAll(/<section id="([\w-]+)"/g)].map((m) => m[1]);
    expect(sections.indexOf('coverage')).toBe(sections.indexOf('invariants') + 1);
    const section = /<section id="coverage">([\s\S]*?)<\/section>/.exec(html)![1]!;
    for (const w of coverage.warnings) expect(section).toContain(`<li>${w.replace(/'/g, '&#39;')}</li>`);
    expect(section).toContain(`<tr><td><code>concurrentTwin</code></td><td class="num">${coverage.concurrentTwin.toLocaleString('en-US')}</td>`);
    expect(section).toContain('<tr class="zero"><td><code>partialBoundary</code></td><td class="num">0</td>');
    // No timeouts is good news, not a gap.
    expect(section).toContain('<tr><td><code>unknownAbsent</code></td><td class="num">0</td>');

    const md = read('summary.md');
    const mdSection = md.slice(md.indexOf('### Coverage'), md.indexOf('<details><summary>Scenario as run'));
    expect(md.indexOf('### Coverage')).toBeGreaterThan(md.indexOf('### Invariants'));
    for (const w of coverage.warnings) expect(mdSection).toContain(`- ⚠️ ${w.replace(/'/g, '&#39;')}`);
    expect(mdSection).toContain('| `partialBoundary` | 0 |');

    const text = formatSummary(input.summary);
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l.startsWith('  coverage    '));
    expect(lines[at]).toBe(`  coverage    concurrentTwin ${coverage.concurrentTwin.toLocaleString('en-US')} · twinAfterOk 0 · twinAfterSoldOut 0 · soldOutToZero ${coverage.soldOutToZero}`);
    expect(lines[at + 1]).toBe(`              partialBoundary 0 · afterSellOut ${coverage.afterSellOut.toLocaleString('en-US')} · unknownRecovered 0 · unknownAbsent 0`);
    expect(lines.slice(at + 2, at + 5)).toEqual(coverage.warnings.map((w) => `  warning     ${w}`));
  });

  it('a summary without coverage (Redis not read back, or an older file) renders without it', () => {
    const { coverage: _, ...older } = input.summary;
    const [html, md] = renderOutputs({ ...input, summary: older }, ['html', 'md']).map((f) => f.content);
    expect(html).toContain('<section id="coverage"><h2>Coverage</h2><p class="muted">No coverage: Redis could not be read back');
    expect(md).not.toContain('### Coverage');
    expect(formatSummary(older)).not.toMatch(/coverage|warning/);
  });

  it('report.html is self-contained and escapes everything it embeds', () => {
    const html = read('report.html');
    // Nothing loads from elsewhere (the browser test also checks that no request leaves the page).
    expect(html).not.toMatch(/<(script|link|img|iframe)[^>]+(src|href)\s*=|url\(\s*['"]?https?:|@import/i);
    // The three script elements are ours (data, uPlot, charts): the description's </script> did not end one.
    expect(html.match(/<script/g)).toHaveLength(3);
    expect(html.match(/<\/script>/g)).toHaveLength(3);
    expect(html).not.toContain(NASTY);
    expect(html).toContain('flash &lt;/script&gt;&lt;script&gt;window.__pwned = 1&lt;/script&gt; &lt;b&gt;sale&lt;/b&gt; &amp; &quot;quotes&quot;');
    const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!) as { charts: { id: string }[] };
    expect(data.charts.map((c) => c.id)).toEqual(['spectrum', 'replies', 'p99', 'stock', 'soldout']);
  });
});

describe('duplicates answered sold_out', () => {
  it('the console and summary.md say why duplicate counts fewer than the twins sent, and say nothing when none was', () => {
    const summary = { ...input.summary, coverage: { ...input.summary.coverage!, twinAfterSoldOut: 37 } };
    const note = '37 duplicate(s) were sent after their original was answered sold_out: nothing was deducted under that request ID, so they are answered sold_out too, not duplicate';
    const lines = formatSummary(summary).split('\n');
    const at = lines.findIndex((l) => l.startsWith('  outcomes    '));
    expect(lines[at + 1]).toBe(`${' '.repeat(14)}${note}`);
    const md = renderOutputs({ ...input, summary }).find((f) => f.name === 'summary.md')!;
    expect(String(md.content)).toContain(note);
    expect(formatSummary(input.summary)).not.toContain('answered sold_out too');
  });
});
