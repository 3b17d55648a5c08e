import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Starts a throwaway PostgreSQL cluster when GANTRY_TEST_PG_URL is unset (test/support/global-setup.ts).
    globalSetup: ['test/support/global-setup.ts'],
  },
});
