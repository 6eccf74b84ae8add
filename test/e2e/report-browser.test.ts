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
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFiles } from '../../src/cli/output.js';
import { FAULT_BAND_COLORS, TARGET_RATE_COLOR } from '../../src/report/html.js';
import { renderOutputs } from '../../src/report/registry.js';
import type { SummaryV1 } from '../../src/summary/summary.js';
import { verdictOf } from '../../src/summary/verdict.js';
import { buildFixture } from '../fixtures/report.js';
import { ROOT, runCli } from '../helpers/cli.js';
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

/**
 * Runs before the page's scripts: records every text drawn on a canvas (uPlot draws its axes on
 * canvas) with its box in canvas pixels, from the context's font metrics and transform, so a test
 * can tell whether an axis label overlaps a tick value. A full-canvas clearRect (uPlot's redraw)
 * starts the canvas's list afresh.
 */
function recordCanvasText() {
  type Drawn = { text: string; font: string; l: number; t: number; r: number; b: number };
  const drawn = new Map<HTMLCanvasElement, Drawn[]>();
  (window as unknown as { __canvasText: typeof drawn }).__canvasText = drawn;
  const proto = CanvasRenderingContext2D.prototype;
  const clearRect = proto.clearRect;
  proto.clearRect = function (x: number, y: number, w: number, h: number) {
    if (x <= 0 && y <= 0 && w >= this.canvas.width && h >= this.canvas.height) drawn.set(this.canvas, []);
    return clearRect.call(this, x, y, w, h);
  };
  const fillText = proto.fillText;
  proto.fillText = function (text: string, x: number, y: number, maxWidth?: number) {
    const m = this.measureText(text);
    const tf = this.getTransform();
    const corners = [[x - m.actualBoundingBoxLeft, y - m.actualBoundingBoxAscent], [x + m.actualBoundingBoxRight, y - m.actualBoundingBoxAscent],
      [x - m.actualBoundingBoxLeft, y + m.actualBoundingBoxDescent], [x + m.actualBoundingBoxRight, y + m.actualBoundingBoxDescent]]
      .map(([px, py]) => [tf.a * px! + tf.c * py! + tf.e, tf.b * px! + tf.d * py! + tf.f] as const);
    const xs = corners.map((c) => c[0]);
    const ys = corners.map((c) => c[1]);
    const list = drawn.get(this.canvas) ?? [];
    list.push({ text: String(text), font: this.font, l: Math.min(...xs), r: Math.max(...xs), t: Math.min(...ys), b: Math.max(...ys) });
    drawn.set(this.canvas, list);
    return maxWidth === undefined ? fillText.call(this, text, x, y) : fillText.call(this, text, x, y, maxWidth);
  };
}

/** What report.html must get right at any width: text that doesn't collide, wrap mid-figure or break a token. */
interface Polish {
  /** Axis labels (uPlot's bold label font) whose box meets a tick value's, or any text outside its canvas. */
  overlaps: string[];
  /** Legend values before the cursor is on a chart. */
  legendIdle: string[];
  /** Legend values with the cursor in the middle of each chart. */
  legendHover: string[];
  pageText: string;
  /** Stat cards whose value runs over more than one line. */
  wrappedCards: string[];
  /** Request IDs in the invariants' examples, and those drawn over more than one line box. */
  requestIds: number;
  brokenIds: string[];
  stockLabels: string[];
}

async function openReport(dir: string, width = 1280, file = 'report.html') {
  const page = await browser.newPage({ viewport: { width, height: 800 }, deviceScaleFactor: 1 });
  await page.addInitScript(recordCanvasText);
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => requests.push(r.url()));
  const url = pathToFileURL(join(dir, file)).href;
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
  const polish: Omit<Polish, 'legendHover'> = await page.evaluate(() => {
    const drawn = (window as unknown as { __canvasText: Map<HTMLCanvasElement, { text: string; font: string; l: number; t: number; r: number; b: number }[]> }).__canvasText;
    const data = JSON.parse(document.getElementById('report-data')!.textContent!) as { charts: { id: string; series: { label: string }[] }[]; faults: { label: string }[] };
    const faultLabels = new Set(data.faults.map((f) => f.label));
    const overlaps: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>('.chart')) {
      const canvas = el.querySelector('canvas')!;
      const texts = (drawn.get(canvas) ?? []).filter((x) => !faultLabels.has(x.text));
      const labels = texts.filter((x) => x.font.startsWith('bold'));
      const ticks = texts.filter((x) => !x.font.startsWith('bold'));
      if (labels.length < 2 || ticks.length < 4) overlaps.push(`${el.dataset.chart}: ${labels.length} axis label(s) and ${ticks.length} tick value(s) drawn`);
      // 1 px of clearance around each label.
      for (const a of labels) {
        for (const t of ticks) {
          if (a.l - 1 < t.r && t.l < a.r + 1 && a.t - 1 < t.b && t.t < a.b + 1) {
            overlaps.push(`${el.dataset.chart}: axis label "${a.text}" [${a.l.toFixed(0)}..${a.r.toFixed(0)} x ${a.t.toFixed(0)}..${a.b.toFixed(0)}] overlaps tick value "${t.text}" [${t.l.toFixed(0)}..${t.r.toFixed(0)} x ${t.t.toFixed(0)}..${t.b.toFixed(0)}]`);
          }
        }
      }
      for (const x of texts) if (x.l < 0 || x.t < 0 || x.r > canvas.width || x.b > canvas.height) overlaps.push(`${el.dataset.chart}: "${x.text}" runs off its canvas`);
    }
    const lines = (el: Element) => {
      const range = document.createRange();
      range.selectNodeContents(el);
      return new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top))).size;
    };
    const ids = [...document.querySelectorAll('#invariants code.rid')];
    return {
      overlaps,
      legendIdle: [...document.querySelectorAll('.u-legend .u-value')].map((v) => v.textContent ?? ''),
      pageText: document.body.innerText,
      wrappedCards: [...document.querySelectorAll('.card .v')].filter((v) => lines(v) !== 1).map((v) => v.textContent!),
      requestIds: ids.length,
      brokenIds: ids.filter((c) => c.getClientRects().length !== 1).map((c) => c.textContent!),
      stockLabels: data.charts.find((c) => c.id === 'stock')?.series.map((x) => x.label) ?? [],
    };
  });
  const bottleneck = await page.evaluate(() => {
    const el = document.getElementById('bottleneck');
    return el ? { limit: el.dataset.limit, text: el.textContent } : null;
  });
  const soldOut = await page.evaluate(() => {
    const data = JSON.parse(document.getElementById('report-data')!.textContent!) as { charts: { id: string; series: { values: (number | null)[] }[] }[] };
    const values = data.charts.find((c) => c.id === 'soldout')?.series[0]?.values as number[] | undefined;
    return values ? { first: values[0], last: values.at(-1), max: Math.max(...values) } : null;
  });
  // The legend with the cursor over the middle of each chart: values, never placeholders.
  const legendHover: string[] = [];
  for (const over of await page.$$('.chart .u-over')) {
    await over.scrollIntoViewIfNeeded();
    const box = (await over.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    legendHover.push(...await over.evaluate((el) => [...el.closest('.chart')!.querySelectorAll('.u-legend .u-value')].map((v) => v.textContent ?? '')));
  }
  await page.mouse.move(0, 0);
  await page.screenshot({ path: join(dir, `${file.replace(/\.html$/, '')}${width === 1280 ? '' : `-${width}`}.png`), fullPage: true });
  await page.close();
  return { errors, requests, charts, banner, layout, url, faultRows, replies, targetPixels, soldOut, bottleneck, polish: { ...polish, legendHover } as Polish };
}

/** The polish every report needs, at any width. */
function expectPolished(p: Polish) {
  expect(p.overlaps).toEqual([]);
  // No placeholder such as "— ms" or uPlot's "--" before the cursor is on a chart; figures while it is.
  for (const v of p.legendIdle) expect(v).not.toMatch(/—|--/);
  expect(p.legendHover.filter((v) => /\d/.test(v)).length).toBeGreaterThan(0);
  for (const v of p.legendHover) expect(v).not.toMatch(/^\s*(—|--)?\s*(ms|units|replies\/s|%)$/);
  // Microseconds as µs.
  expect(p.pageText).not.toMatch(/\d us\b/);
  expect(p.wrappedCards).toEqual([]);
  expect(p.brokenIds).toEqual([]);
  // The stock chart: the total and at most five SKUs, each line told apart by its label.
  if (p.stockLabels.length) {
    expect(p.stockLabels.length).toBeLessThanOrEqual(6);
    expect(new Set(p.stockLabels).size).toBe(p.stockLabels.length);
  }
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
  expectPolished(r.polish);
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
    expectHealthyPage(r, ['spectrum', 'replies', 'p99', 'stock', 'soldout', 'shards']);
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

  it('keeps labels clear of wide tick values, figures and request IDs whole, at 1280 and 800 px', async () => {
    const dir = join(OUT, 'wide');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    // A million units a SKU: tick values like "999,000" on the stock chart, and a "1,000,000 units" card.
    const input = await buildFixture({ stock: 1_000_000 });
    const ids = Array.from({ length: 6 }, (_, i) => `DEC-42-${123_456 + i * 7919}`);
    input.summary.invariants.push({
      name: 'no-double-deduction', status: 'fail', description: 'a request ID is deducted at most once', expected: 'no request deducted twice', actual: `${ids.length} request(s) deducted twice`,
      examples: ids.map((id, i) => `request ${id} got ok 2 times (first stock ${999_000 - i}): it was deducted more than once; ${ids[(i + 1) % ids.length]} too`),
    });
    // A million replies a second too: tick values of seven digits on the replies/s chart.
    const replies = input.summary.series!.replies;
    for (const o of Object.keys(replies) as (keyof typeof replies)[]) replies[o] = replies[o]!.map((n) => n * 1000);
    // A long figure for a stat card: "10,865 of 1,234,567" must not wrap at 800 px.
    input.summary.planned = 1_234_567;
    input.summary.verdict = verdictOf(input.summary);
    writeFiles(dir, renderOutputs(input, ['html']));
    for (const width of [1280, 800]) {
      const r = await openReport(dir, width);
      // A million units a SKU: nothing sells out in the fixture's 12 s, so no sell-out timeline.
      expectHealthyPage(r, ['spectrum', 'replies', 'p99', 'stock']);
      expect(r.polish.requestIds, 'request IDs marked up in the examples').toBe(ids.length * 2);
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
    expectHealthyPage(r, ['spectrum', 'replies', 'p99', 'stock', 'soldout']);
    // Which side limited the run, as summary.json says it.
    expect(r.bottleneck).toEqual({ limit: summary.server!.limit, text: expect.stringContaining(summary.server!.says) });
    // Its five SKUs all sell out: the timeline ends at 5, and starts from none at t0.
    expect(summary.series!.soldOut!.at(-1)).toBe(5);
    expect(r.soldOut).toEqual({ first: 0, last: 5, max: 5 });
    // smoke.yaml is an open model: the replies/s chart has the schedule's target rate (dashed) and the dropped sends.
    expect(r.replies.map((s) => s.label)).toEqual(expect.arrayContaining(['ok', 'target rate', 'dropped']));
    expect(r.targetPixels, 'pixels of the target-rate line').toBeGreaterThan(50);
    expectVerdictMatches(summary, r.banner);
    expect(r.banner.headline).toBe('FAIL: 1 threshold failed (latency.ok.p99)');
    // No fault: no table, no band.
    expect(r.faultRows).toEqual([]);
    for (const c of r.charts) expect(c.bandPixels, `${c.id} band pixels`).toBe(0);
  });

  it('capacity.html of a real search draws its four charts: p99 with the SLO and the knee, achieved, server CPU, the client/server split', async () => {
    const dir = join(OUT, 'capacity');
    rmSync(dir, { recursive: true, force: true });
    // The busy fixture script: a ceiling of a few thousand a second, so the steps climb to it in seconds.
    const scenario = join(OUT, 'busy.yaml');
    writeFileSync(scenario, `name: busy\nscript: ${join(ROOT, 'test', 'fixtures', 'busy-deduct.lua')}\nskus: {count: 2, stock: 100}\nrequests: 1000\n`);
    // A step of 1 s takes 2-3 s with its setup and verification: 16 s gave exactly the 3 steps needed on
    // an idle machine and 2 on a busy one; 24 s leaves room.
    const cli = await runCli(['capacity', scenario, '--redis', redis.url, '--step', '1s', '--budget', '24s', '--slo', 'latency.ok.p99 < 50ms', '--out', dir, '--quiet']);
    expect(cli.code, cli.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(dir, 'capacity.json'), 'utf8')) as { steps: { series: string }[]; maxRate: number | null };
    expect(report.steps.filter((st) => st.series === 'all SKUs').length).toBeGreaterThanOrEqual(3);
    const r = await openReport(dir, 1280, 'capacity.html');
    expectHealthyPage(r, ['p99', 'achieved', 'cpu', 'split']);
    expect(r.banner.status).toBe('pass');
    expect(r.banner.exitCode).toBe(0);
    expect(existsSync(join(dir, 'capacity.png'))).toBe(true);
  });
});
