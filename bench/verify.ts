/**
 * `npm run bench:verify`: how long the verifier takes on a big run, and how much memory.
 * Seeds a journal of 1,000,000 deductions through the real script (lua/deduct.lua, pipelined
 * EVALSHA on a private redis-server), plus 100,000 retries of earlier IDs, recording the replies as
 * the engine would (typed arrays); then times the snapshot (HSCAN) and the twelve checks.
 * Target (issue 4): <= 10 s and <= 300 MB RSS.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { DEFAULT_KEY_TEMPLATES, journalKey, newRunId, requestId, RunKeys, stockKey } from '../src/keys.js';
import { newRecords, reserveRow } from '../src/metrics/records.js';
import { classifyErrorReply, Code } from '../src/outcomes.js';
import { PROJECT_ROOT } from '../src/scenario/load.js';
import { startLocalRedis } from '../src/redis/local.js';
import { loadScript } from '../src/redis/script.js';
import { seedStock } from '../src/redis/seed.js';
import { standaloneShards } from '../src/redis/shards.js';
import { coverageOf } from '../src/verify/coverage.js';
import { checkAll, prepare } from '../src/verify/invariants.js';
import { takeSnapshot } from '../src/verify/snapshot.js';

const DEDUCTIONS = Number(process.env['BENCH_DEDUCTIONS'] ?? 1_000_000);
const RETRIES = Math.floor(DEDUCTIONS / 10);
const SKUS = 10;
const STOCK = Math.ceil((DEDUCTIONS / SKUS) * 2) + 1000; // quantities average 2: never sells out, every first send deducts
const BATCH = 1_000; // small pipelines: bigger ones leave the heap (and RSS) inflated before verification starts
const SEED = 1;
const TARGET_S = 10;
const TARGET_MB = 300;

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

async function main(): Promise<number> {
  const server = await startLocalRedis();
  const redis = new Redis({ host: server.host, port: server.port, maxRetriesPerRequest: 0 });
  try {
    const runId = newRunId();
    const shards = standaloneShards(redis, new RunKeys(DEFAULT_KEY_TEMPLATES, runId), SKUS);
    await seedStock(shards, STOCK);
    const path = join(PROJECT_ROOT, 'lua/deduct.lua');
    const { sha } = await loadScript(redis, readFileSync(path, 'utf8'), path);

    // Request i buys 1-3 units of SKU i % SKUS; every tenth is later retried under the same ID.
    const quantityOf = (i: number) => 1 + (i % 3);
    const records = newRecords(DEDUCTIONS + RETRIES);
    const t0 = performance.now();
    process.stdout.write(`seeding ${DEDUCTIONS.toLocaleString('en-US')} deductions + ${RETRIES.toLocaleString('en-US')} retries through lua/deduct.lua…\n`);
    const total = DEDUCTIONS + RETRIES;
    for (let start = 0; start < total; start += BATCH) {
      const end = Math.min(total, start + BATCH);
      const pipeline = redis.pipeline();
      const indexes = new Uint32Array(end - start);
      for (let n = start; n < end; n++) {
        const index = n < DEDUCTIONS ? n : (n - DEDUCTIONS) * 10;
        indexes[n - start] = index;
        const sku = index % SKUS;
        pipeline.evalsha(sha, 2, stockKey(runId, sku), journalKey(runId, sku), quantityOf(index), requestId(SEED, index));
      }
      const sentUs = (performance.now() - t0) * 1000;
      const replies = (await pipeline.exec()) ?? [];
      const repliedUs = (performance.now() - t0) * 1000;
      replies.forEach(([err, reply], k) => {
        const index = indexes[k]!;
        const row = reserveRow(records);
        records.index[row] = index;
        records.sku[row] = index % SKUS;
        records.quantity[row] = quantityOf(index);
        records.outcome[row] = err ? classifyErrorReply(err.message) : Code.ok;
        records.twin[row] = start + k >= DEDUCTIONS ? 1 : 0;
        records.value[row] = err ? NaN : Number(reply);
        records.sentUs[row] = sentUs;
        records.repliedUs[row] = repliedUs;
      });
    }
    const seedS = (performance.now() - t0) / 1000;
    process.stdout.write(`seeded in ${seedS.toFixed(1)} s; RSS ${mb(process.memoryUsage().rss)} MB\n`);

    // Sample RSS while the snapshot runs (it awaits Redis); the checks are synchronous, so RSS is read after them.
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 20);
    const v0 = performance.now();
    const snapshot = await takeSnapshot(shards, SEED);
    const v1 = performance.now();
    const ctx = prepare({ snapshot, records, initialStock: STOCK, seed: SEED });
    const results = checkAll(ctx);
    const v2 = performance.now();
    const coverage = coverageOf(ctx);
    const v3 = performance.now();
    clearInterval(sampler);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    const maxRssMb = process.resourceUsage().maxRSS / 1024;

    const seconds = (v3 - v0) / 1000;
    const failed = results.filter((r) => r.status === 'fail');
    process.stdout.write(
      [
        `journal entries   ${snapshot.journal.count.toLocaleString('en-US')} (records ${records.count.toLocaleString('en-US')})`,
        `snapshot (HSCAN)  ${((v1 - v0) / 1000).toFixed(2)} s`,
        `checks (12)       ${((v2 - v1) / 1000).toFixed(2)} s`,
        `coverage          ${((v3 - v2) / 1000).toFixed(2)} s (twinAfterOk ${coverage.twinAfterOk}, warnings ${coverage.warnings.length})`,
        `verification      ${seconds.toFixed(2)} s (target <= ${TARGET_S} s)`,
        `RSS during verify ${mb(peakRss)} MB peak sampled (target <= ${TARGET_MB} MB): ${mb(rssBefore)} MB before + ${mb(peakRss - rssBefore)} MB for verification; process max RSS incl. seeding ${maxRssMb.toFixed(0)} MB`,
        `invariants        ${results.map((r) => `${r.name} ${r.status}`).join(', ')}`,
      ].join('\n') + '\n',
    );
    for (const r of failed) process.stdout.write(`FAIL ${r.name}: ${r.actual}; ${r.examples[0] ?? ''}\n`);
    const ok = failed.length === 0 && seconds <= TARGET_S && Number(mb(peakRss)) <= TARGET_MB;
    process.stdout.write(ok ? 'bench:verify: within target\n' : 'bench:verify: OVER TARGET or invariant failed\n');
    return ok ? 0 : 1;
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

process.exitCode = await main();
