/**
 * Protected environments through real HTTP on a real server (in process, listening on loopback)
 * with a ManualClock: deploy windows refuse a deploy outside them until a window opens or a
 * maintainer overrides with a reason (recorded); required approvals hold a deploy until someone
 * from the group, not its author, approves it (`gantry approvals` lists what waits).
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.ts';
import { hashToken, newToken } from '../../../src/server/auth/index.ts';
import type { Project, ReleaseRecord } from '../../../src/store/index.ts';
import { runCli } from '../../support/cli.ts';
import { type ApiCall, startTestServer, type TestServer } from '../../support/server.ts';

const SERVICE = fileURLToPath(new URL('../../e2e/fixtures/service.js', import.meta.url));
const CONFIG = `pipeline:
  jobs:
    build: { steps: ["true"] }
service:
  run: node server.js
  health: { path: /healthz, readiness: { interval: 100ms } }
  stop: { drain-timeout: 1s }
environments:
  staging:
    strategy: { blue-green: { keep-old: 0s } }
  production:
    strategy: { blue-green: { keep-old: 0s } }
`;
// Friday 2 January 2026, 18:00 in Paris (UTC+1): inside the Friday-evening freeze.
const FRIDAY_EVENING = Date.UTC(2026, 0, 2, 17, 0);
const MONDAY_MORNING = Date.UTC(2026, 0, 5, 9, 0);
const WINDOWS = {
  timezone: 'Europe/Paris',
  allow: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00' }],
  deny: [{ days: ['fri'], from: '16:00', to: '24:00' }],
};

interface ErrorBody {
  error: { code: string; message: string };
}

describe('protected environments', () => {
  const clock = new ManualClock(FRIDAY_EVENING);
  let server: TestServer;
  let project: Project;
  let release: ReleaseRecord;
  const as: Record<string, ApiCall> = {};
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    server = await startTestServer({ start: { clock, log: () => undefined } });
    const { store } = server;
    project = await store.projects.create({ name: 'shop', source: { kind: 'local', path: '/nowhere' }, webhookSecret: 'w' });
    release = await store.releases.create({
      projectId: project.id,
      runId: null,
      sha: 'abc',
      ref: 'refs/heads/main',
      configText: CONFIG,
      configHash: 'h',
      artifactsPath: 'releases/r1',
      createdBy: 'user:alice',
    });
    await mkdir(join(server.dataDir, 'releases', release.id), { recursive: true });
    await copyFile(SERVICE, join(server.dataDir, 'releases', release.id, 'server.js'));
    for (const name of ['alice', 'bob', 'carol']) {
      await store.access.createUser({ name, kind: 'person', displayName: name });
      await store.access.grant({ subject: `user:${name}`, role: 'maintainer', project: 'shop', environment: null, createdBy: 'test' });
      const token = newToken();
      await store.tokens.create({ name: `${name}-token`, hash: hashToken(token), owner: name });
      as[name] = userApi(server.url, token);
      tokens[name] = token;
    }
    await store.access.setGroups('bob', ['release-managers']);
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  it('refuses a deploy outside the windows with what to do, and takes it once a window opens', async () => {
    const set = await server.api('PUT', '/api/projects/shop/environments/staging/protection', { protection: { windows: WINDOWS } });
    expect(set.status).toBe(200);
    const refused = await as.alice!<ErrorBody>('POST', '/api/projects/shop/environments/staging/deploy', { release: '1' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('DEPLOY_WINDOW_CLOSED');
    expect(refused.body.error.message).toContain('inside the deny window fri 16:00–24:00 (Europe/Paris)');
    expect(refused.body.error.message).toContain('--override-window "reason"');

    clock.advance(MONDAY_MORNING - FRIDAY_EVENING);
    const deployed = await as.alice!<{ rollout: { environment: string } }>('POST', '/api/projects/shop/environments/staging/deploy', {
      release: '1',
    });
    expect(deployed.status).toBe(201);
    expect(deployed.body.rollout.environment).toBe('staging');
    clock.advance(FRIDAY_EVENING - MONDAY_MORNING + 7 * 86_400_000); // the next Friday evening
  });

  it('holds a deploy for approvals from the group, never by its author, and records a window override with its reason', async () => {
    const set = await server.api('PUT', '/api/projects/shop/environments/production/protection', {
      protection: { approvals: { count: 1, group: 'release-managers' }, windows: WINDOWS },
    });
    expect(set.status).toBe(200);
    const deploy = (who: string, body: object) =>
      as[who]!<ErrorBody>('POST', '/api/projects/shop/environments/production/deploy', { release: '1', ...body });

    const waiting = await deploy('alice', { overrideWindow: { reason: 'hotfix for the checkout outage' } });
    expect(waiting.status).toBe(409);
    expect(waiting.body.error.code).toBe('APPROVAL_REQUIRED');
    expect(waiting.body.error.message).toContain('needs 1 more approval from release-managers');
    expect(waiting.body.error.message).toContain('gantry approve shop 1 --env production');

    const pending = await as.carol!<{ approvals: { environment: string; release: number; requestedBy: string; missing: number }[] }>(
      'GET',
      '/api/projects/shop/approvals',
    );
    expect(pending.body.approvals).toEqual([
      expect.objectContaining({ environment: 'production', release: 1, requestedBy: 'user:alice', missing: 1 }),
    ]);

    const byAuthor = await as.alice!<ErrorBody>('POST', '/api/projects/shop/environments/production/approvals', { release: '1' });
    expect(byAuthor.status).toBe(403);
    expect(byAuthor.body.error.code).toBe('APPROVAL_REFUSED');
    const outsideGroup = await as.carol!<ErrorBody>('POST', '/api/projects/shop/environments/production/approvals', { release: '1' });
    expect(outsideGroup.status).toBe(403);
    expect(outsideGroup.body.error.message).toContain('not a member of release-managers');
    const cli = (who: string, args: string[]) =>
      runCli(server.dataDir, args, { env: { GANTRY_URL: server.url, GANTRY_TOKEN: tokens[who] as string } });
    const listed = await cli('carol', ['approvals', 'shop']);
    expect(listed.stdout).toMatch(/^#1 +→ production +1 of 1 missing from release-managers; no approvals yet/);
    const approved = await cli('bob', ['approve', 'shop', '1', '--env', 'production']);
    expect(approved.stderr).toBe('');
    expect(approved.stdout).toBe(
      'approved release #1 for production: it has its approvals, deploy it (`gantry deploy shop 1 --env production`)\n',
    );

    const closed = await deploy('alice', {});
    expect(closed.body.error.code).toBe('DEPLOY_WINDOW_CLOSED');
    const overridden = await deploy('alice', { overrideWindow: { reason: 'hotfix for the checkout outage' } });
    expect(overridden.status).toBe(201);
    const events = await server.store.events.list({ type: 'deploy.*' });
    const override = events.find((e) => e.type === 'deploy.window-override');
    expect(override).toMatchObject({ actor: 'user:alice', data: { reason: 'hotfix for the checkout outage', release: 1 } });
    expect(events.find((e) => e.type === 'deploy.approvals-met')?.data).toMatchObject({ approvedBy: ['user:bob'] });
    expect((await as.carol!<{ approvals: unknown[] }>('GET', '/api/projects/shop/approvals')).body.approvals).toEqual([]);
  });
});

function userApi(url: string, token: string): ApiCall {
  return async <T>(method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : text) as T };
  };
}
