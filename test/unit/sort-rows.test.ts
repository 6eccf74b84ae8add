/**
 * The verification's row sort gives exactly what a typed array's sort with the comparator it
 * replaced gives: the same order, ties in their original order (stable). Keys are finite (the
 * chain sorts numeric rows only; times are numbers): with NaN a comparator is no consistent order,
 * and two correct algorithms may disagree.
 */
import { describe, expect, it } from 'vitest';
import { sortRowsBy } from '../../src/verify/sort-rows.js';

/** A small deterministic generator (xorshift). */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function column(n: number, next: () => number, distinct: number): Float64Array {
  return Float64Array.from({ length: n }, () => Math.floor(next() * distinct) - distinct / 4 + (next() < 0.1 ? 0.5 : 0));
}

describe('sortRowsBy', () => {
  it('orders like the comparator sort at every size, with ties and a second key', () => {
    const next = random(7);
    for (const n of [0, 1, 2, 3, 31, 32, 33, 63, 64, 65, 100, 257, 1000, 4099]) {
      for (const distinct of [2, 10, n * 4 + 1]) {
        const key = column(n * 2, next, distinct);
        const then = column(n * 2, next, 3);
        // Rows are a subset of the columns' rows, not in order.
        const rows = Uint32Array.from({ length: n }, () => Math.floor(next() * n * 2));
        const asc = rows.slice().sort((a, b) => key[a]! - key[b]!);
        expect([...sortRowsBy(rows.slice(), key)], `n ${n}, ${distinct} values, ascending`).toEqual([...asc]);
        const desc = rows.slice().sort((a, b) => key[b]! - key[a]! || then[b]! - then[a]!);
        expect([...sortRowsBy(rows.slice(), key, { descending: true, then })], `n ${n}, ${distinct} values, descending then`).toEqual([...desc]);
      }
    }
  });

  it('sorts in place a subarray of a larger array, leaving the rest alone', () => {
    const key = Float64Array.from([5, 4, 3, 2, 1, 0]);
    const all = Uint32Array.from([9, 0, 1, 2, 3, 4, 5, 9]);
    sortRowsBy(all.subarray(1, 7), key);
    expect([...all]).toEqual([9, 5, 4, 3, 2, 1, 0, 9]);
    // Long enough for the merge passes (ends in the scratch array, copied back).
    const big = Float64Array.from({ length: 100 }, (_, i) => 100 - i);
    const rows = Uint32Array.from({ length: 102 }, (_, i) => (i === 0 || i === 101 ? 7 : i - 1));
    sortRowsBy(rows.subarray(1, 101), big);
    expect(rows[0]).toBe(7);
    expect(rows[101]).toBe(7);
    expect([...rows.subarray(1, 101)]).toEqual(Array.from({ length: 100 }, (_, i) => 99 - i));
  });
});
