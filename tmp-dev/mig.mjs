import { Redis } from 'ioredis';
import { startLocalCluster } from '../dist/src/redis/local-cluster.js';
import { discoverTopology, skuShards } from '../dist/src/redis/topology.js';
import { connectAdmin } from '../dist/src/redis/index.js';
import { driveLoad } from '../dist/src/load/coordinator.js';
import { parseScenario } from '../dist/src/scenario/load.js';
import { initHistograms } from '../dist/src/metrics/histogram.js';
import { DEFAULT_KEY_TEMPLATES, RunKeys } from '../dist/src/keys.js';
import { scriptSha } from '../dist/src/redis/script.js';
import { keySlot } from '../dist/src/redis/slot.js';
import { migrateSlot } from './migrate.mjs';

await initHistograms();
const model = process.argv[2] ?? 'closed';
const c = await startLocalCluster({ shards: 3 });
try {
  const ep = { host: '127.0.0.1', port: c.nodes[0].port, db: 0, tls: false };
  const admin = await connectAdmin(ep);
  const topology = await discoverTopology(admin, ep);
  const nodes = c.nodes.map((n) => new Redis({ port: n.port, host: '127.0.0.1' }));
  const ROOT = process.cwd();
  const load = model === 'closed' ? 'load: {connections: 4, inFlight: 4}' : 'load: {model: constant-rate, rate: 5000, connections: 4}';
  const s = parseScenario(`name: t\nscript: lua/deduct.lua\nskus: {count: 6, stock: 10000000}\nduration: 2s\n${load}\nduplicates: {ratio: 0.1}`, `${ROOT}/t.yaml`, { cwd: ROOT });
  const keys = new RunKeys(DEFAULT_KEY_TEMPLATES, 'r1');
  const owners = skuShards(topology, keys, 6);
  for (let sku = 0; sku < 6; sku++) await nodes[owners[sku]].set(keys.stock(sku), '10000000');
  for (const n of nodes) await n.script('LOAD', s.scriptSource);
  const slot = keySlot(keys.stock(0));
  const from = owners[0], to = (owners[0] + 1) % 3;
  const p = driveLoad({ scenario: s, topology, keys, runId: 'r1', scriptSha: scriptSha(s.scriptSource) });
  await new Promise((r) => setTimeout(r, 700));
  console.log('migrating slot', slot, from, '->', to, await migrateSlot(nodes, slot, from, to, { pauseMs: 100 }));
  const r = await p;
  console.log(r.counts, 'redirects', r.redirects, r.routeProblems, r.loadLost, r.errorReplies);
  const topo2 = await discoverTopology(admin, ep);
  const owners2 = skuShards(topo2, keys, 6);
  let journal = 0, sold = 0;
  for (let sku = 0; sku < 6; sku++) {
    const n = nodes[owners2[sku]];
    journal += await n.hlen(keys.journal(sku));
    sold += 10000000 - Number(await n.get(keys.stock(sku)));
  }
  console.log('owner of sku0 now', owners2[0], 'journal', journal, 'sold', sold, 'ok', r.counts.ok);
  for (const n of nodes) n.disconnect();
  admin.disconnect();
} finally { await c.stop(); }
