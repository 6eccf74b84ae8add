/**
 * Sorts rows (indices into typed-array columns) by a column's value, stably, in place: what
 * `rows.sort((a, b) => key[a] - key[b] || then[a] - then[b])` does (ties keep their order; keys
 * are finite: with NaN no comparator is a consistent order), but without its cost. A typed array's
 * sort with a comparator copies every element into a temporary JavaScript array and calls the
 * comparator about n log n times: at a million requests the verification's four such sorts took
 * about a second of CPU and left 8 bytes per row of garbage each (the run's peak memory). Here: an
 * insertion sort for short runs, then a bottom-up merge sort through one scratch array of the
 * rows (4 bytes per row), comparisons inline.
 */

/** Runs up to this long are insertion-sorted (also the whole sort of a short list: many SKUs, few rows each). */
const RUN = 32;

export interface SortOrder {
  /** Largest first (default: smallest first). */
  readonly descending?: boolean;
  /** Second key, same direction, for rows whose first keys compare equal (or NaN). */
  readonly then?: Float64Array;
}

export function sortRowsBy(rows: Uint32Array, key: Float64Array, order: SortOrder = {}): Uint32Array {
  const n = rows.length;
  if (n < 2) return rows;
  const sign = order.descending ? -1 : 1;
  const then = order.then;
  // before(x, y) < 0: row x goes first. One function per shape, so the calls below stay monomorphic.
  const before = then === undefined ? byKey(key, sign) : byKeyThen(key, then, sign);
  for (let start = 0; start < n; start += RUN) insertionSort(rows, start, Math.min(n, start + RUN), before);
  if (n <= RUN) return rows;
  let from: Uint32Array = rows;
  let to: Uint32Array = new Uint32Array(n);
  for (let width = RUN; width < n; width *= 2) {
    for (let left = 0; left < n; left += 2 * width) {
      const mid = Math.min(n, left + width);
      const right = Math.min(n, left + 2 * width);
      // Runs already in order (send times of one SKU mostly are): a copy, not a merge.
      if (mid >= right || before(from[mid]!, from[mid - 1]!) >= 0) {
        to.set(from.subarray(left, right), left);
        continue;
      }
      let i = left;
      let j = mid;
      let k = left;
      // Stable: on a tie the left run's row goes first.
      while (i < mid && j < right) to[k++] = before(from[j]!, from[i]!) < 0 ? from[j++]! : from[i++]!;
      while (i < mid) to[k++] = from[i++]!;
      while (j < right) to[k++] = from[j++]!;
    }
    const swap = from;
    from = to;
    to = swap;
  }
  if (from !== rows) rows.set(from);
  return rows;
}

type Before = (x: number, y: number) => number;

function byKey(key: Float64Array, sign: number): Before {
  return (x, y) => sign * (key[x]! - key[y]!);
}

function byKeyThen(key: Float64Array, then: Float64Array, sign: number): Before {
  return (x, y) => sign * (key[x]! - key[y]! || then[x]! - then[y]!);
}

/** Stable: a row moves left only past rows strictly after it. */
function insertionSort(rows: Uint32Array, start: number, end: number, before: Before): void {
  for (let i = start + 1; i < end; i++) {
    const row = rows[i]!;
    let j = i - 1;
    while (j >= start && before(row, rows[j]!) < 0) {
      rows[j + 1] = rows[j]!;
      j--;
    }
    rows[j + 1] = row;
  }
}
