/**
 * The series' stock line from the script's own answers: an ok reply is the new stock, so the stock
 * of a SKU at an interval's end is the lowest ok reply of that SKU received in the interval,
 * carried forward through intervals without one; the initial stock before the SKU's first.
 * The lowest, not the last received: replies on different connections arrive out of the order
 * they ran in (a reply of 7 read after a reply of 0), and within an interval the stock only falls.
 * Across intervals the line follows the replies, so a restart that restored an older stock shows.
 *
 * Reading the stock keys from Redis at every interval's end instead cost the main thread about
 * 0.3 ms a read (ioredis, cold caches ten times a second): on a two-core machine that burst
 * competed with the load thread and the server, and every interval's first replies came late
 * (the 1x1 p99.9 doubled). The replies cost nothing during the load. A sold-out timeline uses the
 * same answers (summary `soldOutMs`). Where replies carry no stock (HTTP mode without
 * `http.stockField`) the sampler still reads Redis at each interval's end.
 */
import { Code } from '../outcomes.js';
import type { RequestRecords } from './records.js';

/**
 * `stock[n][i]`: SKU `skus[i]`'s stock at the end of interval n (0 .. intervals - 1), from the ok
 * replies in `records` (`initial`, the stock the run seeded, before the first); replies after the
 * last interval's end count in the last one (it is partial).
 */
export function stockFromReplies(records: RequestRecords, skus: readonly number[], initial: number | null, intervalMs: number, intervals: number): (number | null)[][] {
  const column = new Map<number, number>(skus.map((sku, i) => [sku, i]));
  const intervalUs = intervalMs * 1000;
  const lowest = Array.from({ length: intervals }, () => new Float64Array(skus.length).fill(Infinity));
  const { outcome, sku, repliedUs, value } = records;
  for (let row = 0; row < records.count; row++) {
    if (outcome[row] !== Code.ok) continue;
    const i = column.get(sku[row]!);
    const v = value[row]!;
    if (i === undefined || !Number.isFinite(v)) continue;
    const n = Math.min(intervals - 1, Math.max(0, Math.floor(repliedUs[row]! / intervalUs)));
    if (v < lowest[n]![i]!) lowest[n]![i] = v;
  }
  const current: (number | null)[] = skus.map(() => initial);
  return lowest.map((row) => {
    row.forEach((v, i) => { if (v !== Infinity) current[i] = v; });
    return [...current];
  });
}
