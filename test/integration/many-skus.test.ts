/**
 * Many SKUs through runScenario on a real redis-server: summary.json stays bounded whatever the SKU
 * count (the few SKUs most worth a look and the totals), skus.csv has one row per SKU and agrees
 * with what Redis holds, and the summary fits its schema.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journalKey, stockKey } from '../../src/keys.js';
import { renderOutputs } from '../../src/report/registry.js';
import { SKUS_CSV_HEADER } from '../../src/report/skus-csv.js';
import { removeRunKeys } from '../../src/redis/seed.js';
import { runScenario, type RunOutput } from '../../src/run.js';
import { parseScenario } from '../../src/scenario/load.js';
import { MAX_LISTED_SKUS } from '../../src/summary/skus.js';
import { summarySchema } from '../../src/summary/summary.js';
import { ROOT } from '../helpers/cli.js';
import { runShards, startTestRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
const kept: { runId: string; skus: number }[] = [];
beforeAll(async () => { redis = await startTestRedis(); });
afterAll(async () => {
  for (const { runId, skus } of kept) await removeRunKeys(runShards(redis.client, runId, skus));
  await redis?.stop();
});

/** The same sale over `skus` SKUs: 60,000 requests of 1-2 units, 2 units per SKU (so SKUs sell out). */
async function sale(skus: number): Promise<RunOutput> {
  const s = parseScenario(
    `name: many\nscript: ../lua/deduct.lua\nseed: 9\nskus: {count: ${skus}, stock: 2}\nquantity: {1: 0.7, 2: 0.3}\nrequests: 60000\nload: {connections: 8, inFlight: 8, workers: 1}\n`,
    `${ROOT}/test/many.yaml`,
    { cwd: ROOT },
  );
  const out = await runScenario(s, { redis: redis.url, keep: true });
  kept.push({ runId: out.summary.run.id, skus });
  return out;
}

const jsonOf = (out: RunOutput) => renderOutputs({ ...out }, ['summary'])[0]!.content;

describe('many SKUs', () => {
  let few: RunOutput;
  let many: RunOutput;
  beforeAll(async () => {
    few = await sale(30);
    many = await sale(30_000);
  }, 180_000);

  it('summary.json is bounded: at most MAX_LISTED_SKUS SKUs and their totals, the same size at 30 and 30,000 SKUs', () => {
    for (const out of [few, many]) {
      expect(out.summary.status).toBe('pass');
      expect(summarySchema.safeParse(out.summary).success).toBe(true);
    }
    expect(many.summary.skus).toHaveLength(MAX_LISTED_SKUS);
    expect(few.summary.skus).toHaveLength(MAX_LISTED_SKUS);
    expect(many.summary.skuTotals).toMatchObject({ count: 30_000, listed: MAX_LISTED_SKUS, initial: 60_000, unreadable: 0, failing: 0 });
    // What depends on the SKU count is fixed in size; the rest (series, latencies) does not depend on it.
    const skuPart = (out: RunOutput) => JSON.stringify({ skus: out.summary.skus, skuTotals: out.summary.skuTotals }).length;
    expect(skuPart(many)).toBeLessThan(3000);
    expect(Math.abs(skuPart(many) - skuPart(few))).toBeLessThan(400);
    const size = jsonOf(many).length;
    expect(size).toBeLessThan(200_000);
    expect(Math.abs(size - jsonOf(few).length)).toBeLessThan(8000);
  });

  it('the listed SKUs are the lowest final stock, most journal entries first', () => {
    const finals = many.summary.skus.map((k) => k.final as number);
    expect(finals).toEqual([...finals].sort((a, b) => a - b));
    expect(finals[0]).toBe(0);
  });

  it('skus.csv has one row per SKU, each as Redis holds it, and the totals add it up', async () => {
    const csv = renderOutputs({ ...many }, ['skus'])[0]!.content.trimEnd().split('\n');
    expect(csv[0]).toBe(SKUS_CSV_HEADER);
    expect(csv).toHaveLength(1 + 30_000);
    const runId = many.summary.run.id;
    let final = 0;
    let journal = 0;
    for (let start = 0; start < 30_000; start += 1000) {
      const p = redis.client.pipeline();
      for (let sku = start; sku < start + 1000; sku++) p.get(stockKey(runId, sku)).hlen(journalKey(runId, sku));
      const replies = (await p.exec())!;
      for (let sku = start; sku < start + 1000; sku++) {
        const stock = replies[(sku - start) * 2]![1] as string;
        const length = replies[(sku - start) * 2 + 1]![1] as number;
        expect(csv[1 + sku]!.startsWith(`${sku},2,${stock},${length},0,`)).toBe(true);
        final += Number(stock);
        journal += length;
      }
    }
    expect(many.summary.skuTotals).toMatchObject({ final, journal, sold: 60_000 - final });
  });

  it('skus.csv and skuRanks say what the load saw at each SKU: requests, ok, when it sold out, its ok p99', () => {
    const rows = renderOutputs({ ...many }, ['skus'])[0]!.content.trimEnd().split('\n').slice(1).map((line) => line.split(','));
    const column = (name: string) => SKUS_CSV_HEADER.split(',').indexOf(name);
    const sum = (name: string) => rows.reduce((n, r) => n + Number(r[column(name)]), 0);
    expect(sum('requests')).toBe(many.summary.requests);
    expect(sum('ok')).toBe(many.summary.outcomes.ok);
    // Stock 2 and quantities of 1-2: a SKU at 0 sold out by an ok reply; one left at 1 may have refused a 2.
    for (const r of rows) {
      if (r[column('final')] === '0') expect(Number(r[column('sold_out_ms')])).toBeGreaterThan(0);
      if (r[column('ok')] === '0') expect(r[column('ok_p99_us')]).toBe('');
      else expect(Number(r[column('ok_p99_us')])).toBeGreaterThan(0);
    }
    const soldOut = rows.filter((r) => r[column('sold_out_ms')] !== '').map((r) => ({ sku: Number(r[0]), at: Number(r[column('sold_out_ms')]) }));
    soldOut.sort((a, b) => a.at - b.at || a.sku - b.sku);
    const ranks = many.summary.skuRanks!;
    expect(ranks.soldOut).toBe(soldOut.length);
    expect(ranks.soldOut).toBeGreaterThanOrEqual(many.summary.skuTotals!.soldOut);
    // skus.csv gives times in ms to three decimals: two SKUs that sold out within a microsecond tie
    // there, in either order. The ten listed are the ten earliest: compare each one's time.
    const atOf = new Map(soldOut.map((k) => [k.sku, k.at]));
    expect(ranks.firstSoldOut.map((k) => atOf.get(k.sku))).toEqual(soldOut.slice(0, 10).map((k) => k.at));
    expect(ranks.firstSoldOutMs).toBe(soldOut[0]!.at);
    expect(ranks.lastSoldOutMs).toBe(soldOut.at(-1)!.at);
    const p99s = ranks.slowest.map((k) => k.okP99Us!);
    expect(p99s).toHaveLength(10);
    expect(p99s).toEqual([...p99s].sort((a, b) => b - a));
    expect(Math.max(...rows.map((r) => Number(r[column('ok_p99_us')] || 0)))).toBe(p99s[0]);
    // The sell-out timeline ends at every SKU that sold out.
    expect(many.summary.series!.soldOut!.at(-1)).toBe(ranks.soldOut);
  });
});
