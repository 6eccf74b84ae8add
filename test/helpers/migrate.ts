/** Moves one slot between two primaries of a test cluster the way redis-cli --cluster reshard does. */
import type { Redis } from 'ioredis';

export async function migrateSlot(nodes: readonly Redis[], slot: number, from: number, to: number, options: { pauseMs?: number; oneKeyAtATime?: boolean } = {}): Promise<number> {
  const source = nodes[from]!;
  const target = nodes[to]!;
  const sourceId = String(await source.call('CLUSTER', 'MYID'));
  const targetId = String(await target.call('CLUSTER', 'MYID'));
  const { host, port } = target.options as { host: string; port: number };
  await target.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', sourceId);
  await source.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', targetId);
  let moved = 0;
  for (;;) {
    // One key at a time splits a SKU's stock from its journal for a while: the script's two-key
    // call then meets TRYAGAIN (some of its keys moved, some not).
    const keys = (await source.call('CLUSTER', 'GETKEYSINSLOT', String(slot), options.oneKeyAtATime ? '1' : '100')) as string[];
    if (keys.length === 0) break;
    await source.call('MIGRATE', host, String(port), '', '0', '5000', 'KEYS', ...keys);
    moved += keys.length;
    // Time for requests to meet the slot half-moved (ASK) before it changes hands (MOVED).
    if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
  }
  if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
  await target.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', targetId);
  await source.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', targetId);
  for (const node of nodes) if (node !== source && node !== target) await node.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', targetId);
  return moved;
}
