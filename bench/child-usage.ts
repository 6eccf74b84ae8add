/**
 * Preloaded into `sellout run` children by the bench (node --import): at exit, the main thread
 * writes the process's own getrusage to $BENCH_USAGE_FILE: user and system CPU of every thread
 * (exited worker threads included) and the peak RSS. Exact, unlike a poll of /proc that misses
 * whatever happens after its last sample. Worker threads load it too (they inherit execArgv) and
 * do nothing.
 */
import { writeFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const file = process.env['BENCH_USAGE_FILE'];
if (isMainThread && file) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    writeFileSync(file, JSON.stringify({ userUs: usage.userCPUTime, systemUs: usage.systemCPUTime, maxRssKb: usage.maxRSS }));
  });
}
