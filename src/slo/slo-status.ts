/** One SLO's state as the API shows it: the server computes it, the CLI and the dashboard read it. */
import type { SloConfig } from '../core/slo-config.ts';
import type { BudgetStatus } from './budget.ts';
import type { AlertState } from './burn-rate-alerts.ts';

export interface SloStatus {
  environment: string;
  slo: SloConfig;
  budget: BudgetStatus;
  /** Burn rate over each rule's windows. */
  rules: {
    severity: string;
    burnRate: number;
    longWindowMs: number;
    shortWindowMs: number;
    longBurnRate: number;
    shortBurnRate: number;
    holds: boolean;
  }[];
  alerts: Record<string, AlertState>;
  /** When Gantry began measuring it. */
  sinceMs: number;
  evaluatedAtMs: number | null;
  /** Whether the numbers above are measured: false for a Prometheus SLI not yet read. */
  evaluated: boolean;
  /** Why the last evaluation could not measure it (Prometheus unreachable, no data, …), or null. */
  problem: string | null;
}
