import { defineConfig } from 'vitest/config';

/**
 * Tests that judge latency against an SLO (the capacity search, and the capacity chart drawn from a
 * real search), or race a slot migration or a failover against the clock, run on their own, after the rest: next to a file that starts several sellout and
 * redis-server processes at once (the agents tests, the fault tests) on this 2-core machine, a
 * confirmation step's p99 was the neighbour's, not the server's, and the search rightly found no
 * rate to answer with.
 */
const ALONE = [
  'test/e2e/cli-capacity.test.ts',
  'test/e2e/report-browser.test.ts',
  // A slot migration's split must outlast the client's TRYAGAIN pauses (385 ms in all) only as long
  // as the test's own migration steps take, and a replica must be killed and promoted in time:
  // both failed once in CI next to the agents tests.
  'test/integration/cluster-engine.test.ts',
  'test/integration/embedded-faults.test.ts',
];

// Integration tests each start their own redis-server; the machine has 2 cores, so keep the
// number of parallel test files small and give server-backed tests room.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: ['**/node_modules/**', ...ALONE], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'alone', include: ALONE, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
