/**
 * The `slos` section of gantry.yaml: raw YAML as users write it (`99.9%`, `30d`, `300ms`,
 * kebab-case keys) in, the normalised SloConfig list of src/core/slo-config.ts out, with the
 * SRE workbook's burn-rate alerts filled in unless overridden. Which SLI an SLO measures follows
 * from its keys, as in Sloth and Pyrra: `threshold` makes it a latency SLO, `prometheus` a
 * PromQL one, neither an availability SLO from the proxy's requests.
 */
import { z } from 'zod';
import type { BurnRateRule, CalendarPeriod, SloConfig } from '../core/slo-config.ts';
import { CALENDAR_PERIOD_MS, defaultBurnRateRules, hasWindowPlaceholder } from '../core/slo-config.ts';
import { compact, duration, expected, ID_PATTERN, idString } from './config-common.ts';
import { percentageToFraction } from './config-delivery-schema.ts';
import { parseDuration } from './durations.ts';

type Path = readonly (string | number)[];

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const PERCENTAGE = /^\d+(?:\.\d+)?\s*%$/;
const WINDOW_PLACEHOLDER = '{{window}}';

/** `99.9%` or 0.999; strictly between 0 and 1, since an objective of 100 % leaves no budget. */
const objective = z
  .union(
    [z.number(), z.string().regex(PERCENTAGE, { error: (i) => `invalid objective '${String(i.input)}': write it like 99.9% or 0.999` })],
    expected('a percentage such as 99.9% or a fraction such as 0.999'),
  )
  .transform((value, ctx) => {
    const fraction = typeof value === 'number' ? value : percentageToFraction(value);
    if (!(fraction > 0 && fraction < 1)) {
      const hint = typeof value === 'number' && value > 1 && value < 100 ? ` (write ${value}% for a percentage)` : '';
      ctx.addIssue({ code: 'custom', message: `expected an objective above 0 and below 100%, got ${String(value)}${hint}`, input: value });
      return z.NEVER;
    }
    return fraction;
  });

const PERIOD = /^(\d+)\s*([dw])$/;

/** `30d`, `4w`, or a duration (`12h`); between one hour and a year. */
export function parsePeriod(text: string | number): number {
  const match = typeof text === 'string' ? PERIOD.exec(text.trim()) : null;
  const ms = match !== null ? Number(match[1]) * (match[2] === 'w' ? 7 : 1) * DAY : parseDuration(text);
  if (ms < HOUR || ms > 366 * DAY) throw new RangeError(`a period must be between 1h and 366d, got '${String(text)}'`);
  return ms;
}

/**
 * A rolling period (`30d`, `4w`, `12h`) or a calendar one (`month`, `week`: Nobl9's and
 * OpenSLO's calendar-aligned windows, Datadog's "month to date"), in UTC.
 */
const period = z
  .union([z.string(), z.number()], expected('a period such as 30d, 4w, 12h, month or week'))
  .transform((value, ctx): { periodMs: number; calendar?: CalendarPeriod } => {
    if (value === 'month' || value === 'week') return { periodMs: CALENDAR_PERIOD_MS[value], calendar: value };
    try {
      return { periodMs: parsePeriod(value) };
    } catch (error) {
      const message = (error as Error).message.replace(
        'a value like 500ms, 30s, 5m, 1h or 1h30m',
        'a period such as 30d, 4w or 12h, or month or week for a calendar period',
      );
      ctx.addIssue({ code: 'custom', message, input: value });
      return z.NEVER;
    }
  });

const promql = z.string(expected('a PromQL expression')).refine(hasWindowPlaceholder, {
  error: `expected a PromQL expression with ${WINDOW_PLACEHOLDER} where the range goes, e.g. sum(rate(http_requests_total[${WINDOW_PLACEHOLDER}]))`,
});

const prometheusMap = z.strictObject(
  {
    good: promql.describe('The rate of good events, with {{window}} as the range.'),
    total: promql.describe('The rate of all events, with {{window}} as the range.'),
  },
  expected('a map with good and total'),
);

const alertRuleMap = z
  .strictObject(
    {
      severity: z.enum(['page', 'ticket']).describe('page: someone is woken; ticket: looked at in working hours.'),
      'burn-rate': z
        .number(expected('a number'))
        .positive()
        .describe('Fire when both windows burn faster than this (1 = the whole budget over the period).'),
      'long-window': duration.describe('The window that makes the alert significant.'),
      'short-window': duration.describe('The window that makes it stop soon after the burning does (about 1/12 of the long one).'),
    },
    expected('a map with severity, burn-rate, long-window and short-window'),
  )
  .refine((rule) => rule['short-window'] < rule['long-window'], {
    error: 'short-window must be shorter than long-window',
    path: ['short-window'],
  })
  .transform(
    (rule): BurnRateRule => ({
      severity: rule.severity,
      burnRate: rule['burn-rate'],
      longWindowMs: rule['long-window'],
      shortWindowMs: rule['short-window'],
    }),
  );

const environmentList = z.array(idString('environment name'), expected('a list of environment names')).min(1);

const sloMap = z.strictObject(
  {
    objective: objective.describe('The share of good events to meet, e.g. 99.9%.'),
    period: period
      .optional()
      .describe(
        'The period the objective holds over: rolling (default 30d) or calendar (month, week; UTC), whose budget resets at its start.',
      ),
    threshold: duration.optional().describe('Makes it a latency SLO: good = answered within this time, at the proxy.'),
    prometheus: prometheusMap.optional().describe('Makes it an SLO over any SLI in Prometheus.'),
    alerts: z
      .union([z.literal(false), z.array(alertRuleMap)], expected('false or a list of burn-rate rules'))
      .optional()
      .describe("Burn-rate alerts (default: the SRE workbook's, scaled to the period); false for none."),
    environments: environmentList.optional().describe('The environments it applies to (default: the section’s, or all).'),
  },
  expected('a map with objective'),
);

type SloInput = z.output<typeof sloMap>;

function normalise(name: string, raw: SloInput, defaultEnvironments: string[] | undefined): SloConfig {
  const { periodMs, calendar } = raw.period ?? { periodMs: 30 * DAY };
  const sli: SloConfig['sli'] =
    raw.prometheus !== undefined
      ? { kind: 'prometheus', good: raw.prometheus.good, total: raw.prometheus.total }
      : raw.threshold !== undefined
        ? { kind: 'latency', thresholdMs: raw.threshold }
        : { kind: 'availability' };
  return compact({
    name,
    objective: raw.objective,
    periodMs,
    calendar,
    sli,
    alerts: raw.alerts === false ? [] : (raw.alerts ?? defaultBurnRateRules(periodMs)),
    environments: raw.environments ?? defaultEnvironments,
  });
}

/**
 * `slos:` — a map of SLO name → SLO, plus `environments`, the default list of environments the
 * SLOs apply to. Normalised to a list in the order written.
 */
export const slosSchema = z
  .object(
    { environments: environmentList.optional().describe('The environments the SLOs apply to (default: all).') },
    expected('a map of SLO names to SLOs'),
  )
  .catchall(sloMap)
  .superRefine(
    (raw, ctx) => {
      // Runs even when some SLO has problems of its own, so a bad name is reported with them.
      for (const [name, slo] of Object.entries(raw)) {
        if (name === 'environments') continue;
        if (!ID_PATTERN.test(name)) {
          ctx.addIssue({
            code: 'custom',
            message: `invalid SLO name '${name}': use letters, digits, - and _, starting with a letter or _`,
            path: [name],
            input: name,
          });
        }
        // With `when`, values may still be raw here.
        const fields = slo as Partial<SloInput> | null;
        if (typeof fields === 'object' && fields !== null && fields.threshold !== undefined && fields.prometheus !== undefined) {
          ctx.addIssue({
            code: 'custom',
            message: 'an SLO measures one SLI: give threshold (latency at the proxy) or prometheus, not both',
            path: [name, 'prometheus'],
            input: fields.prometheus,
          });
        }
      }
    },
    { when: () => true },
  )
  .transform((raw): SloConfig[] => {
    const { environments, ...slos } = raw;
    return Object.entries(slos).map(([name, slo]) => normalise(name, slo as SloInput, environments));
  })
  .describe('Service level objectives, by name, with burn-rate alerts; environments: where they apply.');

export type SloMapKind = 'slo' | 'slo-prometheus' | 'slo-alert';

export const SLO_KNOWN_KEYS: Readonly<Record<SloMapKind, readonly string[]>> = {
  slo: Object.keys(sloMap.shape),
  'slo-prometheus': Object.keys(prometheusMap.shape),
  'slo-alert': Object.keys(alertRuleMap.in.shape),
};

/** Which kind of map with fixed keys sits at a path inside `slos`, and how to name the place. */
export function sloPlace(path: Path): { kind: SloMapKind | undefined; context: string } | undefined {
  if (path[0] !== 'slos') return undefined;
  if (path.length === 1) return { kind: undefined, context: "in 'slos'" };
  const name = String(path[1]);
  if (path.length === 2)
    return name === 'environments' ? { kind: undefined, context: "in 'slos'" } : { kind: 'slo', context: `in SLO '${name}'` };
  if (path.length === 3 && path[2] === 'prometheus') return { kind: 'slo-prometheus', context: `in the prometheus SLI of SLO '${name}'` };
  if (path.length === 4 && path[2] === 'alerts' && typeof path[3] === 'number') {
    return { kind: 'slo-alert', context: `in alert rule ${path[3] + 1} of SLO '${name}'` };
  }
  return { kind: undefined, context: `in '${path.slice(2).join('.')}' of SLO '${name}'` };
}

/** What the checks need from load-config's diagnostics collector (as config-delivery-checks.ts). */
interface SloCheckSink {
  rawAt(path: Path): unknown;
  valueOffset(path: Path): number;
  report(offset: number, message: string): void;
}

/** SLOs may name only environments the file declares (when it declares any). */
export function checkSlos(sink: SloCheckSink): void {
  const slos = sink.rawAt(['slos']);
  const environments = sink.rawAt(['environments']);
  if (!isObject(slos) || !isObject(environments)) return;
  const declared = Object.keys(environments);
  const check = (list: unknown, path: Path): void => {
    if (!Array.isArray(list)) return;
    list.forEach((name, i) => {
      if (typeof name !== 'string' || declared.includes(name)) return;
      sink.report(
        sink.valueOffset([...path, i]),
        `environment '${name}' is not declared in 'environments' (declared: ${declared.join(', ')})`,
      );
    });
  };
  check(slos.environments, ['slos', 'environments']);
  for (const [name, value] of Object.entries(slos))
    if (name !== 'environments' && isObject(value)) check(value.environments, ['slos', name, 'environments']);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
