/** The typed arrays that hold per-request records and journal columns. */
export type Column = Uint8Array | Uint32Array | Int32Array | Float64Array;

/** A copy of `old` in a new array of the same type and `capacity` elements; the rest is `fill` (0 by default). */
export function grown<T extends Column>(old: T, capacity: number, fill?: number): T {
  const next = new (old.constructor as new (n: number) => T)(capacity);
  if (fill !== undefined) next.fill(fill);
  next.set(old);
  return next;
}
