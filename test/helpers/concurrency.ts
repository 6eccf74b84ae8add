/** The most requests that were ever outstanding at once, from the per-request records (send to reply). */
import type { RequestRecords } from '../../src/metrics/records.js';

export function maxOutstanding(records: RequestRecords, include: (row: number) => boolean = () => true): number {
  const events: [number, number][] = [];
  for (let row = 0; row < records.count; row++) {
    if (!include(row)) continue;
    events.push([records.sentUs[row]!, 1], [records.repliedUs[row]!, -1]);
  }
  // A slot freed by a reply sends again at that same instant: count the reply first.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, delta] of events) max = Math.max(max, (now += delta));
  return max;
}
