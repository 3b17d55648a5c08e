/**
 * Tests that need a part of the machine (PostgreSQL, bubblewrap) ask here. Without it they are
 * skipped with a visible notice; with GANTRY_REQUIRE_ALL=1 (set by .ci/run) a missing part is a
 * failure instead, so CI can never pass by skipping.
 */
import { execFileSync } from 'node:child_process';
import { inject } from 'vitest';

/**
 * The PostgreSQL server for tests: GANTRY_TEST_PG_URL when set, otherwise the throwaway cluster
 * that test/support/global-setup.ts started (when PostgreSQL is installed), otherwise ''.
 */
export const PG_URL = process.env.GANTRY_TEST_PG_URL || inject('gantryTestPgUrl') || '';

/** True when `command args…` runs and exits 0 here. */
export function commandWorks(command: string, args: readonly string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function hasBubblewrap(): boolean {
  return commandWorks('bwrap', ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', 'true']);
}

/** Returns true when the requirement is met; otherwise prints a notice (or throws under GANTRY_REQUIRE_ALL). */
export function requirement(name: string, available: boolean): boolean {
  if (available) return true;
  const message = `${name} is not available: its tests are skipped`;
  if (process.env.GANTRY_REQUIRE_ALL === '1') throw new Error(`${message}, but GANTRY_REQUIRE_ALL=1 requires them`);
  process.stderr.write(`NOTICE: ${message}\n`);
  return false;
}
