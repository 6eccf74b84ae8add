/**
 * An agent's result bundle: everything `collect` needs to merge the agents exactly and verify
 * once, in one binary blob. Pure (encode/decode), no Redis.
 *
 * Layout: `SELLOUT-BUNDLE 1\n`, a 4-byte little-endian header length, the header (JSON: counts,
 * encoded histograms, interval reports, errors, the agent's clock), then the per-request records
 * column by column. The records are the bulk, so they are compact, about 17 bytes a request:
 *  - the plan index (u32); the SKU and quantity are not stored, the plan recomputes them from it;
 *  - outcome and twin flag in one byte;
 *  - the ok reply's stock as i32 (i32 min for "none"), or f64 when one does not fit;
 *  - send and reply times as whole microseconds from the column's earliest (u32: 71 minutes; a
 *    time a worker stamps a hair before t0 is fine), or f64 beyond that.
 *    Rounding both times the same way keeps every order the checks rely on, or makes two times
 *    equal, which the real-time checks read as "not ordered" (never a false alarm).
 * Histograms travel encoded (HdrHistogram V2) and are merged with add(): exact, never averaged.
 */
import type { RequestRecords } from '../metrics/records.js';
import type { IntervalReport } from '../metrics/interval.js';
import type { ErrorReplyCount, RefusalCode } from '../load/error-replies.js';
import type { RedirectCounts } from '../load/router.js';
import type { ServerStats } from '../redis/server-stats.js';
import type { Plan } from '../load/plan.js';
import { newRecords } from '../metrics/records.js';

const MAGIC = 'SELLOUT-BUNDLE 1\n';
const NO_VALUE = -2147483648;
const U32_MAX = 4294967295;

export interface BundleHeader {
  readonly segment: number;
  readonly agents: number;
  readonly host: string;
  readonly clockOffsetUs: number;
  readonly clockUncertaintyUs: number;
  /** t0 as a wall-clock time (ISO), as the agent saw it. */
  readonly startedAt: string;
  readonly interrupted: boolean;
  readonly workers: number;
  /** Replies per outcome code. */
  readonly counts: number[];
  /** Whole-run histograms per outcome code, encoded (null when empty): from the intended send; raw: from the actual send (open models). */
  readonly latency: (string | null)[];
  readonly latencyRaw: (string | null)[] | null;
  readonly firstSendUs: number;
  readonly lastReplyUs: number;
  readonly scheduled: number;
  readonly dropped: number;
  /** The series' intervals as the agent's workers reported them (merged, per interval number). */
  readonly intervals: IntervalReport[];
  /** Sends dropped per interval (open models). */
  readonly droppedByInterval: number[];
  /** Stock samples per interval of the busiest SKUs (sku, values by interval). */
  readonly stock: { sku: number; values: (number | null)[] }[];
  readonly connectionErrors: string[];
  readonly capped: boolean;
  readonly lostAllConnections: boolean;
  readonly loadLost?: string;
  readonly errorReplies: ErrorReplyCount[];
  readonly reconnects: number;
  readonly redirects: RedirectCounts;
  readonly routeProblems: string[];
  readonly refusals: { code: RefusalCode; reply: string }[];
  readonly busy?: string;
  readonly crashed?: string;
  /** Segment 0 only: each primary's CPU and script calls just before t0 (per-shard figures). */
  readonly statsBefore?: (ServerStats | undefined)[];
}

export interface AgentBundle {
  readonly header: BundleHeader;
  readonly records: RequestRecords;
}

type Column = 'u32' | 'i32' | 'f64';

interface Layout {
  readonly count: number;
  readonly value: Column;
  readonly sent: Column;
  readonly replied: Column;
  /** u32 time columns: whole microseconds from this (the column's earliest, rounded). */
  readonly sentBase?: number;
  readonly repliedBase?: number;
}

export function encodeBundle(bundle: AgentBundle): Buffer {
  const { records } = bundle;
  const n = records.count;
  const sentBase = timeBase(records.sentUs, n);
  const repliedBase = timeBase(records.repliedUs, n);
  const layout: Layout = {
    count: n,
    value: fits(records.value, n, (v) => Number.isNaN(v) || (Number.isInteger(v) && v > NO_VALUE && v <= 2147483647)) ? 'i32' : 'f64',
    sent: sentBase !== undefined ? 'u32' : 'f64',
    replied: repliedBase !== undefined ? 'u32' : 'f64',
    ...(sentBase !== undefined ? { sentBase } : {}),
    ...(repliedBase !== undefined ? { repliedBase } : {}),
  };
  const header = Buffer.from(JSON.stringify({ ...bundle.header, layout }), 'utf8');
  const width = (c: Column) => (c === 'f64' ? 8 : 4);
  const size = Buffer.byteLength(MAGIC) + 4 + header.length + n * (4 + 1 + width(layout.value) + width(layout.sent) + width(layout.replied));
  const out = Buffer.alloc(size);
  let at = out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(header.length, at);
  at += 4;
  at += header.copy(out, at);
  // Columns are written through typed-array views over copies, so alignment never matters.
  at = put(out, at, Uint32Array.from(records.index.subarray(0, n)));
  const flags = new Uint8Array(n);
  for (let i = 0; i < n; i++) flags[i] = (records.outcome[i]! & 0x7f) | (records.twin[i] ? 0x80 : 0);
  at = put(out, at, flags);
  at = put(out, at, column(records.value, n, layout.value, (v) => (Number.isNaN(v) ? NO_VALUE : v)));
  at = put(out, at, column(records.sentUs, n, layout.sent, (v) => (Number.isNaN(v) ? NO_TIME : Math.round(v) - sentBase!)));
  put(out, at, column(records.repliedUs, n, layout.replied, (v) => (Number.isNaN(v) ? NO_TIME : Math.round(v) - repliedBase!)));
  return out;
}

/** The bundle back, its records' SKU and quantity recomputed from the plan. Throws on anything that is not a whole bundle. */
export function decodeBundle(bytes: Buffer, plan: Plan): AgentBundle {
  if (bytes.length < MAGIC.length + 4 || bytes.toString('latin1', 0, MAGIC.length) !== MAGIC) throw new Error('not a sellout result bundle (wrong header)');
  let at = MAGIC.length;
  const headerLength = bytes.readUInt32LE(at);
  at += 4;
  const { layout, ...header } = JSON.parse(bytes.toString('utf8', at, at + headerLength)) as BundleHeader & { layout: Layout };
  at += headerLength;
  const n = layout.count;
  const width = (c: Column) => (c === 'f64' ? 8 : 4);
  const expected = at + n * (4 + 1 + width(layout.value) + width(layout.sent) + width(layout.replied));
  if (bytes.length !== expected) throw new Error(`a truncated result bundle (${bytes.length} bytes, expected ${expected})`);
  const records = newRecords(Math.max(1, n));
  records.count = n;
  const index = take(bytes, at, n, 'u32');
  at += n * 4;
  const flags = bytes.subarray(at, at + n);
  at += n;
  const value = take(bytes, at, n, layout.value);
  at += n * width(layout.value);
  const sent = take(bytes, at, n, layout.sent);
  at += n * width(layout.sent);
  const replied = take(bytes, at, n, layout.replied);
  for (let i = 0; i < n; i++) {
    const ix = index[i]!;
    records.index[i] = ix;
    records.sku[i] = plan.skuOf(ix);
    records.quantity[i] = plan.quantityOf(ix);
    records.outcome[i] = flags[i]! & 0x7f;
    records.twin[i] = flags[i]! & 0x80 ? 1 : 0;
    const v = value[i]!;
    records.value[i] = layout.value === 'i32' && v === NO_VALUE ? NaN : v;
    records.sentUs[i] = layout.sent === 'u32' ? fromTime(sent[i]!, layout.sentBase ?? 0) : sent[i]!;
    records.repliedUs[i] = layout.replied === 'u32' ? fromTime(replied[i]!, layout.repliedBase ?? 0) : replied[i]!;
  }
  return { header, records };
}

/** u32 time columns: NaN (no time) as the largest u32. */
const NO_TIME = U32_MAX;

/** The base of a time column that fits u32 whole microseconds from it, or undefined (then f64). */
function timeBase(values: ArrayLike<number>, n: number): number | undefined {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) continue;
    if (!Number.isFinite(v)) return undefined;
    const r = Math.round(v);
    if (r < min) min = r;
    if (r > max) max = r;
  }
  if (min === Infinity) return 0;
  return max - min < NO_TIME ? min : undefined;
}

function fromTime(v: number, base: number): number {
  return v === NO_TIME ? NaN : v + base;
}

function fits(values: ArrayLike<number>, n: number, ok: (v: number) => boolean): boolean {
  for (let i = 0; i < n; i++) if (!ok(values[i]!)) return false;
  return true;
}

function column(values: ArrayLike<number>, n: number, kind: Column, map: (v: number) => number): Uint32Array | Int32Array | Float64Array {
  const out = kind === 'u32' ? new Uint32Array(n) : kind === 'i32' ? new Int32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = kind === 'f64' ? values[i]! : map(values[i]!);
  return out;
}

function put(out: Buffer, at: number, values: Uint8Array | Uint32Array | Int32Array | Float64Array): number {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  out.set(bytes, at);
  return at + bytes.length;
}

function take(bytes: Buffer, at: number, n: number, kind: Column): Uint32Array | Int32Array | Float64Array {
  const width = kind === 'f64' ? 8 : 4;
  // A copy into a fresh (aligned) buffer: the bundle's bytes may start anywhere.
  const copy = new Uint8Array(n * width);
  copy.set(bytes.subarray(at, at + n * width));
  return kind === 'u32' ? new Uint32Array(copy.buffer) : kind === 'i32' ? new Int32Array(copy.buffer) : new Float64Array(copy.buffer);
}
