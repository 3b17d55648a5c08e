import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Node's on-disk compile cache for every process the suite starts (workers, and through them the
// `node src/cli/main.ts` children of the CLI and end-to-end tests): a CLI start strips the types
// of and compiles ~200 modules, about half of its CPU, on each of the suite's hundreds of starts.
// Keyed by each file's content, so an edited module is recompiled; NODE_DISABLE_COMPILE_CACHE=1
// turns it off. Set here, in the main process, because workers and children inherit its env.
process.env.NODE_COMPILE_CACHE ??= join(tmpdir(), 'gantry-test-compile-cache');

/**
 * Folders whose tests only compute (parse, plan, reduce, score): they run in worker threads, which
 * start in a fraction of a forked process's CPU. A test that changes process-wide state (env, cwd,
 * signal handlers) belongs in a folder outside this list. docs/decisions/0031-test-pools.md.
 */
const THREADED = ['core', 'pipeline', 'slo', 'web', 'dora', 'incidents', 'scenarios', 'delivery', 'security', 'scan'].map(
  (folder) => `test/${folder}/**/*.test.ts`,
);

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Most of the suite's time is waiting on real processes (jobs, servers, canary analyses), not
    // CPU: with one file per core the cores idled while files waited. Two per core (ADR 0031; with
    // the browser files' CPU cut the same day, vitest 414 → 282 s). VITEST_MAX_WORKERS overrides it.
    // Shared by both projects.
    maxWorkers: availableParallelism() * 2,
    // GANTRY_TEST_CPU_REPORT=FILE: each test file's CPU, own and its children's (test/support/cpu-report.ts).
    setupFiles: process.env.GANTRY_TEST_CPU_REPORT ? ['test/support/cpu-report.ts'] : [],
    projects: [
      // A thread runs file after file with the modules it loaded (74 files: 50.7 → 27.1 s of CPU,
      // all passing); these tests compute and leave no state behind.
      { extends: true, test: { name: 'threads', include: THREADED, pool: 'threads', isolate: false } },
      {
        extends: true,
        test: {
          name: 'forks',
          include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
          exclude: ['**/node_modules/**', ...THREADED],
          // Processes, not threads: these tests start servers, signal process groups and change process.env.
          pool: 'forks',
          // A worker runs file after file (its start and module loading were ~0.9 s a file): a
          // test restores the process-wide state it changes and stops what it starts (ADR 0031).
          isolate: false,
          // Starts a throwaway PostgreSQL cluster when GANTRY_TEST_PG_URL is unset (test/support/global-setup.ts).
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
