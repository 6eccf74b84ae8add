/**
 * An agent's result bundle (src/agents/bundle.ts) and the merge of several (src/agents/merge.ts):
 * the records come back as written (times to the microsecond, SKU and quantity from the plan),
 * the size stays under 24 MB per million requests, and histograms merged from three agents equal
 * the histogram of all their samples exactly, bucket for bucket.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBundle, encodeBundle, type AgentBundle, type BundleHeader } from '../../src/agents/bundle.js';
import { mergeBundles } from '../../src/agents/merge.js';
import { laneOf } from '../../src/load/lanes.js';
import { planFor } from '../../src/load/plan.js';
import { encodeHistogram, initHistograms, newHistogram } from '../../src/metrics/histogram.js';
import { newRecords, reserveRow, type RequestRecords } from '../../src/metrics/records.js';
import { Code, OUTCOMES } from '../../src/outcomes.js';
import { scenarioParser } from '../helpers/scenario.js';

let dir: string;
beforeAll(async () => {
  await initHistograms();
  dir = mkdtempSync(join(tmpdir(), 'sellout-bundle-'));
});
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

const YAML = 'name: b\nscript: builtin:deduct\nskus: {count: 50, stock: 1000, selection: {type: zipf, exponent: 1.1}}\nquantity: {1: 0.6, 2: 0.3, 5: 0.1}\nrequests: 30000\nseed: 3\n';

/** Deterministic pseudo-random numbers (a test must fail the same way twice). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
}

function header(segment: number, agents: number, counts: number[], latency: (string | null)[], records: RequestRecords): BundleHeader {
  return {
    segment, agents, host: `host-${segment}`, clockOffsetUs: 12, clockUncertaintyUs: 40, startedAt: new Date(0).toISOString(), interrupted: false, workers: 1,
    counts, latency, latencyRaw: null, firstSendUs: records.sentUs[0] ?? 0, lastReplyUs: Math.max(0, ...Array.from(records.repliedUs.subarray(0, records.count))),
    scheduled: 0, dropped: 0, intervals: [], droppedByInterval: [], stock: [], connectionErrors: [], capped: false, lostAllConnections: false,
    errorReplies: [], reconnects: 0, redirects: { moved: 0, ask: 0, tryagain: 0 }, routeProblems: [], refusals: [],
  };
}

describe('agent bundles', () => {
  it('round-trip the records, the SKU and quantity recomputed from the plan, in at most 24 bytes a request', () => {
    const scenario = scenarioParser(dir).parse(YAML);
    const plan = planFor(scenario);
    const next = random(1);
    const records = newRecords(16);
    for (let i = 0; i < 100_000; i++) {
      const row = reserveRow(records);
      const index = 3 * i + 1;
      records.index[row] = index;
      records.sku[row] = plan.skuOf(index);
      records.quantity[row] = plan.quantityOf(index);
      records.outcome[row] = i % 7 === 0 ? Code.sold_out : i % 11 === 0 ? Code.unknown : Code.ok;
      records.twin[row] = i % 5 === 0 ? 1 : 0;
      records.value[row] = records.outcome[row] === Code.ok ? Math.floor(next() * 1000) - 3 : NaN;
      records.sentUs[row] = i * 10 + Math.floor(next() * 5);
      records.repliedUs[row] = records.outcome[row] === Code.unknown ? 0 : records.sentUs[row]! + 50 + Math.floor(next() * 900);
    }
    const bytes = encodeBundle({ header: header(1, 3, [1, 0, 0, 0, 0, 0, 0], [], records), records });
    expect(bytes.length / records.count).toBeLessThanOrEqual(24);
    const back = decodeBundle(bytes, plan);
    expect(back.header.segment).toBe(1);
    expect(back.records.count).toBe(records.count);
    for (const column of ['index', 'sku', 'quantity', 'outcome', 'twin', 'sentUs', 'repliedUs'] as const) {
      expect(Array.from(back.records[column].subarray(0, records.count)), column).toEqual(Array.from(records[column].subarray(0, records.count)));
    }
    expect(Array.from(back.records.value.subarray(0, records.count)).map(String)).toEqual(Array.from(records.value.subarray(0, records.count)).map(String));
    // A cut bundle is refused, never read as a shorter one.
    expect(() => decodeBundle(bytes.subarray(0, bytes.length - 1), plan)).toThrow(/truncated/);
  });

  it('keep a time a worker stamped a hair before t0, and a missing one, in the compact columns', () => {
    const scenario = scenarioParser(dir).parse(YAML);
    const plan = planFor(scenario);
    const records = newRecords(4);
    for (const [i, sent, replied] of [[0, -3.4, 120], [1, 5, NaN], [2, 1_000_000, 1_000_450]] as const) {
      const row = reserveRow(records);
      records.index[row] = i; records.sku[row] = plan.skuOf(i); records.quantity[row] = plan.quantityOf(i);
      records.outcome[row] = Number.isNaN(replied) ? Code.unknown : Code.ok; records.value[row] = Number.isNaN(replied) ? NaN : 9; records.sentUs[row] = sent; records.repliedUs[row] = replied;
    }
    const bytes = encodeBundle({ header: header(0, 1, [2, 0, 0, 0, 0, 0, 1], [], records), records });
    const back = decodeBundle(bytes, plan).records;
    expect(Array.from(back.sentUs.subarray(0, 3))).toEqual([-3, 5, 1_000_000]);
    expect(Array.from(back.repliedUs.subarray(0, 3)).map(String)).toEqual(['120', 'NaN', '1000450']);
    // Still the compact layout: 4 + 1 + 4 + 4 + 4 bytes a request after the header.
    const headerLength = bytes.readUInt32LE('SELLOUT-BUNDLE 1\n'.length);
    expect(bytes.length - 'SELLOUT-BUNDLE 1\n'.length - 4 - headerLength).toBe(3 * 17);
  });

  it('keep times past 71 minutes and stock beyond 32 bits exactly (wider columns)', () => {
    const scenario = scenarioParser(dir).parse(YAML);
    const plan = planFor(scenario);
    const records = newRecords(4);
    for (const [i, sent, value] of [[0, 5_000_000_000.25, 2 ** 40], [1, 7, -5]] as const) {
      const row = reserveRow(records);
      records.index[row] = i; records.sku[row] = plan.skuOf(i); records.quantity[row] = plan.quantityOf(i);
      records.outcome[row] = Code.ok; records.value[row] = value; records.sentUs[row] = sent; records.repliedUs[row] = sent + 3;
    }
    const back = decodeBundle(encodeBundle({ header: header(0, 1, [2, 0, 0, 0, 0, 0, 0], [], records), records }), plan).records;
    expect(Array.from(back.sentUs.subarray(0, 2))).toEqual([5_000_000_000.25, 7]);
    expect(Array.from(back.value.subarray(0, 2))).toEqual([2 ** 40, -5]);
  });

  it('merged from three agents, histograms equal the histogram of all samples, bucket for bucket', () => {
    const scenario = scenarioParser(dir).parse(YAML);
    const plan = planFor(scenario);
    const next = random(7);
    const all = newHistogram();
    const bundles: AgentBundle[] = [];
    for (let segment = 0; segment < 3; segment++) {
      const own = newHistogram();
      const records = newRecords(16);
      const { lane, lanes } = laneOf({ index: segment, count: 3 }, 0, 1, 'sequential');
      for (let k = 0; k < 10_000; k++) {
        // A long tail: most replies fast, a few very slow (the buckets that matter for p99.9).
        const latency = Math.floor(next() < 0.99 ? 30 + next() * 400 : 5_000 + next() * 200_000);
        own.recordValue(latency);
        all.recordValue(latency);
        const row = reserveRow(records);
        const index = lane + k * lanes;
        records.index[row] = index; records.sku[row] = plan.skuOf(index); records.quantity[row] = plan.quantityOf(index);
        records.outcome[row] = Code.ok; records.value[row] = 1; records.sentUs[row] = k; records.repliedUs[row] = k + latency;
      }
      const latencyEncoded = OUTCOMES.map((_, code) => (code === Code.ok ? encodeHistogram(own) : null));
      own.destroy();
      const counts = OUTCOMES.map((_, code) => (code === Code.ok ? records.count : 0));
      bundles.push(decodeBundle(encodeBundle({ header: header(segment, 3, counts, latencyEncoded, records), records }), plan));
    }
    const merged = mergeBundles(bundles, scenario, new Uint16Array(50));
    const ok = merged.histograms[Code.ok]!;
    try {
      expect(ok.totalCount).toBe(30_000);
      // Bucket for bucket: the same encoding (counts per bucket), the same distribution. (The exact
      // max is not in any encoding: both sides read it back as its bucket's top, as one process's workers' merge does.)
      expect(encodeHistogram(ok)).toBe(encodeHistogram(all));
      const table = (text: string) => text.split('\n').filter((line) => !line.startsWith('#[Max'));
      expect(table(ok.outputPercentileDistribution(5))).toEqual(table(all.outputPercentileDistribution(5)));
      for (const p of [50, 90, 99, 99.9, 99.99, 100]) expect(ok.getValueAtPercentile(p), `p${p}`).toBe(all.getValueAtPercentile(p));
      expect(merged.counts.ok).toBe(30_000);
      expect(merged.records.count).toBe(30_000);
      // The three lanes are the plan's indices 0..29,999, each once.
      const seen = new Uint8Array(30_000);
      for (let row = 0; row < merged.records.count; row++) seen[merged.records.index[row]!]!++;
      expect(seen.every((n) => n === 1)).toBe(true);
    } finally {
      all.destroy();
      for (const h of merged.histograms) h.destroy();
    }
  });
});
