import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { budgetSpentAtFiring, defaultBurnRateRules } from '../../src/slo/index.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface SlothWindow {
  errorBudgetPercent: number;
  shortWindow: string;
  longWindow: string;
}

/** Sloth's catalogue (test/slo/reference/README.md): the workbook's table as data. */
function sloth(period: '28d' | '30d'): {
  periodMs: number;
  page: Record<'quick' | 'slow', SlothWindow>;
  ticket: Record<'quick' | 'slow', SlothWindow>;
} {
  const doc = parse(readFileSync(new URL(`reference/sloth-google-${period}.yaml`, import.meta.url), 'utf8'));
  return { periodMs: ms(doc.sloPeriod), page: doc.page, ticket: doc.ticket };
}

function ms(text: string): number {
  const match = /^(\d+)([mhd])$/.exec(text);
  if (match === null) throw new Error(`unexpected window ${text}`);
  return Number(match[1]) * { m: 60_000, h: HOUR, d: DAY }[match[2] as 'm' | 'h' | 'd'];
}

/** Sloth's burn-rate factor: the speed that spends errorBudgetPercent of the period's budget in the long window. */
function slothSpeed(periodMs: number, window: SlothWindow): number {
  return ((window.errorBudgetPercent / 100) * periodMs) / ms(window.longWindow);
}

describe('default burn-rate rules', () => {
  it("are the workbook's page and ticket rules for a 30-day period, as Sloth's catalogue has them", () => {
    const ref = sloth('30d');
    const expected = [ref.page.quick, ref.page.slow, ref.ticket.slow].map((w, i) => ({
      severity: i < 2 ? 'page' : 'ticket',
      longWindowMs: ms(w.longWindow),
      shortWindowMs: ms(w.shortWindow),
      burnRate: slothSpeed(ref.periodMs, w),
    }));
    const rules = defaultBurnRateRules(ref.periodMs);
    expect(rules.map((r) => ({ ...r, burnRate: Number(r.burnRate.toFixed(9)) }))).toEqual(
      expected.map((r) => ({ ...r, burnRate: Number(r.burnRate.toFixed(9)) })),
    );
    expect(rules.map((r) => r.burnRate)).toEqual([14.4, 6, 1]);
  });

  it("fire at the same share of the budget as Sloth's 28-day catalogue, with windows scaled instead of burn rates", () => {
    const ref = sloth('28d');
    const rules = defaultBurnRateRules(ref.periodMs);
    const spent = [ref.page.quick, ref.page.slow, ref.ticket.slow].map((w) => w.errorBudgetPercent / 100);
    expect(rules.map((rule) => Number(budgetSpentAtFiring(rule, ref.periodMs).toFixed(12)))).toEqual(spent);
    expect(rules[0]?.longWindowMs).toBe(56 * 60_000);
  });

  it('scale every window with the period: a 1-day SLO pages on 2-minute and 10-second windows', () => {
    const [fast, slow, ticket] = defaultBurnRateRules(DAY);
    expect(fast).toEqual({ severity: 'page', burnRate: 14.4, longWindowMs: 120_000, shortWindowMs: 10_000 });
    expect(slow).toEqual({ severity: 'page', burnRate: 6, longWindowMs: 12 * 60_000, shortWindowMs: 60_000 });
    expect(ticket).toEqual({ severity: 'ticket', burnRate: 1, longWindowMs: 2.4 * HOUR, shortWindowMs: 12 * 60_000 });
  });
});
