/**
 * The series' stock lines come from the script's own answers (an ok reply is the new stock), not
 * from reads of Redis during the load: the lowest ok reply of a SKU in each interval, carried
 * forward, the seeded stock before the first.
 */
import { describe, expect, it } from 'vitest';
import { stockFromReplies } from '../../src/metrics/stock-line.js';
import { newRecords, reserveRow, type RequestRecords } from '../../src/metrics/records.js';
import { Code, type OutcomeCode } from '../../src/outcomes.js';

function records(rows: [sku: number, code: OutcomeCode, value: number, repliedUs: number][]): RequestRecords {
  const r = newRecords(4);
  rows.forEach(([sku, code, value, repliedUs], i) => {
    const row = reserveRow(r);
    r.index[row] = i;
    r.sku[row] = sku;
    r.quantity[row] = 1;
    r.outcome[row] = code;
    r.value[row] = value;
    r.sentUs[row] = Math.max(0, repliedUs - 100);
    r.repliedUs[row] = repliedUs;
  });
  return r;
}

describe('the stock line from the replies', () => {
  it('is the lowest ok reply in each interval, carried forward, and the seeded stock before the first', () => {
    const r = records([
      // Out of time order, as several workers' records are after the merge.
      [0, Code.ok, 7, 150_000], // interval 1
      [0, Code.ok, 8, 20_000], // interval 0
      [0, Code.ok, 9, 90_000], // interval 0, read later on another connection than the 8 that ran after it: 8
      [5, Code.ok, 3, 250_000], // interval 2
      [0, Code.sold_out, NaN, 260_000], // not an ok reply: no stock in it
      [0, Code.ok, NaN, 270_000], // an ok reply without a stock (HTTP without a stock field): skipped
      [9, Code.ok, 1, 10_000], // a SKU not on the line
    ]);
    expect(stockFromReplies(r, [0, 5], 10, 100, 4)).toEqual([
      [8, 10],
      [7, 10],
      [7, 3],
      [7, 3],
    ]);
  });

  it('counts replies after the last interval in the last one; a stock restored between intervals shows', () => {
    const r = records([
      [2, Code.ok, 4, 100_000],
      [2, Code.ok, 3, 100_000],
      [2, Code.ok, 0, 999_000],
    ]);
    expect(stockFromReplies(r, [2], null, 100, 2)).toEqual([[null], [0]]);
    expect(stockFromReplies(r, [2], null, 1000, 1)).toEqual([[0]]);
    // A restart restored an older stock in interval 1: the line goes back up with the replies.
    expect(stockFromReplies(records([[2, Code.ok, 3, 50_000], [2, Code.ok, 6, 150_000], [2, Code.ok, 5, 160_000]]), [2], 10, 100, 2)).toEqual([[3], [5]]);
  });
});
