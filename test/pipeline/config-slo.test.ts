import { describe, expect, it } from 'vitest';
import type { SloConfig } from '../../src/core/slo-config.ts';
import { parsePeriod } from '../../src/pipeline/config-slo-schema.ts';
import { parseConfig, validateConfig } from '../../src/pipeline/load-config.ts';

const HEAD = [
  'pipeline:',
  '  jobs: { build: { steps: [make] } }',
  'service: { run: x }',
  'environments: { staging: {}, production: {} }',
  'slos:',
];
const DAY = 86_400_000;

/** `line:col: message` for each diagnostic of a file whose slos section is given (indented 2); line 6 is the first. */
function problems(...sloLines: string[]): string[] {
  const text = [...HEAD, ...sloLines.map((line) => `  ${line}`)].join('\n');
  return validateConfig(text, 'gantry.yaml').diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`);
}

function slos(...sloLines: string[]): SloConfig[] {
  return parseConfig([...HEAD, ...sloLines.map((line) => `  ${line}`)].join('\n'), 'gantry.yaml').slos ?? [];
}

describe('the slos section', () => {
  it("reads the issue's example: availability, latency and a Prometheus SLI, for the listed environments", () => {
    const [availability, latency, checkout] = slos(
      'availability: { objective: 99.9%, period: 30d }',
      'latency:      { objective: 99%, threshold: 300ms, period: 30d }',
      'checkout:',
      '  objective: 99.5%',
      "  prometheus: { good: 'sum(rate(orders_ok_total[{{window}}]))', total: 'sum(rate(orders_total[{{window}}]))' }",
      'environments: [production]',
    );
    expect(availability).toMatchObject({
      name: 'availability',
      objective: 0.999,
      periodMs: 30 * DAY,
      sli: { kind: 'availability' },
      environments: ['production'],
    });
    expect(latency).toMatchObject({ name: 'latency', objective: 0.99, sli: { kind: 'latency', thresholdMs: 300 } });
    expect(checkout).toMatchObject({
      objective: 0.995,
      periodMs: 30 * DAY,
      sli: { kind: 'prometheus', good: 'sum(rate(orders_ok_total[{{window}}]))', total: 'sum(rate(orders_total[{{window}}]))' },
    });
    expect(availability?.alerts.map((a) => [a.severity, a.burnRate, a.longWindowMs, a.shortWindowMs])).toEqual([
      ['page', 14.4, 3_600_000, 300_000],
      ['page', 6, 21_600_000, 1_800_000],
      ['ticket', 1, 3 * DAY, 21_600_000],
    ]);
  });

  it("takes calendar periods (month, week) with the workbook's alerts, and Sloth's {{.window}} spelling", () => {
    const [monthly, weekly, sloth] = slos(
      'monthly: { objective: 99.9%, period: month }',
      'weekly: { objective: 99.9%, period: week }',
      "sloth: { objective: 99%, prometheus: { good: 'sum(rate(ok[{{.window}}]))', total: 'sum(rate(all[{{ .window }}]))' } }",
    );
    expect(monthly).toMatchObject({ periodMs: 30 * DAY, calendar: 'month' });
    expect(monthly?.alerts[0]).toMatchObject({ longWindowMs: 3_600_000, shortWindowMs: 300_000 });
    expect(weekly).toMatchObject({ periodMs: 7 * DAY, calendar: 'week' });
    expect(sloth?.sli).toEqual({ kind: 'prometheus', good: 'sum(rate(ok[{{.window}}]))', total: 'sum(rate(all[{{ .window }}]))' });
    expect(problems('q: { objective: 99%, period: quarter }')).toEqual([
      "6:32: 'period' in SLO 'q': invalid duration 'quarter': use a number of seconds or a period such as 30d, 4w or 12h, or month or week for a calendar period",
    ]);
  });

  it('scales the default alerts to the period and takes rules or false instead', () => {
    const [daily, custom, silent] = slos(
      'daily: { objective: 0.999, period: 1d }',
      'custom:',
      '  objective: 99%',
      '  period: 4w',
      '  alerts: [{ severity: page, burn-rate: 10, long-window: 30m, short-window: 3m }]',
      '  environments: [staging]',
      'silent: { objective: 99%, alerts: false }',
    );
    expect(daily?.alerts[0]).toEqual({ severity: 'page', burnRate: 14.4, longWindowMs: 120_000, shortWindowMs: 10_000 });
    expect(daily?.environments).toBeUndefined();
    expect(custom).toMatchObject({
      periodMs: 28 * DAY,
      alerts: [{ severity: 'page', burnRate: 10, longWindowMs: 1_800_000, shortWindowMs: 180_000 }],
      environments: ['staging'],
    });
    expect(silent?.alerts).toEqual([]);
  });

  it('reports each mistake at its line and column, with what was expected', () => {
    expect(
      problems(
        'a: { objectve: 99.9% }',
        'b: { objective: 100% }',
        'c: { objective: 99.9 }',
        'd: { objective: 99%, period: 30x }',
        "e: { objective: 99%, prometheus: { good: 'sum(rate(ok[5m]))', total: 'sum(rate(all[{{window}}]))' } }",
        "f: { objective: 99%, threshold: 1s, prometheus: { good: 'x[{{window}}]', total: 'y[{{window}}]' } }",
        'g: { objective: 99%, alerts: [{ severity: page, burn-rate: 2, long-window: 5m, short-window: 1h }] }',
        'h: { objective: 99%, environments: [prod] }',
        'i j: { objective: 99% }',
      ),
    ).toEqual([
      "6:8: unknown key 'objectve' in SLO 'a' (did you mean 'objective'?)",
      "7:19: 'objective' in SLO 'b': expected an objective above 0 and below 100%, got 100%",
      "8:19: 'objective' in SLO 'c': expected an objective above 0 and below 100%, got 99.9 (write 99.9% for a percentage)",
      "9:32: 'period' in SLO 'd': invalid duration '30x': use a number of seconds or a period such as 30d, 4w or 12h, or month or week for a calendar period",
      "10:44: 'good' in the prometheus SLI of SLO 'e': expected a PromQL expression with {{window}} where the range goes, e.g. sum(rate(http_requests_total[{{window}}]))",
      "11:51: 'prometheus' in SLO 'f': an SLO measures one SLI: give threshold (latency at the proxy) or prometheus, not both",
      "12:96: 'short-window' in alert rule 1 of SLO 'g': short-window must be shorter than long-window",
      "13:39: environment 'prod' is not declared in 'environments' (declared: staging, production)",
      "14:8: 'i j' in 'slos': invalid SLO name 'i j': use letters, digits, - and _, starting with a letter or _",
    ]);
  });

  it('takes periods in days, weeks or hours, between an hour and a year', () => {
    expect(parsePeriod('30d')).toBe(30 * DAY);
    expect(parsePeriod('4w')).toBe(28 * DAY);
    expect(parsePeriod('12h')).toBe(DAY / 2);
    expect(() => parsePeriod('30m')).toThrow('between 1h and 366d');
    expect(() => parsePeriod('400d')).toThrow('between 1h and 366d');
  });
});
