/**
 * The Prometheus recording and alerting rules equivalent to Gantry's own SLO evaluation, for
 * teams that alert from Prometheus (`gantry slo rules`). Shaped like Sloth's output: one
 * recording rule per SLI window (`gantry_slo:sli_error:ratio_rate5m`, …) and one alert per
 * severity whose expression is the workbook's "long AND short window, OR across rules". The
 * proxy's metrics are the ones Gantry's /metrics serves (`gantry_proxy_requests_total`,
 * `gantry_proxy_request_duration_seconds`), selected by project and environment labels.
 * Returns plain data; the caller writes it as YAML.
 */
import { InputError } from '../core/errors.ts';
import type { AlertSeverity, SloConfig } from '../core/slo-config.ts';
import { withWindow } from '../core/slo-config.ts';

export interface RuleFile {
  groups: RuleGroup[];
}

export interface RuleGroup {
  name: string;
  rules: (RecordingRule | AlertingRule)[];
}

export interface RecordingRule {
  record: string;
  expr: string;
  labels: Record<string, string>;
}

export interface AlertingRule {
  alert: string;
  expr: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** The `le` bounds of the proxy's latency histogram on /metrics, in seconds. */
export type HistogramBounds = readonly number[];

const RECORD_PREFIX = 'gantry_slo:sli_error:ratio_rate';

/** `3600000` → `1h`, `8640000` → `2h24m`: Prometheus' duration syntax, largest units first. */
export function promDuration(ms: number): string {
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ];
  let rest = Math.round(ms);
  let text = '';
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) text += `${n}${unit}`;
    rest -= n * size;
  }
  return text === '' ? '0s' : text;
}

/** A label value inside double quotes (PromQL string escaping). */
function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** 1 − 0.999 as 0.001, not 0.0010000000000000009, so the rules read as written. */
function budgetOf(objective: number): number {
  return Number((1 - objective).toPrecision(12));
}

/** The error ratio over `window` for one SLO in one environment, as PromQL. */
function errorRatioExpr(slo: SloConfig, selector: string, window: string, bounds: HistogramBounds): string {
  const sli = slo.sli;
  switch (sli.kind) {
    case 'availability':
      return (
        `(sum(rate(gantry_proxy_requests_total{${selector},status_class="5xx"}[${window}])) or vector(0))\n` +
        `/\nsum(rate(gantry_proxy_requests_total{${selector}}[${window}]))`
      );
    case 'latency': {
      const le = sli.thresholdMs / 1000;
      if (!bounds.includes(le)) {
        const below = bounds.filter((b) => b < le).at(-1);
        const above = bounds.find((b) => b > le);
        throw new InputError(
          `SLO '${slo.name}': a latency threshold of ${sli.thresholdMs}ms is not a bucket bound of the proxy's histogram, so Prometheus cannot count it exactly; use ${[
            below,
            above,
          ]
            .filter((b) => b !== undefined)
            .map((b) => `${(b as number) * 1000}ms`)
            .join(' or ')}`,
          { slo: slo.name, thresholdMs: sli.thresholdMs },
        );
      }
      return (
        `1 - (\nsum(rate(gantry_proxy_request_duration_seconds_bucket{${selector},le=${quote(String(le))}}[${window}]))\n` +
        `/\nsum(rate(gantry_proxy_request_duration_seconds_count{${selector}}[${window}]))\n)`
      );
    }
    case 'prometheus': {
      const good = withWindow(sli.good, window);
      const total = withWindow(sli.total, window);
      return `1 - (\n(${good})\n/\n(${total})\n)`;
    }
  }
}

/**
 * The rules for a project's SLOs in the given environments (each SLO only in the environments it
 * applies to). Throws InputError when an SLO cannot be expressed exactly (a latency threshold
 * between two histogram bounds).
 */
export function prometheusRules(
  project: string,
  slos: readonly SloConfig[],
  environments: readonly string[],
  bounds: HistogramBounds,
): RuleFile {
  const groups: RuleGroup[] = [];
  for (const slo of slos) {
    const rules: (RecordingRule | AlertingRule)[] = [];
    const windows = [...new Set(slo.alerts.flatMap((a) => [a.shortWindowMs, a.longWindowMs]))].sort((a, b) => a - b);
    for (const environment of environments.filter((e) => slo.environments === undefined || slo.environments.includes(e))) {
      const labels = { project, environment, slo: slo.name };
      const proxySelector = `project=${quote(project)},environment=${quote(environment)}`;
      const own = `project=${quote(project)},environment=${quote(environment)},slo=${quote(slo.name)}`;
      for (const windowMs of windows) {
        const window = promDuration(windowMs);
        rules.push({ record: `${RECORD_PREFIX}${window}`, expr: errorRatioExpr(slo, proxySelector, window, bounds), labels });
      }
      const budget = budgetOf(slo.objective);
      for (const severity of ['page', 'ticket'] as AlertSeverity[]) {
        const severityRules = slo.alerts.filter((a) => a.severity === severity);
        if (severityRules.length === 0) continue;
        const expr = severityRules
          .map((a) => {
            const threshold = `(${a.burnRate} * ${budget})`;
            return (
              `(\n  ${RECORD_PREFIX}${promDuration(a.longWindowMs)}{${own}} > ${threshold}\n` +
              `  and\n  ${RECORD_PREFIX}${promDuration(a.shortWindowMs)}{${own}} > ${threshold}\n)`
            );
          })
          .join('\nor\n');
        rules.push({
          alert: severity === 'page' ? 'GantrySLOBurnRatePage' : 'GantrySLOBurnRateTicket',
          expr,
          labels: { ...labels, severity },
          annotations: {
            summary: `${project}/${environment}: SLO '${slo.name}' is burning its error budget too fast`,
            description: `The ${slo.name} SLO (${(slo.objective * 100).toPrecision(12).replace(/\.?0+$/, '')}% over ${promDuration(slo.periodMs)}) burns its budget faster than ${severityRules.map((a) => `${a.burnRate}×`).join(' or ')}.`,
          },
        });
      }
    }
    if (rules.length > 0) groups.push({ name: `gantry-slo-${project}-${slo.name}`, rules });
  }
  return { groups };
}
