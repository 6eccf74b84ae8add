/**
 * The autocannon CLI, timed in microseconds: `node dist/bench/lib/autocannon-child.js <autocannon
 * CLI arguments>` does what `node node_modules/autocannon/autocannon.js <arguments>` does (the
 * CLI's own parseArguments, then its own initJob, which prints the --json result), in a process of
 * its own, and adds one listener to the run's 'response' events (which autocannon emits for every
 * response anyway) recording each response time, a float of ms, in sellout's histogram settings.
 *
 * Why: the CLI records latency in an HdrHistogram whose lowest discernible value is 1 ms, and a
 * float ms is truncated to the integer below, so against a local service it prints p50 0 or 1 ms:
 * no figure to hold sellout's microseconds against. After autocannon's own line it prints
 *   {"bench": {"p50Us": …, "p99Us": …, "count": …, "cpuUs": …}}
 * (cpuUs: this process's user+sys, start included: autocannon's client CPU).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { initHistograms, newHistogram, percentiles, recordUs } from '../../src/metrics/histogram.js';
import { ROOT } from './server.js';

interface Tracker extends PromiseLike<unknown> {
  on(event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void): void;
}
interface AutocannonCli {
  (opts: unknown): Tracker;
  parseArguments(argv: string[]): unknown;
}

const require = createRequire(import.meta.url);
const autocannon = require(join(ROOT, 'node_modules', 'autocannon', 'autocannon.js')) as AutocannonCli;

await initHistograms();
const ok = newHistogram();
const opts = autocannon.parseArguments(process.argv.slice(2));
if (!opts) process.exit(2);
const tracker = autocannon(opts);
tracker.on('response', (_client, statusCode, _bytes, ms) => {
  if (statusCode >= 200 && statusCode < 300) recordUs(ok, ms * 1000);
});
await tracker;
// autocannon printed its --json line before its promise resolved.
const p = percentiles(ok);
const cpu = process.cpuUsage();
process.stdout.write(`${JSON.stringify({ bench: { p50Us: p.p50, p99Us: p.p99, count: p.count, cpuUs: cpu.user + cpu.system } })}\n`);
process.exit(0);
