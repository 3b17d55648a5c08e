/**
 * The deploys API over a real SQLite store: a production rollout whose p99 went from 50 to 90 ms
 * between the quarter hour before it began and the one after it finished, stored as ten-second
 * roll-ups of two pools, comes back with that verdict; a staging rollout stays out of the list.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../../src/core/errors.ts';
import { RouteTable } from '../../../src/server/http/index.ts';
import { appWithoutAuth } from '../../support/http-app.ts';
import { type DeploysAnswer, type DeployWithImpact, registerImpactRoutes } from '../../../src/server/impact/index.ts';
import { openStore } from '../../../src/store/index.ts';
import type { MetricRollup, Project, Store } from '../../../src/store/ports.ts';
import { sqliteTestDatabase, type TestDatabase } from '../../support/databases.ts';

const MIN = 60_000;

describe('GET /api/projects/:p/deploys', () => {
  let database: TestDatabase;
  let store: Store;
  let project: Project;
  let app: FastifyInstance;
  let startedAt: number;
  let finishedAt: number;
  let rolloutId: string;

  beforeAll(async () => {
    database = await sqliteTestDatabase();
    store = await openStore({ url: database.url });
    project = await store.projects.create({ name: 'shop', source: { kind: 'local', path: '/x' }, webhookSecret: 'w' });
    const release = await store.releases.create({
      projectId: project.id,
      runId: null,
      sha: 'f00d',
      ref: 'refs/heads/main',
      configText: 'service:\n  run: node server.js\n',
      configHash: 'c',
      artifactsPath: 'releases/x',
      createdBy: 'cli',
    });
    const rollout = await store.rollouts.create({
      id: 'RO-prod',
      projectId: project.id,
      environment: 'production',
      releaseId: release.id,
      previousReleaseId: null,
      phase: 'pending',
      state: { strategy: { kind: 'canary' } },
      createdBy: 'cli',
    });
    await store.rollouts.create({ ...rollout, id: 'RO-staging', environment: 'staging' });
    rolloutId = rollout.id;
    startedAt = Date.parse(rollout.createdAt);
    finishedAt = startedAt + 2 * MIN;
    await store.rollouts.transition(rollout.id, {
      phase: 'succeeded',
      state: { strategy: { kind: 'canary' } },
      finishedAt: new Date(finishedAt).toISOString(),
    });

    // 90 ten-second roll-ups a window, split over two pools; the tail moves from 50 to 90 ms after.
    const rows: MetricRollup[] = [];
    for (const [from, slow] of [
      [startedAt - 15 * MIN, 50],
      [finishedAt, 90],
    ] as const) {
      for (let i = 0; i < 90; i++) {
        for (const pool of ['stable', 'canary']) {
          const startMs = from + i * 10_000;
          const latency = [
            { valueMs: 20, count: 19 },
            { valueMs: slow, count: i % 2 === 0 ? 1 : 0 },
          ];
          const requests = latency.reduce((n, b) => n + b.count, 0);
          rows.push({
            projectId: project.id,
            environment: 'production',
            version: release.id,
            pool,
            startMs,
            endMs: startMs + 10_000,
            requests,
            errors: 0,
            data: { latency },
          });
        }
      }
    }
    // The rollout's own minutes mix both releases: never part of either window.
    rows.push({
      projectId: project.id,
      environment: 'production',
      version: release.id,
      pool: 'canary',
      startMs: startedAt + MIN,
      endMs: startedAt + MIN + 10_000,
      requests: 500,
      errors: 500,
      data: { latency: [{ valueMs: 5000, count: 500 }] },
    });
    await store.metrics.append(rows);

    const routes = new RouteTable();
    registerImpactRoutes(routes, {
      store,
      requireProject: async (name) => {
        if (name !== 'shop') throw new NotFoundError(`project '${name}' does not exist`);
        return project;
      },
      now: () => finishedAt + 16 * MIN,
    });
    app = appWithoutAuth(routes);
    routes.register(app);
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await store.close();
    await database.cleanup();
  });

  it('lists production deploys with the verdict of their before/after windows', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/projects/shop/deploys' });
    expect(response.statusCode).toBe(200);
    const answer = response.json() as DeploysAnswer;
    expect(answer.environment).toBe('production');
    expect(answer.deploys.map((d) => d.rolloutId)).toEqual([rolloutId]);
    const [deploy] = answer.deploys as [DeployWithImpact];
    expect(deploy).toMatchObject({ strategy: 'canary', phase: 'succeeded', startedAt, finishedAt });
    expect(deploy.impact.status).toBe('complete');
    expect(deploy.impact.before).toMatchObject({ requests: 3510, errors: 0, p99: 50 });
    expect(deploy.impact.after).toMatchObject({ requests: 3510, errors: 0, p99: 90 });
    expect(deploy.impact.verdict).toBe('p99 +40 ms, significant');
  });

  it('answers one deploy, another environment, and a clear 404', async () => {
    const one = await app.inject({ method: 'GET', url: `/api/projects/shop/deploys/${rolloutId}?window=5` });
    expect(one.statusCode).toBe(200);
    expect((one.json() as DeployWithImpact).impact.windowMs).toBe(5 * MIN);
    const staging = (await app.inject({ method: 'GET', url: '/api/projects/shop/deploys?env=staging' })).json() as DeploysAnswer;
    expect(staging.deploys.map((d) => [d.rolloutId, d.impact.verdict])).toEqual([['RO-staging', 'under way']]);
    const missing = await app.inject({ method: 'GET', url: '/api/projects/shop/deploys/RO-nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });
});
