import { describe, expect, it } from 'vitest';
import type { AlertState, AlertTransition, HistoryBucket } from '../../src/slo/index.ts';
import {
  INACTIVE,
  burnRate,
  compactHistory,
  defaultBurnRateRules,
  historyTiers,
  readRules,
  recordEvents,
  stepAlert,
  sumEvents,
} from '../../src/slo/index.ts';

const SECOND = 1000;
const DAY = 86_400_000;

/**
 * A 1-day 99.9 % SLO under 50 req/s, evaluated every 2 s from a downsampled history, as the
 * server does. `badPerSecond(s)` says how many of each second's requests fail.
 */
function simulate(seconds: number, badPerSecond: (s: number) => number): { transitions: AlertTransition[]; page: AlertState } {
  const objective = 0.999;
  const rules = defaultBurnRateRules(DAY);
  const tiers = historyTiers(DAY);
  let history: HistoryBucket[] = [];
  let page: AlertState = INACTIVE;
  let ticket: AlertState = INACTIVE;
  const transitions: AlertTransition[] = [];
  for (let s = 0; s < seconds; s++) {
    const bad = badPerSecond(s);
    history = recordEvents(history, tiers, s * SECOND, { good: 50 - bad, total: 50 });
    if (s % 2 !== 1) continue;
    const now = (s + 1) * SECOND;
    history = compactHistory(history, tiers, now);
    const readings = readRules(rules, (windowMs) => burnRate(sumEvents(history, now - windowMs, now), objective), now);
    const p = stepAlert(page, 'page', readings, now);
    const t = stepAlert(ticket, 'ticket', readings, now);
    page = p.state;
    ticket = t.state;
    for (const x of [p.transition, t.transition]) if (x !== undefined) transitions.push(x);
  }
  return { transitions, page };
}

describe('burn-rate alerts', () => {
  it('page within seconds of a full outage, once, and resolve by themselves after recovery', () => {
    const outageFrom = 900;
    const outageTo = 960;
    const { transitions, page } = simulate(1200, (s) => (s >= outageFrom && s < outageTo ? 50 : 0));
    const pages = transitions.filter((t) => t.severity === 'page');
    expect(pages.map((t) => t.type)).toEqual(['fired', 'resolved']);
    const [fired, resolved] = pages as [AlertTransition, AlertTransition];
    expect(fired.atMs - outageFrom * SECOND).toBeLessThanOrEqual(4 * SECOND);
    // It resolves once the slower page rule's short window (1 minute at this period) has
    // forgotten the outage, although both long windows still remember it.
    expect(resolved.atMs).toBeGreaterThan(outageTo * SECOND);
    expect(resolved.atMs - outageTo * SECOND).toBeLessThanOrEqual(64 * SECOND);
    if (resolved.type !== 'resolved') throw new Error('expected a resolution');
    expect(resolved.firedAtMs).toBe(fired.atMs);
    expect(resolved.peakBurnRate).toBeGreaterThan(14.4);
    expect(page).toEqual(INACTIVE);
    expect(fired.readings.find((r) => r.holds)?.rule.burnRate).toBe(14.4);
  });

  it('page nothing at a 0.5 % error rate (5× burn, below both page rules) but open a ticket', () => {
    // One failure in every 200 requests, spread evenly: 5× the 0.1 % budget.
    const { transitions } = simulate(3 * 3600, (s) => (s % 4 === 0 ? 1 : 0));
    expect(transitions.filter((t) => t.severity === 'page')).toEqual([]);
    expect(transitions.filter((t) => t.severity === 'ticket').map((t) => t.type)).toEqual(['fired']);
  });

  it('needs both windows: a single failed request burns fast over 10 s but not over 2 minutes', () => {
    const quiet = simulate(900, (s) => (s === 800 ? 1 : 0));
    expect(quiet.transitions.filter((t) => t.severity === 'page')).toEqual([]);
  });

  it('does not page on the first seconds of traffic before a long window has been measured', () => {
    // One failure among the first 100 requests is a 10× burn over those 2 s.
    const start = simulate(60, (s) => (s === 0 ? 1 : 0));
    expect(start.transitions).toEqual([]);
  });
});
