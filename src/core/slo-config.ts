/**
 * The normalised `slos` section of gantry.yaml (objectives as fractions, periods and windows in
 * ms), produced by src/pipeline/config-slo-schema.ts and read by the SLO core (src/slo) and the
 * server's SLO evaluation. No I/O.
 */

/** Where the good and total events of an SLO come from. */
export type SliConfig =
  /** The proxy's requests: good = answered without a 5xx (or a proxy error). */
  | { kind: 'availability' }
  /** The proxy's requests: good = answered within `thresholdMs`. */
  | { kind: 'latency'; thresholdMs: number }
  /**
   * Any two PromQL rate expressions; `{{window}}` in each is replaced by the window being
   * evaluated (`5m`, `1h`, …), as Sloth's and Pyrra's SLI templates do.
   */
  | { kind: 'prometheus'; good: string; total: string };

export type AlertSeverity = 'page' | 'ticket';

/**
 * One multi-window, multi-burn-rate condition (SRE workbook, "Alerting on SLOs", approach 6): it holds
 * when the burn rate over the long window AND over the short window both exceed `burnRate`.
 */
export interface BurnRateRule {
  severity: AlertSeverity;
  burnRate: number;
  longWindowMs: number;
  shortWindowMs: number;
}

export interface SloConfig {
  name: string;
  /** The target share of good events, 0 < objective < 1 (0.999 for 99.9%). */
  objective: number;
  /** A rolling period ending now. */
  periodMs: number;
  sli: SliConfig;
  /** The alert conditions; the workbook's three scaled to the period unless overridden ([] = none). */
  alerts: BurnRateRule[];
  /** The environments it applies to; undefined = every environment of the project. */
  environments?: string[];
}
