/**
 * An in-memory `MetricsSource` (Prometheus) for tests: scripted values per check name, or
 * `unavailable`, in which case every check is `null` with a problem line — what the real
 * `PrometheusSource` answers when Prometheus is down (it never rejects). Each call is counted.
 */
import type { PrometheusCheckConfig } from '../../../src/core/delivery-config.ts';
import type { MetricsSource } from '../../../src/server/delivery/index.ts';

export class FakeMetricsSource implements MetricsSource {
  readonly values = new Map<string, number | null>();
  unavailable = false;
  calls = 0;

  set(check: string, value: number | null): void {
    this.values.set(check, value);
  }

  async evaluate(
    checks: PrometheusCheckConfig[],
    _vars: { version: string; environment: string },
    _at?: Date,
  ): Promise<{ values: Record<string, number | null>; problems: string[] }> {
    this.calls++;
    const values: Record<string, number | null> = {};
    const problems: string[] = [];
    for (const check of checks) {
      if (this.unavailable) {
        values[check.name] = null;
        problems.push(`${check.name}: Prometheus is unavailable (connection refused)`);
        continue;
      }
      const value = this.values.get(check.name);
      values[check.name] = value ?? null;
      if (value === undefined || value === null) problems.push(`${check.name}: no data`);
    }
    return { values, problems };
  }
}
