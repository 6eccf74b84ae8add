/**
 * Key and request-ID naming (DESIGN.md §9). Every key a run writes lives under
 * `sellout:<run>:` and carries the SKU as its hash tag, so in a cluster a SKU's stock and journal
 * share a slot while different SKUs spread over the shards.
 */
import { randomBytes } from 'node:crypto';

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', 't');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

export function stockKey(runId: string, sku: number): string {
  return `sellout:${runId}:inv:{${sku}}`;
}

export function journalKey(runId: string, sku: number): string {
  return `sellout:${runId}:journal:{${sku}}`;
}

/** Warm-up keys of one worker: in the run's namespace, outside its SKUs (removed after the load). */
export function warmUpStockKey(runId: string, worker: number): string {
  return `sellout:${runId}:warmup:inv:{w${worker}}`;
}

export function warmUpJournalKey(runId: string, worker: number): string {
  return `sellout:${runId}:warmup:journal:{w${worker}}`;
}

/** Request IDs are deterministic from the scenario seed and the request's index in the plan. */
export function requestIdPrefix(seed: number): string {
  return `DEC-${seed}-`;
}

export function requestId(seed: number, index: number): string {
  return `${requestIdPrefix(seed)}${index}`;
}

/** The plan index of a request ID written by this run, or -1 for an ID the run never made. */
export function parseRequestIndex(prefix: string, id: string): number {
  if (!id.startsWith(prefix)) return -1;
  const digits = id.slice(prefix.length);
  if (!/^(0|[1-9]\d{0,9})$/.test(digits)) return -1;
  const index = Number(digits);
  return index <= 0xfffffffe ? index : -1;
}
