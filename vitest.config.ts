import { defineConfig } from 'vitest/config';

// Integration tests each start their own redis-server; the machine has 2 cores, so keep the
// number of parallel test files small and give server-backed tests room.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
