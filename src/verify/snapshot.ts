/**
 * Reads Redis's own record after a run: final stock per SKU and every journal entry, with HSCAN in
 * batches (never HGETALL/HVALS: a big journal would block the server and blow up memory). Entries
 * are parsed once and kept in columns of typed arrays.
 */
import type { Redis } from 'ioredis';
import { TargetError } from '../errors.js';
import { firstPipelineError, retrying } from '../redis/retry.js';
import { grown } from '../typed-arrays.js';
import { journalKey, parseRequestIndex, requestIdPrefix, stockKey } from '../keys.js';

export interface JournalColumns {
  count: number;
  sku: Uint32Array;
  /** Plan index parsed from the request ID; -1 for an ID this run never made. */
  index: Int32Array;
  /** Numeric fields of the entry; NaN where missing or not a number. */
  from: Float64Array;
  to: Float64Array;
  change: Float64Array;
  timestamp: Float64Array;
  /** 1 when the entry is a JSON object whose `by` equals its hash field (the request ID). */
  byMatches: Uint8Array;
  /** Request IDs (hash fields) of the rows whose index is -1, and raw text of unparseable entries. */
  foreign: Map<number, string>;
  unparsable: Map<number, string>;
}

export interface Snapshot {
  readonly skuCount: number;
  /** Stock as stored (null when the key is missing). */
  readonly finalRaw: (string | null)[];
  /** Stock as a number when it is an integer string, else NaN. */
  readonly final: Float64Array;
  readonly journalLength: Uint32Array;
  readonly journal: JournalColumns;
}

const SCAN_COUNT = 1000;
const PIPELINE_BATCH = 500;

/** SKUs whose stock and journal keys are both gone (what a FLUSHALL or a restart without persistence leaves). */
export function missingKeys(snapshot: Snapshot): number[] {
  const skus: number[] = [];
  for (let sku = 0; sku < snapshot.skuCount; sku++) {
    if (snapshot.finalRaw[sku] === null && snapshot.journalLength[sku] === 0) skus.push(sku);
  }
  return skus;
}

export async function takeSnapshot(redis: Redis, runId: string, skuCount: number, seed: number, signal?: AbortSignal): Promise<Snapshot> {
  const finalRaw: (string | null)[] = new Array(skuCount).fill(null);
  const final = new Float64Array(skuCount).fill(NaN);
  const journalLength = new Uint32Array(skuCount);
  for (let start = 0; start < skuCount; start += PIPELINE_BATCH) {
    signal?.throwIfAborted();
    const end = Math.min(skuCount, start + PIPELINE_BATCH);
    // A read that failed is not a missing key: reporting it as one would blame the script for
    // the server (or the connection) going away. A dropped connection is asked again.
    let replies: [Error | null, unknown][];
    try {
      replies = await retrying(async () => {
        const pipeline = redis.pipeline();
        for (let sku = start; sku < end; sku++) pipeline.get(stockKey(runId, sku)).hlen(journalKey(runId, sku));
        const out = await pipeline.exec();
        const err = firstPipelineError(out);
        if (err) throw err;
        return out!;
      }, redis);
    } catch (err) {
      throw new TargetError(`could not read the run's keys back from Redis: ${(err as Error).message.split('\n')[0]}`);
    }
    for (let sku = start; sku < end; sku++) {
      const [, raw] = replies[(sku - start) * 2]!;
      const [, len] = replies[(sku - start) * 2 + 1]!;
      const text = raw as string | null;
      finalRaw[sku] = text;
      final[sku] = parseStock(text);
      journalLength[sku] = Number(len ?? 0);
    }
  }
  const total = journalLength.reduce((a, b) => a + b, 0);
  const journal = newJournal(total);
  const prefix = requestIdPrefix(seed);
  for (let sku = 0; sku < skuCount; sku++) {
    if (journalLength[sku] === 0) continue;
    const key = journalKey(runId, sku);
    const first = journal.count;
    let cursor = '0';
    do {
      signal?.throwIfAborted();
      const at = cursor;
      let page: [string, string[]];
      try {
        page = (await retrying(() => redis.hscan(key, at, 'COUNT', SCAN_COUNT), redis)) as [string, string[]];
      } catch (err) {
        throw new TargetError(`could not read the run's journal back from Redis: ${(err as Error).message.split('\n')[0]}`);
      }
      const [next, flat] = page;
      for (let i = 0; i + 1 < flat.length; i += 2) addEntry(journal, sku, flat[i]!, flat[i + 1]!, prefix);
      cursor = next;
    } while (cursor !== '0');
    // HSCAN may return a field twice (if the hash was resized mid-scan); a hash field is unique, so
    // more rows than HLEN can only be repeats. Checking the count keeps the common case free.
    if (journal.count - first > journalLength[sku]!) dropRepeats(journal, first, prefix);
  }
  return { skuCount, finalRaw, final, journalLength, journal };
}

/** Stock as a number when stored as an integer string (what the contract says), else NaN. */
export function parseStock(text: string | null): number {
  return text !== null && /^-?\d+$/.test(text) ? Number(text) : NaN;
}

export function newJournal(capacity: number): JournalColumns {
  const n = Math.max(1, capacity);
  return {
    count: 0,
    sku: new Uint32Array(n),
    index: new Int32Array(n),
    from: new Float64Array(n),
    to: new Float64Array(n),
    change: new Float64Array(n),
    timestamp: new Float64Array(n),
    byMatches: new Uint8Array(n),
    foreign: new Map(),
    unparsable: new Map(),
  };
}

/** Appends one entry; grows the columns if the journal grew between HLEN and HSCAN (or HSCAN repeated a field). */
export function addEntry(journal: JournalColumns, sku: number, id: string, json: string, prefix: string): void {
  if (journal.count === journal.sku.length) growJournal(journal);
  const row = journal.count++;
  journal.sku[row] = sku;
  // The index column is Int32; an index beyond it cannot be one this run sent (<= 1e8 requests): keep it as foreign.
  const parsed = parseRequestIndex(prefix, id);
  const index = parsed > 0x7fffffff ? -1 : parsed;
  journal.index[row] = index;
  if (index < 0) journal.foreign.set(row, id);
  let entry: Record<string, unknown> | undefined;
  try {
    const value: unknown = JSON.parse(json);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) entry = value as Record<string, unknown>;
  } catch {
    entry = undefined;
  }
  if (entry === undefined) {
    journal.unparsable.set(row, json.length > 200 ? `${json.slice(0, 199)}…` : json);
    journal.from[row] = journal.to[row] = journal.change[row] = journal.timestamp[row] = NaN;
    journal.byMatches[row] = 0;
    return;
  }
  journal.from[row] = numeric(entry['from']);
  journal.to[row] = numeric(entry['to']);
  journal.change[row] = numeric(entry['change']);
  journal.timestamp[row] = numeric(entry['timestamp']);
  journal.byMatches[row] = entry['by'] === id ? 1 : 0;
}

/** The seed script writes `from` and `change` as strings and `to` as a number: accept both. */
function numeric(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  return NaN;
}

/** Removes rows from `first` on whose request ID already appeared from `first` on (keeps the first). */
export function dropRepeats(journal: JournalColumns, first: number, prefix: string): void {
  const seen = new Set<string>();
  const foreign = new Map<number, string>();
  const unparsable = new Map<number, string>();
  let out = first;
  for (let row = first; row < journal.count; row++) {
    const index = journal.index[row]!;
    const id = index >= 0 ? `${prefix}${index}` : journal.foreign.get(row)!;
    if (seen.has(id)) continue;
    seen.add(id);
    if (index < 0) foreign.set(out, id);
    const raw = journal.unparsable.get(row);
    if (raw !== undefined) unparsable.set(out, raw);
    journal.sku[out] = journal.sku[row]!;
    journal.index[out] = index;
    journal.from[out] = journal.from[row]!;
    journal.to[out] = journal.to[row]!;
    journal.change[out] = journal.change[row]!;
    journal.timestamp[out] = journal.timestamp[row]!;
    journal.byMatches[out] = journal.byMatches[row]!;
    out++;
  }
  for (const [row] of journal.foreign) if (row >= first) journal.foreign.delete(row);
  for (const [row] of journal.unparsable) if (row >= first) journal.unparsable.delete(row);
  for (const [row, id] of foreign) journal.foreign.set(row, id);
  for (const [row, raw] of unparsable) journal.unparsable.set(row, raw);
  journal.count = out;
}

function growJournal(journal: JournalColumns): void {
  const n = journal.sku.length * 2;
  journal.sku = grown(journal.sku, n);
  journal.index = grown(journal.index, n);
  journal.from = grown(journal.from, n);
  journal.to = grown(journal.to, n);
  journal.change = grown(journal.change, n);
  journal.timestamp = grown(journal.timestamp, n);
  journal.byMatches = grown(journal.byMatches, n);
}
