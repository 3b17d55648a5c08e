import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Processes, not threads: tests start servers, signal process groups and change process.env.
    pool: 'forks',
    // Most of the suite's time is waiting on real processes (jobs, servers, canary analyses), not
    // CPU: vitest's default of cores − 1 ran the files one at a time on 2 cores. One file per core
    // keeps the CPU busy while files wait; one more than that (tried) loaded a 2-core machine
    // enough to expose timing races in the rolling deploy and the proxy's replacement (see the
    // session note). VITEST_MAX_WORKERS overrides it.
    maxWorkers: availableParallelism(),
    // Starts a throwaway PostgreSQL cluster when GANTRY_TEST_PG_URL is unset (test/support/global-setup.ts).
    globalSetup: ['test/support/global-setup.ts'],
  },
});
