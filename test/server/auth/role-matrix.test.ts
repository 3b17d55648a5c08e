/**
 * The role matrix (issue "People, roles and the platform as code"): every authenticated route of
 * the route table × every role × every scope a grant can have, through real HTTP, refused with
 * FORBIDDEN exactly when the documented table (src/access/permissions.ts, docs/access.md) says
 * the route's permission is not held there. Generated from the route table, so a new route is
 * covered the day it is added.
 *
 * The project the grants name exists as a store row with one finished run, so routes answer 404
 * or 4xx after being allowed, never do harm; its deletion runs last.
 */
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decide, type Grant, type Principal, ROLES, type Target } from '../../../src/access/index.ts';
import { hashToken, newToken } from '../../../src/server/auth/index.ts';
import { buildTestApp, type TestApp } from '../../support/app.ts';

const PROJECT = 'matrix-shop';
const SCOPES: { name: string; grant: (role: Grant['role']) => Grant }[] = [
  { name: 'server', grant: (role) => ({ role }) },
  { name: 'project', grant: (role) => ({ role, project: PROJECT }) },
  { name: 'production', grant: (role) => ({ role, project: PROJECT, environment: 'production' }) },
  { name: 'staging', grant: (role) => ({ role, project: PROJECT, environment: 'staging' }) },
  { name: 'other-project', grant: (role) => ({ role, project: 'elsewhere' }) },
];

interface Caller {
  principal: Principal;
  token: string;
}

let t: TestApp;
let base = '';
let runId = '';
const callers: Caller[] = [];

beforeAll(async () => {
  t = await buildTestApp();
  base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  const project = await t.store.projects.create({ name: PROJECT, source: { kind: 'local', path: '/nonexistent' }, webhookSecret: 'w' });
  const run = await t.store.runs.create(
    {
      projectId: project.id,
      event: { kind: 'push', ref: 'refs/heads/main', sha: 'a1b2c3', changedFiles: [] },
      inputs: {},
      configText: 'pipeline:\n  jobs: {}\n',
      configHash: 'h',
      concurrencyGroup: null,
      parentRunId: null,
    },
    [],
  );
  runId = run.id;
  const add = async (name: string, grants: Grant[]) => {
    await t.store.access.createUser({ name, kind: 'person', displayName: name });
    for (const g of grants)
      await t.store.access.grant({
        subject: `user:${name}`,
        role: g.role,
        project: g.project ?? null,
        environment: g.environment ?? null,
        createdBy: 'test',
      });
    const token = newToken();
    await t.store.tokens.create({ name: `${name}-token`, hash: hashToken(token), owner: name });
    callers.push({ principal: { id: `user:${name}`, grants }, token });
  };
  for (const role of ROLES) for (const scope of SCOPES) await add(`${role}-${scope.name}`, [scope.grant(role)]);
  await add('nobody', []);
});
afterAll(async () => {
  agent.destroy();
  await t?.cleanup();
});

interface Probe {
  method: string;
  url: string;
  permission: string;
  target: Target;
}

/** Each route with its parameters filled in: every environment-scoped path for both environments, lists with and without a project. */
function probes(): Probe[] {
  const out: Probe[] = [];
  for (const route of t.app.routeTable.list()) {
    if (route.auth !== 'admin' || !route.permission) continue;
    const fill = (env: string) =>
      route.url
        .replace(':project', PROJECT)
        .replace(':env', env)
        .replace(':run', runId)
        .replace(':job', 'build')
        .replace(':number', '1')
        .replace(':slo', 'availability')
        .replace(':name', 'x')
        .replace(':action', 'pause')
        .replace('*', 'x');
    const inPath = route.url.includes(':project') || route.url.includes(':run');
    const envs = route.url.includes(':env') ? ['production', 'staging'] : [null];
    for (const env of envs) {
      const target: Target = inPath
        ? { project: PROJECT, ...(env ? { environment: env, environmentProtected: env === 'production' } : {}) }
        : {};
      out.push({ method: route.method, url: fill(env ?? ''), permission: route.permission, target });
      if (!inPath && route.method === 'GET' && route.permission === 'read')
        out.push({
          method: route.method,
          url: `${fill('')}?project=${PROJECT}`,
          permission: route.permission,
          target: { project: PROJECT },
        });
    }
  }
  // Deleting the project takes its run with it: last.
  return out.sort(
    (a, b) => Number(a.method === 'DELETE' && a.url.endsWith(PROJECT)) - Number(b.method === 'DELETE' && b.url.endsWith(PROJECT)),
  );
}

/** node:http with kept-alive connections: for these ~3,300 requests fetch cost a fifth more CPU, on a CPU-bound suite. */
const agent = new Agent({ keepAlive: true });

async function codeOf(p: Probe, token: string): Promise<{ status: number; code: string | undefined }> {
  const hasBody = !(p.method === 'GET' || p.method === 'DELETE');
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${p.url}`,
      {
        method: p.method,
        agent,
        headers: { authorization: `Bearer ${token}`, ...(hasBody ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        // Streams stay open when allowed: the status is all this needs.
        if (res.headers['content-type']?.startsWith('text/event-stream')) {
          res.destroy();
          resolve({ status: res.statusCode ?? 0, code: undefined });
          return;
        }
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => {
          let code: string | undefined;
          try {
            code = (JSON.parse(body) as { error?: { code?: string } }).error?.code;
          } catch {
            code = undefined;
          }
          resolve({ status: res.statusCode ?? 0, code });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(hasBody ? '{}' : undefined);
  });
}

describe('role matrix', () => {
  it('says which role is needed', async () => {
    const dev = callers.find((c) => c.principal.id === 'user:developer-project');
    const res = await fetch(`${base}/api/projects/${PROJECT}/environments/production/deploy`, {
      method: 'POST',
      headers: { authorization: `Bearer ${dev?.token}`, 'content-type': 'application/json' },
      body: '{"release":1}',
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      error: {
        code: 'FORBIDDEN',
        message: `user:developer-project has the developer role on environment production of ${PROJECT} (protected); deploy needs maintainer`,
      },
    });
  });

  it('lists only the projects a caller may read', async () => {
    const list = async (who: string) => {
      const c = callers.find((x) => x.principal.id === who);
      const res = await fetch(`${base}/api/projects`, { headers: { authorization: `Bearer ${c?.token}` } });
      return ((await res.json()) as { projects: { name: string }[] }).projects.map((p) => p.name);
    };
    expect(await list('user:viewer-project')).toContain(PROJECT);
    expect(await list('user:admin-other-project')).not.toContain(PROJECT);
    expect(await list('user:nobody')).toEqual([]);
  });
  it('refuses exactly what the permission table refuses, for every route, role and scope', async () => {
    const all = probes();
    expect(all.length).toBeGreaterThan(60);
    const wrong: string[] = [];
    let forbidden = 0;
    for (const p of all) {
      // One route at a time (its side effects stay in order), every caller at once.
      await Promise.all(
        callers.map(async (c) => {
          const expected = p.permission === 'signed-in' || decide(c.principal, p.permission as never, p.target).allowed;
          const { status, code } = await codeOf(p, c.token);
          if (status === 401) wrong.push(`${c.principal.id} ${p.method} ${p.url}: 401`);
          else if (expected === (code === 'FORBIDDEN'))
            wrong.push(
              `${c.principal.id} ${p.method} ${p.url}: expected ${expected ? 'allowed' : 'FORBIDDEN'}, got ${status} ${code ?? ''}`,
            );
          if (code === 'FORBIDDEN') forbidden += 1;
        }),
      );
    }
    expect(wrong).toEqual([]);
    expect(forbidden).toBeGreaterThan(0);
  });
});
