/**
 * report.html in a real headless Chromium: no console error, no request leaving the page, every
 * chart drawn (a canvas of non-zero size with pixels in its series' colours), the verdict banner
 * matching summary.json, no horizontal scrolling on a laptop screen. Two reports: a fixture with a
 * full per-second series and timed faults re-rendered by `sellout report` (each fault a shaded
 * band on every chart over time, and a row of the Faults table), and a real `sellout run` of
 * smoke.yaml (no fault, no band).
 * The reports and their screenshots (report.png) go to a temporary folder removed afterwards; set
 * SELLOUT_SCREENSHOTS=<dir> to keep them there for a person to look at.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFiles } from '../../src/cli/output.js';
import { FAULT_BAND_COLORS, TARGET_RATE_COLOR } from '../../src/report/html.js';
import { renderOutputs } from '../../src/report/registry.js';
import type { SummaryV1 } from '../../src/summary/summary.js';
import { buildFixture } from '../fixtures/report.js';
import { runCli } from '../helpers/cli.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const CHROMIUM = process.env.SELLOUT_CHROMIUM ?? '/usr/bin/chromium';
const KEEP = process.env.SELLOUT_SCREENSHOTS;
const OUT = KEEP ?? mkdtempSync(join(tmpdir(), 'sellout-browser-'));

let browser: Browser;
let redis: TestRedis;

beforeAll(async () => {
  // Fail loudly, never skip: a report nobody opened in a browser is not tested.
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium; .ci/run does) or set SELLOUT_CHROMIUM`);
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  redis = await startTestRedis();
});

afterAll(async () => {
  await browser?.close();
  await redis?.stop();
  if (KEEP === undefined) rmSync(OUT, { recursive: true, force: true });
});

/** `bandPixels`: pixels in the fault bands' two shades (a fault window drawn on the chart). */
interface ChartCheck { id: string; width: number; height: number; seriesPixels: number; bandPixels: number }

async function openReport(dir: string) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => requests.push(r.url()));
  const url = pathToFileURL(join(dir, 'report.html')).href;
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(() => [...document.querySelectorAll('.chart')].every((el) => el.querySelector('canvas')), undefined, { timeout: 10_000 });
  const charts: ChartCheck[] = await page.evaluate((bandColors) => {
    const data = JSON.parse(document.getElementById('report-data')!.textContent!) as { charts: { id: string; series: { color: string }[] }[] };
    const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    return [...document.querySelectorAll<HTMLElement>('.chart')].map((el) => {
      const id = el.dataset.chart!;
      const canvas = el.querySelector('canvas')!;
      const colors = data.charts.find((c) => c.id === id)!.series.map((s) => rgb(s.color));
      const { data: px } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      // Count pixels drawn in one of the chart's series colours: axes and grid alone don't count.
      const bands = bandColors.map(rgb);
      let seriesPixels = 0;
      let bandPixels = 0;
      for (let i = 0; i < px.length; i += 4) {
        if (px[i + 3]! < 200) continue;
        if (colors.some(([r, g, b]) => Math.abs(px[i]! - r!) + Math.abs(px[i + 1]! - g!) + Math.abs(px[i + 2]! - b!) < 30)) seriesPixels++;
        else if (bands.some(([r, g, b]) => Math.abs(px[i]! - r!) + Math.abs(px[i + 1]! - g!) + Math.abs(px[i + 2]! - b!) < 6)) bandPixels++;
      }
      const box = canvas.getBoundingClientRect();
      return { id, width: box.width, height: box.height, seriesPixels, bandPixels };
    });
  }, [FAULT_BAND_COLORS.window, FAULT_BAND_COLORS.action]);
  // The replies/s chart's lines, and the pixels drawn in the target rate's colour.
  const { replies, targetPixels } = await page.evaluate((targetColor) => {
    const data = JSON.parse(document.getElementById('report-data')!.textContent!) as { charts: { id: string; series: { label: string }[] }[] };
    const canvas = document.querySelector<HTMLElement>('.chart[data-chart="replies"]')?.querySelector('canvas');
    const rgb = [1, 3, 5].map((i) => parseInt(targetColor.slice(i, i + 2), 16));
    let n = 0;
    if (canvas) {
      const { data: px } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      for (let i = 0; i < px.length; i += 4) if (px[i + 3]! >= 200 && Math.abs(px[i]! - rgb[0]!) + Math.abs(px[i + 1]! - rgb[1]!) + Math.abs(px[i + 2]! - rgb[2]!) < 10) n++;
    }
    return { replies: data.charts.find((c) => c.id === 'replies')?.series ?? [], targetPixels: n };
  }, TARGET_RATE_COLOR);
  const faultRows = await page.evaluate(() => [...document.querySelectorAll('#faults table.faults tbody tr')].map((tr) => tr.textContent!.replace(/\s+/g, ' ').trim()));
  const banner = await page.evaluate(() => {
    const el = document.getElementById('verdict')!;
    return { headline: el.querySelector('.headline')!.textContent!, status: el.dataset.status!, exitCode: Number(el.dataset.exitCode) };
  });
  const layout = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
    pwned: (window as unknown as { __pwned?: number }).__pwned,
  }));
  await page.screenshot({ path: join(dir, 'report.png'), fullPage: true });
  await page.close();
  return { errors, requests, charts, banner, layout, url, faultRows, replies, targetPixels };
}

function expectVerdictMatches(summary: SummaryV1, banner: { headline: string; status: string; exitCode: number }) {
  expect(banner.status).toBe(summary.verdict!.status);
  expect(banner.exitCode).toBe(summary.verdict!.exitCode);
  const failed = [...summary.invariants.filter((i) => i.status === 'fail'), ...(summary.thresholds ?? []).filter((t) => t.status === 'fail')];
  if (summary.verdict!.status === 'pass') {
    expect(banner.headline).toBe('PASS');
    expect(failed).toEqual([]);
  } else {
    expect(banner.headline.startsWith(summary.verdict!.status === 'fail' ? 'FAIL: ' : 'INTERRUPTED')).toBe(true);
    for (const f of failed) expect(banner.headline).toContain(f.name);
  }
}

function expectHealthyPage(r: Awaited<ReturnType<typeof openReport>>, chartIds: string[]) {
  expect(r.errors).toEqual([]);
  expect(r.requests).toEqual([r.url]);
  expect(r.charts.map((c) => c.id)).toEqual(chartIds);
  for (const c of r.charts) {
    expect(c.width, `${c.id} width`).toBeGreaterThan(200);
    expect(c.height, `${c.id} height`).toBeGreaterThan(100);
    expect(c.seriesPixels, `${c.id} pixels in series colours`).toBeGreaterThan(100);
  }
  expect(r.layout.scrollWidth).toBeLessThanOrEqual(r.layout.clientWidth);
  expect(r.layout.pwned).toBeUndefined();
}

describe('report.html in Chromium', () => {
  it('draws every chart of a report with a full series, three shards and timed faults, re-rendered by `sellout report`', async () => {
    const dir = join(OUT, 'fixture');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    // Three shards, so the per-shard chart and table are drawn too.
    // Timed faults, so the Faults table and the bands on the charts over time are drawn too.
    const input = await buildFixture({ shards: 3, faults: true });
    // Only the data files: `sellout report` must rebuild the views from summary.json and latency.hlog.
    writeFiles(dir, renderOutputs(input, ['summary', 'hlog', 'hgrm']));
    const cli = await runCli(['report', dir]);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('wrote report.html, summary.md, junit.xml');
    const r = await openReport(dir);
    expectHealthyPage(r, ['spectrum', 'replies', 'p99', 'stock', 'shards']);
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as SummaryV1;
    expectVerdictMatches(summary, r.banner);
    expect(existsSync(join(dir, 'report.png'))).toBe(true);
    // Every fault is a row of the table (with its effect; a failed one says why) and a band on every chart over time.
    expect(summary.faults).toHaveLength(3);
    expect(r.faultRows).toHaveLength(3);
    summary.faults!.forEach((f, i) => {
      expect(r.faultRows[i]).toContain(f.action);
      expect(r.faultRows[i]).toContain(`${f.effect.requests.toLocaleString('en-US')}`);
    });
    expect(r.faultRows[2]).toContain('failed: no replica to promote <none>');
    for (const c of r.charts) {
      // The spectrum has no time axis: no band. The 0.6 s pause and 1.2 s kill cover ~15% of a 12 s chart.
      if (c.id === 'spectrum') expect(c.bandPixels, 'spectrum band pixels').toBe(0);
      else expect(c.bandPixels, `${c.id} band pixels`).toBeGreaterThan(2000);
    }
  });

  it('shows a real failing-threshold run of smoke.yaml with the verdict of its summary.json', async () => {
    const dir = join(OUT, 'smoke');
    rmSync(dir, { recursive: true, force: true });
    const cli = await runCli(['run', 'scenarios/smoke.yaml', '--quiet', '--redis', redis.url, '--out', dir, '--set', 'thresholds={"latency.ok.p99":"< 1us","outcomes.error":"== 0"}']);
    expect(cli.code, cli.stderr).toBe(4);
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as SummaryV1;
    const r = await openReport(dir);
    // A 3 s run: cut at 100 ms, it has a shape to draw.
    expect(summary.series!.intervalMs).toBe(100);
    expect(summary.series!.t.length).toBeGreaterThanOrEqual(20);
    expectHealthyPage(r, ['spectrum', 'replies', 'p99', 'stock']);
    // smoke.yaml is an open model: the replies/s chart has the schedule's target rate (dashed) and the dropped sends.
    expect(r.replies.map((s) => s.label)).toEqual(expect.arrayContaining(['ok', 'target rate', 'dropped']));
    expect(r.targetPixels, 'pixels of the target-rate line').toBeGreaterThan(50);
    expectVerdictMatches(summary, r.banner);
    expect(r.banner.headline).toBe('FAIL: 1 threshold failed (latency.ok.p99)');
    // No fault: no table, no band.
    expect(r.faultRows).toEqual([]);
    for (const c of r.charts) expect(c.bandPixels, `${c.id} band pixels`).toBe(0);
  });
});
