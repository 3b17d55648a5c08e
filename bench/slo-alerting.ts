/**
 * Burn-rate alerting end to end (issue "SLOs", its first target), black-box: one `gantry up`, two
 * projects running the fixture service behind their proxies, each with a 1-day 99.9 %
 * availability SLO and its default alerts (the workbook's, windows scaled by 1 day / 30 days),
 * 50 req/s of open-loop load on each, for the whole run.
 *
 * - `outage`: healthy until every page rule's long window has been observed (12 min; QUICK=1:
 *   the fast rule's 2 min), as on a service that has been running for a while; then a full
 *   outage (POST /outage/on: the service answers 500 to everything) → time to the page alert
 *   (the `slo.alert.fired` event) and to the incident (`incident.opened`); OUTAGE_S [30] s
 *   after it began (or at the incident, if later), recovery → time
 *   until the page resolves by itself.
 * - `burn`: a fresh SLO history at 0.5 % random errors (5× burn) from its first request for
 *   BURN_MINUTES [13] (QUICK=1: 3), long enough by default that both page rules' long windows
 *   (2 and 12 min) are observed; counts pages (target 0) and tickets, and keeps the highest
 *   burn rates each rule read while its long window was covered (its margin to firing).
 *
 * Both projects share the server and run at the same time so that the whole run stays ~14 min.
 */
import { benchMain, epochMs, progress, round, waitFor } from './lib.ts';
import { type GantryEvent, DeliveryBench, OpenLoopLoad, summarize } from './delivery-lib.ts';

const RATE = Number(process.env.RATE ?? 50);
const OUTAGE_S = Number(process.env.OUTAGE_S ?? 30);
const QUICK = process.env.QUICK === '1';
const BURN_MINUTES = Number(process.env.BURN_MINUTES ?? (QUICK ? 3 : 13));
const BURN_FAIL_RATE = Number(process.env.BURN_FAIL_RATE ?? 0.005);
const OBJECTIVE = 0.999;
const TARGETS = { page_within_s: 15, incident_within_s: 20, pages_at_5x_burn: 0, burn_minutes: 10 };

interface RuleView {
  severity: string;
  burnRate: number;
  longWindowMs: number;
  shortWindowMs: number;
  longBurnRate: number;
  shortBurnRate: number;
  holds: boolean;
}
interface SloView {
  environment: string;
  budget: { total: number; bad: number; remaining: number };
  rules: RuleView[];
  alerts: Record<string, { status: string }>;
  sinceMs: number;
}

const environments = { production: { strategy: { recreate: {} } } };
const slos = { availability: { objective: '99.9%', period: '1d' } };

const seconds = (ms: number) => round(ms / 1000, 1);
const windowName = (ms: number) => (ms >= 60_000 ? `${round(ms / 60_000, 1)}m` : `${round(ms / 1000, 1)}s`);

/** A project's service deployed to production, its proxy port, and load on it. */
async function deployed(bench: DeliveryBench, failRate: number): Promise<{ port: number; load: OpenLoopLoad }> {
  const release = await bench.release({ version: 'v1', failRate });
  await bench.settled('production', await bench.deploy('production', release), 90_000);
  const port = await bench.port('production');
  return { port, load: new OpenLoopLoad({ port, rate: RATE }).start() };
}

async function sloOf(bench: DeliveryBench): Promise<SloView> {
  const { slos: views } = await bench.server.api<{ slos: SloView[] }>('GET', `/api/projects/${bench.project}/slos`);
  const view = views[0];
  if (view === undefined) throw new Error(`${bench.project} has no SLO yet`);
  return view;
}

function events(bench: DeliveryBench, type: string): Promise<GantryEvent[]> {
  return bench.server
    .api<{ events: GantryEvent[] }>('GET', `/api/events?type=${encodeURIComponent(type)}&project=${bench.project}&limit=1000`)
    .then((r) => r.events);
}

async function post(port: number, path: string): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', signal: AbortSignal.timeout(5000) });
  if (!r.ok) throw new Error(`POST ${path}: ${r.status}`);
  await r.arrayBuffer();
}

/** Healthy warm-up, outage, recovery: times from the outage to the page and the incident, and from recovery to the resolve. */
async function outagePhase(bench: DeliveryBench, port: number, warmUpMs: number): Promise<Record<string, unknown>> {
  const warmUpUntil = (await sloOf(bench)).sinceMs + warmUpMs + 5_000;
  progress(`outage: healthy warm-up until the ${windowName(warmUpMs)} window is observed`);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, warmUpUntil - epochMs())));
  const early = (await events(bench, 'slo.alert.*')).length;
  const outageAt = epochMs();
  await post(port, '/outage/on');
  progress('outage: the service answers 500 to everything');
  const fired = await waitFor(
    'the page alert',
    async () => (await events(bench, 'slo.alert.fired')).find((e) => e.data.severity === 'page'),
    120_000,
    250,
  );
  const incident = await waitFor('the incident', async () => (await events(bench, 'incident.opened'))[0], 120_000, 250);
  const firedAt = Date.parse(fired.at);
  const incidentAt = Date.parse(incident.at);
  progress(`outage: paged after ${seconds(firedAt - outageAt)} s, incident after ${seconds(incidentAt - outageAt)} s`);
  // An outage lasts a while in earnest: OUTAGE_S, or until the incident if that is later.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, outageAt + OUTAGE_S * 1000 - epochMs())));
  const recoveredAt = epochMs();
  await post(port, '/outage/off');
  const resolved = await waitFor(
    'the page to resolve',
    async () => (await events(bench, 'slo.alert.resolved')).find((e) => e.data.severity === 'page'),
    300_000,
    250,
  );
  const resolvedAt = Date.parse(resolved.at);
  progress(`outage: resolved ${seconds(resolvedAt - recoveredAt)} s after recovery`);
  const firedRules = (fired.data.readings ?? []) as (Omit<RuleView, 'severity'> & { holds: boolean })[];
  return {
    warm_up_s: seconds(outageAt - (warmUpUntil - warmUpMs - 5_000)),
    alert_events_before_outage: early,
    page_after_s: seconds(firedAt - outageAt),
    incident_after_s: seconds(incidentAt - outageAt),
    outage_lasted_s: seconds(recoveredAt - outageAt),
    resolved_after_recovery_s: seconds(resolvedAt - recoveredAt),
    rules_holding_at_page: firedRules
      .filter((r) => r.holds)
      .map(
        (r) => `${r.burnRate}x over ${windowName(r.longWindowMs)}/${windowName(r.shortWindowMs)}: ${r.longBurnRate}x/${r.shortBurnRate}x`,
      ),
  };
}

/** 0.5 % errors from a fresh history for BURN_MINUTES: the alerts it raised and the highest armed burn rates. */
async function burnPhase(bench: DeliveryBench, startedAt: number): Promise<Record<string, unknown>> {
  const until = startedAt + BURN_MINUTES * 60_000;
  /** Per rule: the highest min(long, short) burn rate read while its long window was covered. */
  const peaks = new Map<string, { rule: string; armedForS: number; peakBurnRate: number; threshold: number; held: boolean }>();
  let sampledAt = epochMs();
  while (epochMs() < until) {
    const view = await sloOf(bench);
    const observed = epochMs() - view.sinceMs;
    const stepS = (epochMs() - sampledAt) / 1000;
    sampledAt = epochMs();
    for (const r of view.rules) {
      if (observed < r.longWindowMs) continue;
      const name = `${r.severity} ${r.burnRate}x over ${windowName(r.longWindowMs)}/${windowName(r.shortWindowMs)}`;
      const peak = peaks.get(name) ?? { rule: name, armedForS: 0, peakBurnRate: 0, threshold: r.burnRate, held: false };
      peak.armedForS += stepS;
      peak.peakBurnRate = Math.max(peak.peakBurnRate, Math.min(r.longBurnRate, r.shortBurnRate));
      peak.held ||= r.holds;
      peaks.set(name, peak);
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  const fired = await events(bench, 'slo.alert.fired');
  const inTen = (e: GantryEvent) => Date.parse(e.at) - startedAt <= 10 * 60_000;
  const pages = fired.filter((e) => e.data.severity === 'page');
  const view = await sloOf(bench);
  return {
    minutes: BURN_MINUTES,
    fail_rate: BURN_FAIL_RATE,
    measured_error_rate: round(view.budget.bad / Math.max(1, view.budget.total), 5),
    burn_rate: round(view.budget.bad / Math.max(1, view.budget.total) / (1 - OBJECTIVE), 2),
    pages: pages.length,
    pages_in_first_10_min: pages.filter(inTen).length,
    tickets: fired.filter((e) => e.data.severity === 'ticket').length,
    page_events: pages.map((e) => ({ at_s: seconds(Date.parse(e.at) - startedAt), readings: e.data.readings })),
    armed_rules: [...peaks.values()].map((p) => ({ ...p, armedForS: round(p.armedForS, 0), peakBurnRate: round(p.peakBurnRate, 2) })),
  };
}

await benchMain('slo-alerting', (BURN_MINUTES + 6) * 60_000, async () => {
  if (QUICK) progress(`QUICK=1: the 0.5 % phase lasts ${BURN_MINUTES} min, not the target's 10 (or the default 13)`);
  const service = { environments, slos, drainTimeout: '1s' };
  const outage = await DeliveryBench.create(service, 'outage');
  const burn = await DeliveryBench.create(service, 'burn', outage.server);
  const [o, b] = await Promise.all([deployed(outage, 0), deployed(burn, BURN_FAIL_RATE)]);
  const burnStartedAt = epochMs();
  progress(`load: ${RATE} req/s on each; burn phase: ${BURN_FAIL_RATE * 100} % errors for ${BURN_MINUTES} min`);
  const rules = (
    await waitFor(
      'the SLOs to be evaluated',
      async () => {
        const views = await Promise.all([sloOf(outage), sloOf(burn)]).catch(() => []);
        return views.length === 2 && views.every((v) => v.rules.length > 0) ? views[0]?.rules : undefined;
      },
      30_000,
      500,
    )
  ).map((r) => ({
    severity: r.severity,
    burn_rate: r.burnRate,
    long_window: windowName(r.longWindowMs),
    short_window: windowName(r.shortWindowMs),
    budget_spent_at_firing: round((r.burnRate * r.longWindowMs) / (24 * 3600_000), 3),
  }));
  progress(
    `alert windows (1-day period): ${rules.map((r) => `${r.severity} ${r.burn_rate}x ${r.long_window}/${r.short_window}`).join('; ')}`,
  );
  // Every page rule armed, as on a service that has run for a while (QUICK: only the fast one,
  // which is the one an outage trips first).
  const pageWindows = (await sloOf(outage)).rules.filter((r) => r.severity === 'page').map((r) => r.longWindowMs);
  const warmUpMs = QUICK ? Math.min(...pageWindows) : Math.max(...pageWindows);
  const [outageResult, burnResult] = await Promise.all([outagePhase(outage, o.port, warmUpMs), burnPhase(burn, burnStartedAt)]);
  const [outageLoad, burnLoad] = await Promise.all([o.load.stop(), b.load.stop()]);
  const { failure_examples: _o, ...outageTraffic } = summarize(outageLoad);
  const { failure_examples: _b, ...burnTraffic } = summarize(burnLoad);
  const met =
    (outageResult.page_after_s as number) <= TARGETS.page_within_s &&
    (outageResult.incident_after_s as number) <= TARGETS.incident_within_s &&
    burnResult.pages_in_first_10_min === 0 &&
    BURN_MINUTES >= TARGETS.burn_minutes;
  return {
    quick: QUICK,
    rate_per_s: RATE,
    slo: { objective: OBJECTIVE, period: '1d', alert_rules: rules },
    targets: TARGETS,
    outage: outageResult,
    burn: burnResult,
    met,
    traffic: { outage: outageTraffic, burn: burnTraffic },
  };
});
