/**
 * The SLO history route in process: SloService on a real SQLite store fed roll-ups as the
 * recorder stores them, time on a ManualClock, an outage that pages and resolves, and a deploy
 * in the event log; the answer's numbers checked exactly.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.ts';
import { defaultBurnRateRules, type SloConfig } from '../../../src/core/slo-config.ts';
import { NotFoundError } from '../../../src/core/errors.ts';
import { RouteTable } from '../../../src/server/http/index.ts';
import { appWithoutAuth } from '../../support/http-app.ts';
import { registerSloHistoryRoutes, SloService } from '../../../src/server/slo/index.ts';
import type { Project, Store } from '../../../src/store/index.ts';
import { openStore } from '../../../src/store/index.ts';
import { sqliteTestDatabase, type TestDatabase } from '../../support/databases.ts';

const HOUR = 3_600_000;
const START = Date.UTC(2026, 11, 1);
const ENV = { gantryVersion: '0.1.0', nodeVersion: 'v24', host: 'test' };
const SLO: SloConfig = {
  name: 'availability',
  objective: 0.99,
  periodMs: HOUR,
  sli: { kind: 'availability' },
  alerts: defaultBurnRateRules(HOUR),
};

interface HistoryAnswer {
  fromMs: number;
  toMs: number;
  allowedBad: number;
  budget: { remaining: number };
  windows: { windowMs: number; rules: { severity: string; burnRate: number; role: string }[] }[];
  points: { t: number; remaining: number; burnRates: (number | null)[] }[];
  alerts: { severity: string; fromMs: number; toMs: number | null }[];
  markers: { atMs: number; releaseNumber: number | null; outcome: string }[];
}

describe('GET /api/projects/:project/slos/:slo/history', () => {
  let database: TestDatabase;
  let store: Store;
  let project: Project;
  let clock: ManualClock;
  let slos: SloService;
  let app: FastifyInstance;

  beforeEach(async () => {
    database = await sqliteTestDatabase();
    store = await openStore({ url: database.url });
    project = await store.projects.create({ name: 'shop', source: { kind: 'local', path: '/x' }, webhookSecret: 'w' });
    clock = new ManualClock(START);
    slos = new SloService({
      store,
      clock,
      targets: async () => [{ projectId: project.id, environment: 'production', slos: [SLO] }],
      // Everything is in the stored roll-ups: no live seconds.
      traffic: async () => undefined,
      eventEnv: () => ENV,
      warn: () => undefined,
    });
    const routes = new RouteTable();
    registerSloHistoryRoutes(routes, {
      slos,
      requireProject: async (name) => {
        if (name !== 'shop') throw new NotFoundError(`no project ${name}`);
        return project;
      },
      environmentEvents: async (_projectId, environment, fromMs) =>
        (await store.events.list({}))
          .filter((e) => Date.parse(e.at) >= fromMs && (e.data.environment === environment || e.subject.endsWith(`/${environment}`)))
          .map((e) => ({ type: e.type, atMs: Date.parse(e.at), data: e.data })),
      clock,
    });
    app = appWithoutAuth(routes);
    routes.register(app);
    await app.ready();
  });
  afterEach(async () => {
    await app.close();
    await store.close();
    await database.cleanup();
  });

  /** Ten-second roll-ups of 100 requests, `bad` of them failed, for `seconds`; evaluating every 2 s. */
  async function traffic(seconds: number, bad: number): Promise<void> {
    for (let s = 0; s < seconds; s += 10) {
      const startMs = clock.now();
      clock.advance(10_000);
      await store.metrics.append([
        {
          projectId: project.id,
          environment: 'production',
          version: 'r1',
          pool: 'stable',
          startMs,
          endMs: startMs + 10_000,
          requests: 100,
          errors: bad,
          data: { latency: [] },
        },
      ]);
      await slos.evaluate();
    }
  }

  it('answers the burn-down, the burn rate per window, the page alert and the deploy, on one time axis', async () => {
    await slos.evaluate();
    await store.events.append({
      type: 'rollout.created',
      subject: 'rollout:r1',
      actor: 'test',
      at: new Date(START).toISOString(),
      data: { rolloutId: 'r1', environment: 'production', releaseNumber: 7 },
      env: ENV,
    });
    await store.events.append({
      type: 'rollout.rollout.finished',
      subject: 'rollout:r1',
      actor: 'server',
      at: new Date(START + 5000).toISOString(),
      data: { rolloutId: 'r1', environment: 'production', phase: 'succeeded' },
      env: ENV,
    });
    await traffic(600, 0); // ten quiet minutes: every page window measured
    await traffic(60, 50); // a minute at 50 % errors: 300 bad
    await traffic(120, 0);

    const res = await app.inject({ method: 'GET', url: '/api/projects/shop/slos/availability/history?env=production&points=14' });
    expect(res.statusCode, res.body).toBe(200);
    const h = res.json() as HistoryAnswer;
    expect(h.fromMs).toBe(START);
    expect(h.toMs).toBe(START + 780_000);
    // 78 roll-ups of 100 requests at 99 %: 78 may fail, 300 did.
    expect(h.allowedBad).toBeCloseTo(78, 9);
    expect(h.points).toHaveLength(14);
    expect(h.points[0]).toMatchObject({ t: START, remaining: 1 });
    expect(h.points.at(-1)?.remaining).toBeCloseTo(1 - 300 / 78, 9);
    expect(h.points.at(-1)?.remaining).toBeCloseTo(h.budget.remaining, 9);
    // The workbook's windows scaled to an hour: 0.4 s and 5 s (page 14.4×), 2.5 s and 30 s (page 6×), 30 s and 6 min (ticket).
    expect(h.windows.map((w) => w.windowMs)).toEqual([417, 2500, 5000, 30_000, 360_000]);
    // At 11 minutes (the end of the outage's minute), the 6-minute window holds 300 of 3,600: 8.33…× the budget.
    const at11 = h.points.find((p) => p.t === START + 660_000);
    expect(at11?.burnRates[4]).toBeCloseTo(300 / 3600 / 0.01, 9);
    expect(at11?.burnRates[3]).toBeCloseTo(50, 9);
    expect(h.alerts.filter((a) => a.severity === 'page')).toEqual([
      expect.objectContaining({ severity: 'page', fromMs: expect.any(Number), toMs: expect.any(Number) }),
    ]);
    const page = h.alerts.find((a) => a.severity === 'page');
    expect(page?.fromMs).toBeGreaterThan(START + 600_000);
    expect(page?.fromMs).toBeLessThanOrEqual(START + 620_000);
    expect(h.markers).toEqual([{ atMs: START + 5000, rolloutId: 'r1', releaseNumber: 7, outcome: 'succeeded' }]);
  });

  it('says which SLO it does not know, with the stable code', async () => {
    await slos.evaluate();
    const res = await app.inject({ method: 'GET', url: '/api/projects/shop/slos/latency/history?env=production' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: 'NOT_FOUND', message: expect.stringContaining("no SLO 'latency'") } });
    const noEnv = await app.inject({ method: 'GET', url: '/api/projects/shop/slos/availability/history' });
    expect(noEnv.statusCode).toBe(400);
  });
});
