/** What the load saw at each SKU: requests, ok, when it sold out, its ok p99; the ranks and the sell-out timeline. */
import { describe, expect, it } from 'vitest';
import { newRecords, reserveRow, type RequestRecords } from '../../src/metrics/records.js';
import { Code, NOT_SENT, type OutcomeCode } from '../../src/outcomes.js';
import { renderSkusCsv } from '../../src/report/skus-csv.js';
import { skuRanksOf, soldOutSeries } from '../../src/summary/skus.js';
import { skuLoadOf, skuTableOf } from '../../src/verify/sku-table.js';

/** One reply: SKU, outcome, new stock (ok only), sent and replied in ms since t0. */
type Reply = [sku: number, code: OutcomeCode, value: number, sentMs: number, repliedMs: number];

function recordsOf(replies: Reply[]): RequestRecords {
  const r = newRecords(2);
  replies.forEach(([sku, code, value, sentMs, repliedMs], i) => {
    const row = reserveRow(r);
    r.index[row] = i;
    r.sku[row] = sku;
    r.quantity[row] = 1;
    r.outcome[row] = code;
    r.value[row] = code === Code.ok ? value : NaN;
    r.sentUs[row] = sentMs * 1000;
    r.repliedUs[row] = repliedMs * 1000;
  });
  return r;
}

describe('per-SKU load figures', () => {
  // SKU 0 reaches 0 at 5 ms; SKU 1 keeps 1 unit but refuses at 7 ms (a larger quantity); SKU 2 never sells out.
  const replies: Reply[] = [
    [0, Code.ok, 1, 1, 2],
    [0, Code.sold_out, NaN, 3, 4], // a refusal before the zero (the other request raced it) does not win over the zero
    [0, Code.ok, 0, 4, 5],
    [0, Code.sold_out, NaN, 6, 6.5],
    [1, Code.ok, 1, 1, 1.5],
    [1, Code.sold_out, NaN, 6, 7],
    [1, Code.sold_out, NaN, 7, 9],
    [2, Code.ok, 9, 2, 3],
    [2, Code.error, NaN, 2, 3],
  ];

  it('counts requests and ok replies, takes the sell-out from the ok that left 0, else the first sold_out reply', () => {
    const records = recordsOf(replies);
    // A reserved row never sent is not a request.
    records.outcome[reserveRow(records)] = NOT_SENT;
    const load = skuLoadOf(records, 3);
    expect(Array.from(load.requests)).toEqual([4, 3, 2]);
    expect(Array.from(load.ok)).toEqual([2, 1, 1]);
    expect(Array.from(load.soldOutMs)).toEqual([5, 7, NaN]);
    // Nearest-rank p99 of the ok replies (write to reply): SKU 0's are 1 ms and 1 ms.
    expect(Array.from(load.okP99Us)).toEqual([1000, 500, 1000]);
  });

  it('takes the p99 by nearest rank over each SKU alone', () => {
    // SKU 0: 200 ok replies of 1..200 ms; SKU 1: one slow reply of 50 ms.
    const many: Reply[] = Array.from({ length: 200 }, (_, i) => [0, Code.ok, 200 - i - 1, 0, i + 1] as Reply);
    many.push([1, Code.ok, 3, 0, 50]);
    const load = skuLoadOf(recordsOf(many), 2);
    expect(load.okP99Us[0]).toBe(198_000);
    expect(load.okP99Us[1]).toBe(50_000);
    expect(load.soldOutMs[0]).toBe(200);
  });

  it('ranks the first to sell out and the slowest, bounded, and lists them in skus.csv', () => {
    const table = skuTableOf(3, 2, undefined, undefined, recordsOf(replies));
    const ranks = skuRanksOf(table, 2)!;
    expect(ranks.soldOut).toBe(2);
    expect(ranks.firstSoldOutMs).toBe(5);
    expect(ranks.lastSoldOutMs).toBe(7);
    expect(ranks.firstSoldOut.map((k) => [k.sku, k.soldOutMs])).toEqual([[0, 5], [1, 7]]);
    // Ties on p99 go to the lower SKU; at most 2 listed.
    expect(ranks.slowest.map((k) => [k.sku, k.okP99Us])).toEqual([[0, 1000], [2, 1000]]);
    expect(ranks.slowest[1]).toMatchObject({ requests: 2, ok: 1, soldOutMs: null });
    const csv = renderSkusCsv(table).trimEnd().split('\n');
    expect(csv.slice(1)).toEqual([',4,2,5,1000', ',3,1,7,500', ',2,1,,1000'].map((tail, sku) => `${sku},2,,0,${tail}`));
    // Without the load's records there is nothing to rank.
    expect(skuRanksOf(skuTableOf(3, 2, undefined, undefined))).toBeUndefined();
  });

  it('counts the SKUs sold out by the end of each interval', () => {
    const load = skuLoadOf(recordsOf(replies), 3);
    expect(soldOutSeries(load, [0, 5, 10], 5)).toEqual([0, 2, 2]);
    expect(soldOutSeries(load, [0, 2, 4, 6], 2)).toEqual([0, 0, 1, 2]);
  });
});
