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

/**
 * How a run names a SKU's two keys (scenario `keys:`): templates with `<run>` (the run ID) and
 * `<sku>` (the SKU's number). The defaults keep every key under `sellout:<run>:` with the SKU as
 * hash tag; a team can reproduce its own naming (`clc:inventory:<sku>`), and in a cluster the
 * preflight stops a naming whose two keys fall in different slots.
 */
export interface KeyTemplates {
  readonly stock: string;
  readonly journal: string;
}

export const DEFAULT_KEY_TEMPLATES: KeyTemplates = {
  stock: 'sellout:<run>:inv:{<sku>}',
  journal: 'sellout:<run>:journal:{<sku>}',
};

/** The key names of one run: templates with the run ID filled in, the SKU filled in per call. */
export class RunKeys {
  private readonly stockParts: readonly string[];
  private readonly journalParts: readonly string[];
  constructor(readonly templates: KeyTemplates, readonly runId: string) {
    this.stockParts = fill(templates.stock, runId).split('<sku>');
    this.journalParts = fill(templates.journal, runId).split('<sku>');
  }
  /** A SKU is sellout's number, or (a sale service's request) the SKU as the request wrote it. */
  stock(sku: number | string): string {
    return this.stockParts.join(String(sku));
  }
  journal(sku: number | string): string {
    return this.journalParts.join(String(sku));
  }
  /** A glob matching the run's stock and journal keys (for messages: `sellout:<id>:*` with the default templates). */
  get pattern(): string {
    const stock = this.stockParts.join('*');
    const journal = this.journalParts.join('*');
    const common = commonPrefix(stock, journal);
    return common.length > 0 && stock !== journal ? `${common}*` : stock === journal ? stock : `${stock}, ${journal}`;
  }
}

function fill(template: string, runId: string): string {
  return template.split('<run>').join(runId);
}

function commonPrefix(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return a.slice(0, i);
}

/** The default keys of a run (tests and tools that do not read a scenario). */
export function stockKey(runId: string, sku: number): string {
  return new RunKeys(DEFAULT_KEY_TEMPLATES, runId).stock(sku);
}

export function journalKey(runId: string, sku: number): string {
  return new RunKeys(DEFAULT_KEY_TEMPLATES, runId).journal(sku);
}

/**
 * Warm-up keys of one worker: in the run's namespace, outside its SKUs (removed after the load).
 * `tag` is their hash tag (`w<worker>`, or in a cluster one that lands on the shard being warmed).
 */
export function warmUpStockKey(runId: string, tag: string): string {
  return `sellout:${runId}:warmup:inv:{${tag}}`;
}

export function warmUpJournalKey(runId: string, tag: string): string {
  return `sellout:${runId}:warmup:journal:{${tag}}`;
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
