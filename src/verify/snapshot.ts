/**
 * Reads Redis's own record after a run: final stock per SKU and every journal entry, with HSCAN in
 * batches (never HGETALL/HVALS: a big journal would block the server and blow up memory). Entries
 * are parsed once and kept in columns of typed arrays.
 */
import type { Redis } from 'ioredis';
import { TargetError } from '../errors.js';
import { pipelineRetrying, type PipelineReplies } from '../redis/retry.js';
import { grown } from '../typed-arrays.js';
import { parseRequestIndex, requestIdPrefix } from '../keys.js';
import { onShard, passesOf, type ShardSet } from '../redis/shards.js';

export interface JournalColumns {
  count: number;
  sku: Uint32Array;
  /** Plan index parsed from the request ID; -1 for an ID this run never made. */
  index: Int32Array;
  /** Numeric fields of the entry; NaN where missing or not a number. */
  from: Float64Array;
  to: Float64Array;
  change: Float64Array;
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

// Reads go in rounds of pipelined commands, many SKUs per round trip: one HSCAN round trip per
// SKU, one after another, made 100,000 small journals cost seconds of waiting. A round's replies
// are held at once, so its size is bounded by the entries it can bring back, not by the SKUs.
/** SKUs per round of the first pass (GET and the journal's first page). */
const FIRST_PASS_SKUS = 500;
/** HSCAN COUNT of a journal's first page: a small journal (the many-SKU case) comes back whole. */
const FIRST_PAGE = 100;
/** HSCAN COUNT of the pages after it (a big journal, the hot-SKU case). */
const PAGE = 1000;
/** Journals continued per round after the first pass: at most about 50,000 entries per round. */
const MORE_PAGES_SKUS = 50;

/** SKUs whose stock and journal keys are both gone (what a FLUSHALL or a restart without persistence leaves). */
export function missingKeys(snapshot: Snapshot): number[] {
  const skus: number[] = [];
  for (let sku = 0; sku < snapshot.skuCount; sku++) {
    if (snapshot.finalRaw[sku] === null && snapshot.journalLength[sku] === 0) skus.push(sku);
  }
  return skus;
}

/**
 * One round of reads, sent as one pipeline. A read that failed is not a missing key: reporting it
 * as one would blame the script for the server (or the connection) going away. A dropped
 * connection is asked again (the whole round: every read in it is idempotent, and nothing is
 * recorded before the round succeeded).
 */
async function round(redis: Redis, shards: ShardSet, shard: number, what: string, queue: (pipeline: ReturnType<Redis['pipeline']>) => void): Promise<PipelineReplies> {
  try {
    return await pipelineRetrying(redis, queue);
  } catch (err) {
    throw new TargetError(`could not read the run's ${what} back from Redis${onShard(shards, shard)}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/**
 * Final stock and every journal entry of the run's SKUs, read from each shard in parallel (each
 * key on the primary that holds it), into columns indexed by SKU. Per shard, first pass: per SKU,
 * GET the stock and HSCAN the journal's first page, FIRST_PASS_SKUS SKUs per round trip. A journal
 * whose cursor is not 0 yet is continued in later rounds, MORE_PAGES_SKUS journals a page each per
 * round trip, with its HLEN. A journal read in one HSCAN call is exact (one command runs atomically
 * and repeats nothing), so its length is the entries read; a journal read over several calls may
 * see a field twice (the hash was resized between them), so more rows than its HLEN are repeats,
 * dropped at the end.
 */
export async function takeSnapshot(shards: ShardSet, seed: number, signal?: AbortSignal): Promise<Snapshot> {
  const { skuCount, keys } = shards;
  const finalRaw: (string | null)[] = new Array(skuCount).fill(null);
  const final = new Float64Array(skuCount).fill(NaN);
  const journalLength = new Uint32Array(skuCount);
  const rowsRead = new Uint32Array(skuCount);
  // Room for a few entries per SKU to start with (a big journal makes room for itself once its HLEN is known).
  const journal = newJournal(Math.min(skuCount * 4, 1 << 20));
  const prefix = requestIdPrefix(seed);
  const mayRepeat: number[] = [];
  const addPage = (sku: number, flat: string[]) => {
    for (let i = 0; i + 1 < flat.length; i += 2) addEntry(journal, sku, flat[i]!, flat[i + 1]!, prefix);
    rowsRead[sku]! += flat.length >> 1;
  };

  // Shards read at once, each into the SKUs it holds (JavaScript runs one reply handler at a
  // time, so they share the columns safely); the first to fail fails the snapshot and stops the others.
  let failed = false;
  const readShard = async (shard: number) => {
    const redis = shards.admins[shard]!;
    /** Journals still being read, with the cursor to continue from: a queue, first in first continued. */
    let pending: { sku: number; cursor: string; length?: number }[] = [];
    let head = 0;
    for (const pass of passesOf(shards, shard)) {
      for (let start = 0; start < pass.skus.length; start += FIRST_PASS_SKUS) {
        signal?.throwIfAborted();
        if (failed) return;
        const batch = pass.skus.subarray(start, Math.min(pass.skus.length, start + FIRST_PASS_SKUS));
        const replies = await round(redis, shards, shard, 'keys', (pipeline) => {
          for (const sku of batch) {
            if (pass.stock) pipeline.get(keys.stock(sku));
            if (pass.journal) pipeline.hscan(keys.journal(sku), '0', 'COUNT', FIRST_PAGE);
          }
        });
        let at = 0;
        for (const sku of batch) {
          if (pass.stock) {
            const text = replies[at++]![1] as string | null;
            finalRaw[sku] = text;
            final[sku] = parseStock(text);
          }
          if (!pass.journal) continue;
          const [cursor, flat] = replies[at++]![1] as [string, string[]];
          addPage(sku, flat);
          if (cursor === '0') journalLength[sku] = rowsRead[sku]!;
          else pending.push({ sku, cursor });
        }
      }
    }

    while (head < pending.length) {
      signal?.throwIfAborted();
      if (failed) return;
      const batch = pending.slice(head, head + MORE_PAGES_SKUS);
      head += batch.length;
      const replies = await round(redis, shards, shard, 'journal', (pipeline) => {
        for (const { sku, cursor, length } of batch) {
          const key = keys.journal(sku);
          if (length === undefined) pipeline.hlen(key);
          pipeline.hscan(key, cursor, 'COUNT', PAGE);
        }
      });
      let at = 0;
      for (const item of batch) {
        let length = item.length;
        if (length === undefined) {
          length = Number(replies[at++]![1] ?? 0);
          // A big journal: make room for the rest of it at once rather than doubling the columns as it comes.
          growJournal(journal, journal.count + Math.max(0, length - rowsRead[item.sku]!));
        }
        const [cursor, flat] = replies[at++]![1] as [string, string[]];
        addPage(item.sku, flat);
        if (cursor !== '0') {
          pending.push({ sku: item.sku, cursor, length });
          continue;
        }
        journalLength[item.sku] = length;
        if (rowsRead[item.sku]! > length) mayRepeat.push(item.sku);
      }
      // Drop what was read from the front now and then, so the queue stays as long as what is left.
      if (head > 4096 && head * 2 > pending.length) {
        pending = pending.slice(head);
        head = 0;
      }
    }
  };
  await Promise.all(shards.admins.map((_, shard) => readShard(shard).catch((err: unknown) => {
    failed = true;
    throw err;
  })));
  // More rows than HLEN can only be repeats (a hash field is unique); checking the count keeps the common case free.
  if (mayRepeat.length > 0) dropRepeats(journal, prefix, new Set(mayRepeat));
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
    journal.from[row] = journal.to[row] = journal.change[row] = NaN;
    journal.byMatches[row] = 0;
    return;
  }
  journal.from[row] = numeric(entry['from']);
  journal.to[row] = numeric(entry['to']);
  journal.change[row] = numeric(entry['change']);
  journal.byMatches[row] = entry['by'] === id ? 1 : 0;
}

/** The seed script writes `from` and `change` as strings and `to` as a number: accept both. */
function numeric(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  return NaN;
}

/**
 * Removes the rows of the given SKUs whose request ID that SKU's journal already gave (HSCAN can
 * return a field twice): keeps the first, compacts the columns and the evidence maps.
 */
export function dropRepeats(journal: JournalColumns, prefix: string, skus: ReadonlySet<number>): void {
  const seen = new Set<string>();
  const foreign = new Map<number, string>();
  const unparsable = new Map<number, string>();
  let out = 0;
  for (let row = 0; row < journal.count; row++) {
    const index = journal.index[row]!;
    const sku = journal.sku[row]!;
    const id = index >= 0 ? `${prefix}${index}` : journal.foreign.get(row)!;
    if (skus.has(sku)) {
      const key = `${sku} ${id}`;
      if (seen.has(key)) continue;
      seen.add(key);
    }
    if (index < 0) foreign.set(out, id);
    const raw = journal.unparsable.get(row);
    if (raw !== undefined) unparsable.set(out, raw);
    journal.sku[out] = sku;
    journal.index[out] = index;
    journal.from[out] = journal.from[row]!;
    journal.to[out] = journal.to[row]!;
    journal.change[out] = journal.change[row]!;
    journal.byMatches[out] = journal.byMatches[row]!;
    out++;
  }
  journal.foreign = foreign;
  journal.unparsable = unparsable;
  journal.count = out;
}

/** Makes room for at least `capacity` rows (twice the current room when no capacity is asked). */
function growJournal(journal: JournalColumns, capacity = journal.sku.length * 2): void {
  if (capacity <= journal.sku.length) return;
  const n = capacity;
  journal.sku = grown(journal.sku, n);
  journal.index = grown(journal.index, n);
  journal.from = grown(journal.from, n);
  journal.to = grown(journal.to, n);
  journal.change = grown(journal.change, n);
  journal.byMatches = grown(journal.byMatches, n);
}
