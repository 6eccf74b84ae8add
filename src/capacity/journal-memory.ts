/**
 * What the journal costs in memory, read off a step's journals before they are removed: MEMORY
 * USAGE (SAMPLES 0: every field counted, exact) of a sample of the journal hashes over their entries, the
 * hashes' encodings, and where Redis switches a hash from listpack to hashtable
 * (hash-max-listpack-entries). Best effort: a server that refuses a command gives nulls.
 */
import type { Redis } from 'ioredis';
import { parseInfo } from '../redis/index.js';
import type { ShardSet } from '../redis/shards.js';

/** Journals sampled per step: enough for a stable per-entry figure, few enough to cost nothing. */
const SAMPLED_JOURNALS = 64;

export interface JournalMemory {
  /** MEMORY USAGE of the sampled journals over their entries; null when refused or nothing was journaled. */
  readonly bytesPerEntry: number | null;
  readonly sampledJournals: number;
  readonly sampledEntries: number;
  /** How many sampled journals had each encoding (`listpack`, `hashtable`). */
  readonly encodings: Readonly<Record<string, number>>;
  /** hash-max-listpack-entries: a journal with more entries than this is a hashtable; null when CONFIG GET is refused. */
  readonly listpackMaxEntries: number | null;
  /** The server's used_memory growth over the step per journal entry (capacity.ts fills it); null when INFO was refused. */
  readonly usedMemoryPerEntry?: number | null;
}

export async function measureJournals(shards: ShardSet, skus: readonly number[]): Promise<JournalMemory> {
  let usage = 0;
  let entries = 0;
  let sampled = 0;
  let refused = false;
  const encodings: Record<string, number> = {};
  for (const sku of skus.slice(0, SAMPLED_JOURNALS)) {
    const admin = shards.admins[shards.owners[sku]!]!;
    const key = shards.keys.journal(sku);
    try {
      const [bytes, length, encoding] = await Promise.all([
        admin.call('MEMORY', 'USAGE', key, 'SAMPLES', '0') as Promise<number | null>,
        admin.hlen(key),
        admin.call('OBJECT', 'ENCODING', key) as Promise<string | null>,
      ]);
      if (bytes === null || length === 0) continue;
      usage += Number(bytes);
      entries += length;
      sampled++;
      const name = String(encoding);
      encodings[name] = (encodings[name] ?? 0) + 1;
    } catch {
      refused = true;
      break;
    }
  }
  return {
    bytesPerEntry: refused || entries === 0 ? null : usage / entries,
    sampledJournals: sampled,
    sampledEntries: entries,
    encodings,
    listpackMaxEntries: await listpackMaxEntries(shards.admins[0]!),
  };
}

async function listpackMaxEntries(admin: Redis): Promise<number | null> {
  try {
    const reply = (await admin.call('CONFIG', 'GET', 'hash-max-listpack-entries')) as unknown;
    const flat = Array.isArray(reply) ? reply : reply instanceof Map ? [...reply.entries()].flat() : Object.entries(reply ?? {}).flat();
    const value = Number(flat[1]);
    return Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}

/** used_memory and maxmemory summed over the primaries (INFO memory); nulls when refused. */
export async function readMemory(admins: readonly Redis[]): Promise<{ usedMemory: number | null; maxmemory: number | null }> {
  try {
    const infos = await Promise.all(admins.map(async (a) => parseInfo(await a.info('memory'))));
    const sum = (field: string) => infos.reduce((n, i) => n + Number(i[field] ?? NaN), 0);
    const used = sum('used_memory');
    // One primary without a limit leaves the whole without one.
    const max = infos.some((i) => Number(i['maxmemory']) === 0) ? 0 : sum('maxmemory');
    return { usedMemory: Number.isFinite(used) ? used : null, maxmemory: Number.isFinite(max) ? max : null };
  } catch {
    return { usedMemory: null, maxmemory: null };
  }
}
