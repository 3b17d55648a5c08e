/**
 * SloService on a real SQLite store, with time on a ManualClock and the proxy's traffic and the
 * environments' SLOs given at its two ports: roll-ups are appended to the store as the recorder
 * does every 10 s, the live window is the seconds since.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.ts';
import type { SloConfig } from '../../../src/core/slo-config.ts';
import { defaultBurnRateRules } from '../../../src/core/slo-config.ts';
import { SloService } from '../../../src/server/slo/index.ts';
import type { Store } from '../../../src/store/index.ts';
import { openStore } from '../../../src/store/index.ts';
import { sqliteTestDatabase, type TestDatabase } from '../../support/databases.ts';
import { waitFor } from '../../support/wait.ts';

const DAY = 86_400_000;
const START = Date.UTC(2026, 11, 1); // a multiple of 10 s
const ENV = { gantryVersion: '0.1.0', nodeVersion: 'v24', host: 'test' };

const AVAILABILITY: SloConfig = {
  name: 'availability',
  objective: 0.999,
  periodMs: DAY,
  sli: { kind: 'availability' },
  alerts: defaultBurnRateRules(DAY),
};

/** 50 requests a second; `failing(second)` says whether that second's requests all fail. */
class Traffic {
  failing: (second: number) => boolean = () => false;
  rate = 50;
  counts(fromMs: number, toMs: number): { requests: number; errors: number; latency: [] } {
    let requests = 0;
    let errors = 0;
    for (let s = Math.ceil((fromMs - START) / 1000); s < Math.ceil((toMs - START) / 1000); s++) {
      requests += this.rate;
      if (this.failing(s)) errors += this.rate;
    }
    return { requests, errors, latency: [] };
  }
}

describe('SloService', () => {
  let database: TestDatabase;
  let store: Store;
  let projectId: string;
  let clock: ManualClock;
  let traffic: Traffic;
  let rolledUpTo: number;
  let slos: SloConfig[];

  beforeEach(async () => {
    database = await sqliteTestDatabase();
    store = await openStore({ url: database.url });
    projectId = (await store.projects.create({ name: 'shop', source: { kind: 'local', path: '/x' }, webhookSecret: 'w' })).id;
    clock = new ManualClock(START);
    traffic = new Traffic();
    rolledUpTo = START;
    slos = [AVAILABILITY];
  });
  afterEach(async () => {
    await store.close();
    await database.cleanup();
  });

  function service(overrides: { store?: Store } = {}): SloService {
    return new SloService({
      store: overrides.store ?? store,
      clock,
      targets: async () => [{ projectId, environment: 'production', slos }],
      traffic: async (_p, _e, sinceMs, untilMs) => traffic.counts(sinceMs, untilMs),
      eventEnv: () => ENV,
      warn: () => undefined,
    });
  }

  /** Moves time on by `seconds`, appending the roll-ups the recorder would, evaluating every 2 s. */
  async function run(slo: SloService, seconds: number): Promise<void> {
    for (let i = 0; i < seconds; i += 2) {
      clock.advance(2000);
      while (rolledUpTo + 10_000 <= clock.now()) {
        const { requests, errors } = traffic.counts(rolledUpTo, rolledUpTo + 10_000);
        await store.metrics.append([
          {
            projectId,
            environment: 'production',
            version: 'r1',
            pool: 'stable',
            startMs: rolledUpTo,
            endMs: rolledUpTo + 10_000,
            requests,
            errors,
            data: { latency: [] },
          },
        ]);
        rolledUpTo += 10_000;
      }
      await slo.evaluate();
    }
  }

  async function alertEvents(): Promise<{ type: string; at: number; data: Record<string, unknown> }[]> {
    return (await store.events.list({ type: 'slo.alert.*' })).map((e) => ({
      type: e.type,
      at: Date.parse(e.at),
      data: e.data as Record<string, unknown>,
    }));
  }

  it('pages within 15 s of a full outage at 50 req/s, once, and resolves by itself after recovery', async () => {
    const slo = service();
    await run(slo, 300); // five quiet minutes: the 2-minute long window is measured
    const outage = START + 300_000;
    traffic.failing = (s) => s >= 300 && s < 360;
    await run(slo, 200);
    const events = await alertEvents();
    const pages = events.filter((e) => e.data.severity === 'page');
    expect(pages.map((e) => e.type)).toEqual(['slo.alert.fired', 'slo.alert.resolved']);
    const [fired, resolved] = pages;
    expect((fired?.at ?? 0) - outage).toBeLessThanOrEqual(15_000);
    expect(fired?.data).toMatchObject({ slo: 'availability', severity: 'page', objective: 0.999 });
    const readings = (fired?.data.readings ?? []) as { holds: boolean; burnRate: number }[];
    expect(readings.some((r) => r.holds && r.burnRate === 14.4)).toBe(true);
    expect(resolved?.at).toBeGreaterThan(outage + 60_000);
    expect(resolved?.data).toMatchObject({ slo: 'availability', severity: 'page' });
    const [status] = slo.status(projectId);
    expect(status?.alerts.page).toEqual({ status: 'inactive' });
    // 60 s of 50 failing req/s against 0.1 % of the day's requests so far.
    expect(status?.budget.bad).toBe(3000);
  });

  it('never shows a stored roll-up beside a live window that already counted it, while it reads the next window', async () => {
    // The live window of the first evaluation counts the first 8 s; the roll-up of those seconds
    // is stored before the second evaluation, whose read of the live window is held open.
    let held: (() => void) | null = null;
    const slo = new SloService({
      store,
      clock,
      targets: async () => [{ projectId, environment: 'production', slos }],
      traffic: async (_p, _e, sinceMs, untilMs) => {
        if (held === null && clock.now() > START + 8_000) await new Promise<void>((resolve) => (held = resolve));
        return traffic.counts(Math.max(sinceMs, START), untilMs);
      },
      eventEnv: () => ENV,
      warn: () => undefined,
    });
    clock.advance(8_000);
    await slo.evaluate();
    expect(slo.status(projectId)[0]?.budget.total).toBe(400);
    clock.advance(4_000);
    await store.metrics.append([
      {
        projectId,
        environment: 'production',
        version: 'r1',
        pool: 'stable',
        startMs: START,
        endMs: START + 10_000,
        requests: 500,
        errors: 0,
        data: { latency: [] },
      },
    ]);
    const second = slo.evaluate();
    await waitFor(() => held !== null || undefined, { what: 'the second evaluation to read the live window' });
    // Before: the roll-up's 500 beside the first live window's 400.
    expect(slo.status(projectId)[0]?.budget.total).toBe(400);
    (held as unknown as () => void)();
    await second;
    expect(slo.status(projectId)[0]?.budget.total).toBe(600);
  });

  it('counts every stored roll-up exactly once, across a crash between reading and storing, and a restart', async () => {
    traffic.failing = (s) => s % 100 === 0;
    const first = service();
    await run(first, 60);
    // The next evaluation reads new roll-ups and then fails to store: nothing of it may count.
    let failNext = true;
    const flaky: Store = {
      ...store,
      slos: {
        ...store.slos,
        apply: async (change) => {
          if (failNext) {
            failNext = false;
            throw new Error('disk full');
          }
          return store.slos.apply(change);
        },
      },
    };
    const crashing = service({ store: flaky });
    await expect(run(crashing, 10)).rejects.toThrow('disk full');
    traffic.rate = 0; // from now no live seconds: what counts is exactly the stored roll-ups
    const exact = async () => {
      const rows = await store.metrics.after(0, 1000);
      return { total: rows.reduce((n, r) => n + r.requests, 0), bad: rows.reduce((n, r) => n + r.errors, 0) };
    };
    // The same process carries on after the failed write…
    await run(crashing, 20);
    const [carriedOn] = crashing.status(projectId);
    expect({ total: carriedOn?.budget.total, bad: carriedOn?.budget.bad }).toEqual(await exact());
    // … and a new one starts from the store alone.
    const restarted = service();
    await run(restarted, 20);
    const [status] = restarted.status(projectId);
    expect({ total: status?.budget.total, bad: status?.budget.bad }).toEqual(await exact());
    expect((await exact()).total).toBeGreaterThan(0);
  });

  it('evaluates on stored roll-ups when a live window does not answer, instead of waiting for it', async () => {
    await run(service(), 30);
    const stuck = new SloService({
      store,
      clock,
      targets: async () => [{ projectId, environment: 'production', slos }],
      // A proxy pod (or the API in front of it) that never answers.
      traffic: () => new Promise(() => undefined),
      eventEnv: () => ENV,
      warn: () => undefined,
      liveWindowTimeoutMs: 50,
    });
    traffic.rate = 0;
    await run(stuck, 10);
    const rows = await store.metrics.after(0, 1000);
    const [status] = stuck.status(projectId);
    expect(status?.budget.total).toBe(rows.reduce((n, r) => n + r.requests, 0));
    expect(status?.budget.total).toBeGreaterThan(0);
  });

  it('counts a calendar month from its first second, so its budget is whole again at midnight UTC on the 1st', async () => {
    // Two minutes before 1 December 2026, 00:00 UTC.
    clock = new ManualClock(START - 120_000);
    rolledUpTo = START - 120_000;
    traffic.failing = (s) => s % 50 === 0;
    slos = [
      { ...AVAILABILITY, name: 'monthly', periodMs: 30 * DAY, calendar: 'month', alerts: [] },
      { ...AVAILABILITY, name: 'rolling', periodMs: 30 * DAY, alerts: [] },
    ];
    const slo = service();
    await run(slo, 110);
    const before = slo.status(projectId).find((s) => s.slo.name === 'monthly');
    expect(before?.budget.total).toBeGreaterThanOrEqual(5000); // November's last 110 s
    await run(slo, 60); // 50 s into December
    const byName = Object.fromEntries(slo.status(projectId).map((s) => [s.slo.name, s.budget]));
    expect(byName.monthly?.total).toBe(50 * 50);
    expect(byName.monthly?.bad).toBe(50); // the failing second of December so far (second 0)
    expect(byName.rolling?.total).toBe(170 * 50);
  });

  it('forgets an SLO the release no longer declares, and starts one it newly declares', async () => {
    const slo = service();
    await run(slo, 30);
    slos = [{ ...AVAILABILITY, name: 'latency', sli: { kind: 'latency', thresholdMs: 300 } }];
    await run(slo, 12);
    expect(slo.status(projectId).map((s) => s.slo.name)).toEqual(['latency']);
    await expect.poll(async () => (await store.slos.load()).map((r) => r.slo)).toEqual(['latency']);
  });
});
