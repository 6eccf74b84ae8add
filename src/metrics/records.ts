/**
 * Per-request records in typed arrays (not objects): one row per request sent, ~37 bytes, so a
 * million requests cost ~37 MB and cross a worker boundary without a copy per request.
 */
import { NOT_SENT } from '../outcomes.js';
import { grown } from '../typed-arrays.js';

export interface RequestRecords {
  /** Rows in use. */
  count: number;
  /** Plan index of the request (its ID is `DEC-<seed>-<index>`; a twin repeats its original's index). */
  index: Uint32Array;
  sku: Uint32Array;
  quantity: Uint32Array;
  /** Outcome code (outcomes.ts), NOT_SENT for a row that was reserved but never sent. */
  outcome: Uint8Array;
  /** 1 when the row is the second send of its ID (a duplicate twin). */
  twin: Uint8Array;
  /** The ok reply (new stock); NaN for other outcomes. */
  value: Float64Array;
  /** Microseconds since the run's t0: when the request was written, and when its reply arrived. */
  sentUs: Float64Array;
  repliedUs: Float64Array;
}

export function newRecords(capacity = 1024): RequestRecords {
  return {
    count: 0,
    index: new Uint32Array(capacity),
    sku: new Uint32Array(capacity),
    quantity: new Uint32Array(capacity),
    outcome: new Uint8Array(capacity).fill(NOT_SENT),
    twin: new Uint8Array(capacity),
    value: new Float64Array(capacity).fill(NaN),
    sentUs: new Float64Array(capacity),
    repliedUs: new Float64Array(capacity),
  };
}

/** Reserves one row and returns its number, doubling the arrays when full. */
export function reserveRow(records: RequestRecords): number {
  if (records.count === records.index.length) growRecords(records, records.index.length * 2);
  return records.count++;
}

function growRecords(records: RequestRecords, capacity: number): void {
  records.index = grown(records.index, capacity);
  records.sku = grown(records.sku, capacity);
  records.quantity = grown(records.quantity, capacity);
  records.outcome = grown(records.outcome, capacity, NOT_SENT);
  records.twin = grown(records.twin, capacity);
  records.value = grown(records.value, capacity, NaN);
  records.sentUs = grown(records.sentUs, capacity);
  records.repliedUs = grown(records.repliedUs, capacity);
}

/**
 * Concatenates the records of several workers into one table. One worker's records are taken as
 * they are (views of its first `count` rows, no copy): a copy of 38 bytes a request was a fifth of
 * a large run's peak memory, next to the worker's own.
 */
export function concatRecords(parts: readonly RequestRecords[]): RequestRecords {
  if (parts.length === 1) {
    const p = parts[0]!;
    const n = p.count;
    return {
      count: n,
      index: p.index.subarray(0, n),
      sku: p.sku.subarray(0, n),
      quantity: p.quantity.subarray(0, n),
      outcome: p.outcome.subarray(0, n),
      twin: p.twin.subarray(0, n),
      value: p.value.subarray(0, n),
      sentUs: p.sentUs.subarray(0, n),
      repliedUs: p.repliedUs.subarray(0, n),
    };
  }
  const total = parts.reduce((n, p) => n + p.count, 0);
  const out = newRecords(Math.max(1, total));
  for (const part of parts) {
    const at = out.count;
    const n = part.count;
    out.index.set(part.index.subarray(0, n), at);
    out.sku.set(part.sku.subarray(0, n), at);
    out.quantity.set(part.quantity.subarray(0, n), at);
    out.outcome.set(part.outcome.subarray(0, n), at);
    out.twin.set(part.twin.subarray(0, n), at);
    out.value.set(part.value.subarray(0, n), at);
    out.sentUs.set(part.sentUs.subarray(0, n), at);
    out.repliedUs.set(part.repliedUs.subarray(0, n), at);
    out.count += n;
  }
  return out;
}
