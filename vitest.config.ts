import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Node's on-disk compile cache for every process the suite starts (workers, and through them the
// `node src/cli/main.ts` children of the CLI and end-to-end tests): a CLI start strips the types
// of and compiles ~200 modules, about half of its CPU, on each of the suite's hundreds of starts.
// Keyed by each file's content, so an edited module is recompiled; NODE_DISABLE_COMPILE_CACHE=1
// turns it off. Set here, in the main process, because workers and children inherit its env.
process.env.NODE_COMPILE_CACHE ??= join(tmpdir(), 'gantry-test-compile-cache');

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
