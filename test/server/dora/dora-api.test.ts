/**
 * DORA from the event log alone: a generated history with answers worked out by hand goes into a
 * real SQLite file, back out by type, into a second store rebuilt from the first one's log, and
 * through a real server's API on loopback; the numbers never change.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DORA_EVENT_TYPES, type DoraReport, doraReport, type LogEvent, toDoraEvents } from '../../../src/dora/index.ts';
import type { DoraAnswer } from '../../../src/server/dora/index.ts';
import { openStore } from '../../../src/store/index.ts';
import type { EventEnvironment, GantryEvent, Store } from '../../../src/store/ports.ts';
import { runCli } from '../../support/cli.ts';
import { sqliteTestDatabase } from '../../support/databases.ts';
import { startTestServer, type TestServer } from '../../support/server.ts';
import { EDGE_CASE_ANSWERS, edgeCaseHistory, HistoryBuilder, HOUR } from '../../dora/history-builder.ts';

const ENV: EventEnvironment = { gantryVersion: 'test', nodeVersion: process.version, host: 'test' };
const DAY = 24 * HOUR;

describe('DORA through a store and a server', () => {
  let db: Awaited<ReturnType<typeof sqliteTestDatabase>>;
  let rebuilt: Awaited<ReturnType<typeof sqliteTestDatabase>>;
  /** What the first store held: every event, and DORA's types read back by type. */
  let log: GantryEvent[];
  let byType: GantryEvent[];
  let projectId: string;
  let history: HistoryBuilder;
  let server: TestServer | null = null;
  /** Hour 0 of the history: ten days ago, so a window from it to now holds all of it. */
  const t0 = Math.floor((Date.now() - 10 * DAY) / HOUR) * HOUR;
  const window = { from: t0, to: t0 + 2 * DAY };

  const appendAll = async (target: Store, events: readonly LogEvent[] | readonly GantryEvent[]) => {
    for (const e of events)
      await target.events.append({
        type: e.type,
        subject: e.subject,
        actor: e.actor,
        at: e.at,
        data: e.data as GantryEvent['data'],
        env: ENV,
      });
  };
  const reportOf = (events: readonly LogEvent[], w = window): DoraReport => doraReport(toDoraEvents(events), projectId, 'production', w);

  beforeAll(async () => {
    db = await sqliteTestDatabase();
    rebuilt = await sqliteTestDatabase();
    const store = await openStore({ url: db.url });
    const project = await store.projects.create({
      name: 'shop',
      source: { kind: 'local', path: join(db.dir, 'no-repo') },
      webhookSecret: 'x',
    });
    const other = await store.projects.create({
      name: 'other',
      source: { kind: 'local', path: join(db.dir, 'no-repo') },
      webhookSecret: 'x',
    });
    projectId = project.id;
    history = edgeCaseHistory(new HistoryBuilder(project.id, 'production', t0));
    // Noise the numbers must ignore: another project's deploys, staging, runs, experiments.
    const noise = new HistoryBuilder(other.id, 'production', t0).release(1, 'o1', [['x', 0]]).deploy(2, 3, 'od1', 'o1');
    const staging = new HistoryBuilder(project.id, 'staging', t0).deploy(1, 1.5, 's1', 'r1').incident(2);
    await appendAll(store, noise.events);
    await store.events.append({
      type: 'experiment.started',
      subject: `environment:${project.id}/production`,
      actor: 'experiment:slow-db',
      at: new Date(t0 + 17.4 * HOUR).toISOString(),
      data: { projectId: project.id, environment: 'production' },
      env: ENV,
    });
    await store.events.append({
      type: 'run.created',
      subject: 'run:1',
      actor: 'trigger:push',
      at: new Date(t0).toISOString(),
      data: {},
      env: ENV,
    });
    await appendAll(store, history.events);
    // Incidents are numbered per project across its environments: staging's comes third.
    await appendAll(store, staging.events);
    log = await store.events.list();
    byType = await store.events.list({ types: DORA_EVENT_TYPES });
    await store.close();
  }, 60_000);

  /** The server starts on the first store's file, as `gantry up` would after a restore. */
  const runningServer = async (): Promise<TestServer> => {
    server ??= await startTestServer({ dataDir: db.dir });
    return server;
  };

  afterAll(async () => {
    await server?.cleanup();
    await db?.cleanup();
    await rebuilt?.cleanup();
  });

  it('gives the hand-worked answers from the events read back by type from a SQLite file', async () => {
    expect(byType.every((e) => DORA_EVENT_TYPES.includes(e.type))).toBe(true);
    expect(byType.length).toBeLessThan(log.length);
    const r = reportOf(byType);
    expect(r).toEqual(reportOf(history.events));
    expect(r.rollouts.filter((x) => x.counted).map((x) => x.rolloutId)).toEqual(EDGE_CASE_ANSWERS.counted);
    expect(r.numbers.changeFailure).toEqual(EDGE_CASE_ANSWERS.changeFailure);
    expect(r.numbers.rework).toEqual(EDGE_CASE_ANSWERS.rework);
    expect(r.numbers.leadTime.medianMs).toBeCloseTo(EDGE_CASE_ANSWERS.leadTime.medianMs, 3);
    expect(r.numbers.recovery.medianMs).toBeCloseTo(EDGE_CASE_ANSWERS.recovery.medianMs, 3);
  });

  it('gives the same numbers from a store rebuilt from the event log', async () => {
    const second = await openStore({ url: rebuilt.url });
    await appendAll(second, log);
    await second.close();
    const reopened = await openStore({ url: rebuilt.url });
    const back = await reopened.events.list({ types: DORA_EVENT_TYPES });
    await reopened.close();
    expect(reportOf(back)).toEqual(reportOf(history.events));
  });

  it("answers the same through a real server's API, authenticated, in the OpenAPI document", async () => {
    const server = await runningServer();
    const since = new Date(t0).toISOString();
    const res = await server.api<DoraAnswer>('GET', `/api/dora?project=shop&since=${encodeURIComponent(since)}`);
    expect(res.status).toBe(200);
    const [answer] = res.body.reports;
    if (!answer) throw new Error('no report');
    expect(answer.projectName).toBe('shop');
    expect(answer.window.from).toBe(t0);
    const { projectName: _, ...report } = answer;
    expect(report).toEqual(JSON.parse(JSON.stringify(reportOf(history.events, answer.window))));
    expect(answer.numbers.deployments).toBe(7);
    expect(answer.numbers.changeFailure).toEqual(EDGE_CASE_ANSWERS.changeFailure);
    expect(res.body.definitions.map((d) => d.key)).toEqual([
      'deploymentFrequency',
      'leadTime',
      'changeFailureRate',
      'recoveryTime',
      'reworkRate',
    ]);

    const all = await server.api<DoraAnswer>('GET', '/api/dora?env=staging&since=30d');
    expect(all.body.reports.map((r) => [r.projectName, r.environment, r.numbers.deployments]).sort()).toEqual([
      ['other', 'staging', 0],
      ['shop', 'staging', 1],
    ]);

    const bad = await server.api<{ error: { code: string } }>('GET', '/api/dora?since=lately');
    expect([bad.status, bad.body.error.code]).toEqual([400, 'DORA_INVALID_WINDOW']);
    const anonymous = await fetch(`${server.url}/api/dora`);
    expect(anonymous.status).toBe(401);
    const openapi = await server.api<{ paths: Record<string, unknown> }>('GET', '/api/openapi.json');
    expect(Object.keys(openapi.body.paths)).toContain('/api/dora');
  }, 60_000);

  it('prints the numbers with their tiers and the rollouts behind them: `gantry dora`', async () => {
    const server = await runningServer();
    const env = { GANTRY_URL: server.url, GANTRY_TOKEN: server.token };
    const since = new Date(t0).toISOString();
    const text = await runCli(db.dir, ['dora', 'shop', '--since', since], { env });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/shop · production/);
    expect(text.stdout).toMatch(/change failure rate\s+57\.1% \(4 of 7\)\s+low/);
    expect(text.stdout).toMatch(/lead time for changes\s+median 2h, p90 5h36m \(8 commits\)\s+elite/);
    expect(text.stdout).toMatch(/rework rate\s+14\.3% \(1 of 7\)/);
    expect(text.stdout).toMatch(/d2 .*failed: rolled back by api:ci; restored in 1h30m \(rollback finished\)/);
    expect(text.stdout).toMatch(/again .*a redeploy of the running release/);
    const bad = await runCli(db.dir, ['dora', '--since', 'lately'], { env });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--since "lately" is not a window/);
  }, 60_000);
});
