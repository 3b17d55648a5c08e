/**
 * A real Prometheus (Debian's `prometheus` package, 2.x) for tests: loopback only, a temp config
 * and TSDB that are removed on stop, scraping the targets the test serves itself. Without the
 * binary the tests are skipped with a notice (a failure under GANTRY_REQUIRE_ALL=1).
 */
import { execFileSync } from 'node:child_process';
import { PROMETHEUS_BINARY } from './prometheus-process.ts';
import { requirement } from './requirements.ts';

export { startPrometheus, type TestPrometheus, waitForSeries } from './prometheus-process.ts';

function hasPrometheus(): boolean {
  try {
    execFileSync(PROMETHEUS_BINARY, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** True when Prometheus tests should run; synchronous so `describe.runIf` can use it. */
export function prometheusAvailable(): boolean {
  return requirement('Prometheus', hasPrometheus());
}
