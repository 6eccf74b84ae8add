import { Redis } from 'ioredis';
import { startLocalCluster } from '../dist/src/redis/local-cluster.js';
import { discoverTopology, skuShards } from '../dist/src/redis/topology.js';
import { connectAdmin } from '../dist/src/redis/index.js';
import { driveLoad } from '../dist/src/load/coordinator.js';
import { parseScenario } from '../dist/src/scenario/load.js';
import { initHistograms } from '../dist/src/metrics/histogram.js';
import { DEFAULT_KEY_TEMPLATES, RunKeys } from '../dist/src/keys.js';
import { scriptSha } from '../dist/src/redis/script.js';

await initHistograms();
const model = process.argv[2] ?? 'closed';
const c = await startLocalCluster({ shards: 3 });
try {
  const ep = { host: '127.0.0.1', port: c.nodes[0].port, db: 0, tls: false };
  const admin = await connectAdmin(ep);
  const topology = await discoverTopology(admin, ep);
  const nodes = c.nodes.map((n) => new Redis({ port: n.port }));
  const ROOT = process.cwd();
  const load = model === 'closed' ? 'load: {connections: 4, inFlight: 4}' : 'load: {model: constant-rate, rate: 5000, connections: 4}';
  const s = parseScenario(`name: t\nscript: lua/deduct.lua\nskus: {count: 30, stock: 50}\nrequests: 3000\n${load}\nduplicates: {ratio: 0.1}`, `${ROOT}/t.yaml`, { cwd: ROOT });
  const keys = new RunKeys(DEFAULT_KEY_TEMPLATES, 'r1');
  const owners = skuShards(topology, keys, 30);
  for (let sku = 0; sku < 30; sku++) await nodes[owners[sku]].set(keys.stock(sku), '50');
  for (const n of nodes) await n.script('LOAD', s.scriptSource);
  const t = Date.now();
  const r = await driveLoad({ scenario: s, topology, keys, runId: 'r1', scriptSha: scriptSha(s.scriptSource) });
  console.log('ms', Date.now() - t, r.counts, 'redirects', r.redirects, r.routeProblems, r.loadLost, r.errorReplies);
  let journal = 0, stock = 0;
  const perShard = [0, 0, 0];
  for (let sku = 0; sku < 30; sku++) {
    const n = nodes[owners[sku]];
    const h = await n.hlen(keys.journal(sku)); journal += h; perShard[owners[sku]] += h;
    stock += Number(await n.get(keys.stock(sku)));
  }
  console.log('journal', journal, 'stock left', stock, 'sold', 1500 - stock, 'perShard', perShard);
  for (const n of nodes) n.disconnect();
  admin.disconnect();
} finally { await c.stop(); }
