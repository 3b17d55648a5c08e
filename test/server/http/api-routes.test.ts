/**
 * The API's shell in process (`app.inject()`, no port): every route's auth declaration, the
 * session cookie's CSRF rules, and the mapping of errors to `{ error: { code, message } }` with a
 * code of the catalogue and the catalogue's status.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpStatusOf, isErrorCode } from '../../../src/core/error-codes.ts';
import { GantryError } from '../../../src/core/errors.ts';
import { RouteTable } from '../../../src/server/http/index.ts';
import { appWithoutAuth } from '../../support/http-app.ts';
import { buildTestApp, type TestApp } from '../../support/app.ts';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';

/** The only routes anyone may call without credentials. */
const PUBLIC_ROUTES = ['GET /api/health', 'GET /auth/login', 'GET /api/sign-in-methods'];
/** Public too, registered only when an OpenID provider is configured: the sign-in's two legs. */
const OIDC_ROUTES = ['GET /auth/oidc/start', 'GET /auth/oidc/callback'];
/** Routes that check their own credentials: the git hook's per-project token, a forge's signature. */
const SELF_CHECKED_ROUTES = {
  'POST /api/projects/:project/git-hook': 'hook',
  'POST /api/webhooks/:project': 'signature',
  // OTLP trace export: the environment's ingest token, checked by the route (server/traces).
  'POST /v1/traces': 'signature',
};

/** A concrete URL for a route pattern (`:name` and `*` filled in). */
function concrete(url: string): string {
  return url.replace(/:([A-Za-z]+)/g, 'x-$1').replace('*', 'x-file');
}

/** Asserts the answer is an error of the catalogue with its status, in the one shape. */
function expectError(res: LightMyRequestResponse, status: number, code: string): { code: string; message: string } {
  const what = `${res.statusCode} ${res.body.slice(0, 300)}`;
  expect(res.headers['content-type'], what).toMatch(/^application\/json/);
  const body = res.json() as { error: { code: string; message: string; details?: unknown } };
  expect(Object.keys(body), what).toEqual(['error']);
  expect(
    Object.keys(body.error).filter((k) => k !== 'details'),
    what,
  ).toEqual(['code', 'message']);
  expect(typeof body.error.message, what).toBe('string');
  expect({ status: res.statusCode, code: body.error.code }, what).toEqual({ status, code });
  expect(isErrorCode(body.error.code), what).toBe(true);
  if (isErrorCode(body.error.code)) expect(httpStatusOf(body.error.code), `catalogue status of ${code}`).toBe(status);
  return body.error;
}

describe('API routes in process', () => {
  let t: TestApp;
  let linkToken: string;
  let cookie: string;
  let csrf: string;

  const call = (method: Method, url: string, headers: Record<string, string> = {}, payload?: string | object) =>
    t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
  const admin = (method: Method, url: string, payload?: string | object, headers: Record<string, string> = {}) =>
    call(method, url, { authorization: `Bearer ${t.token}`, ...headers }, payload);

  beforeAll(async () => {
    t = await buildTestApp();
    linkToken = new URL((await t.sessions.createLoginLink('http://gantry.test')).url).searchParams.get('token') as string;
    const link = new URL((await t.sessions.createLoginLink('http://gantry.test')).url).searchParams.get('token') as string;
    cookie = ((await t.sessions.redeem(link)) as { cookie: string }).cookie;
    csrf = ((await t.sessions.find(cookie)) as { csrf: string }).csrf;
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  describe('auth', () => {
    it('declares one auth kind per route, and `none` only for the public few', () => {
      const routes = t.app.routeTable.list();
      expect(routes.length).toBeGreaterThan(30);
      for (const route of routes) {
        const name = `${route.method} ${route.url}`;
        expect(['admin', 'none', 'hook', 'signature'], name).toContain(route.auth);
        if (route.auth === 'none') expect([...PUBLIC_ROUTES, ...OIDC_ROUTES], name).toContain(name);
        if (route.auth === 'hook' || route.auth === 'signature') expect(SELF_CHECKED_ROUTES, name).toHaveProperty([name], route.auth);
      }
      const names = routes.map((r) => `${r.method} ${r.url}`);
      expect(names).toEqual(expect.arrayContaining([...PUBLIC_ROUTES, ...Object.keys(SELF_CHECKED_ROUTES)]));
      expect(new Set(names).size, 'each route declared once').toBe(names.length);
    });

    it('refuses every admin route without credentials, with a wrong token, and with dashboard tokens as bearer', async () => {
      const admins = t.app.routeTable.list().filter((r) => r.auth === 'admin');
      for (const route of admins) {
        const url = concrete(route.url);
        const name = `${route.method} ${route.url}`;
        const attempts: [string, Record<string, string>][] = [
          ['no token', {}],
          ['a wrong token', { authorization: 'Bearer gnt_wrong' }],
          ['a malformed header', { authorization: `Basic ${t.token}` }],
          ['a login link as bearer', { authorization: `Bearer ${linkToken}` }],
          ['a session cookie value as bearer', { authorization: `Bearer ${cookie}` }],
        ];
        for (const [how, headers] of attempts) {
          const res = await call(route.method, url, headers);
          expect(res.statusCode, `${name} with ${how}`).toBe(401);
          expectError(res, 401, 'UNAUTHORIZED');
        }
      }
    });

    it('refuses HEAD on admin GET routes without credentials (fastify adds HEAD routes of its own)', async () => {
      const gets = t.app.routeTable.list().filter((r) => r.auth === 'admin' && r.method === 'GET');
      for (const route of gets) {
        const res = await call('HEAD', concrete(route.url));
        expect(res.statusCode, `HEAD ${route.url}`).toBe(401);
      }
    });

    it('refuses the git hook route without its per-project hook token (the admin token is not one)', async () => {
      const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer gnt_wrong' }, { authorization: `Bearer ${t.token}` }];
      for (const headers of attempts) {
        const res = await call(
          'POST',
          '/api/projects/nope/git-hook',
          { 'content-type': 'text/plain', ...headers },
          'a b refs/heads/main\n',
        );
        expectError(res, 401, 'UNAUTHORIZED');
      }
    });

    it('refuses an unsigned webhook, and one for an unknown project, alike', async () => {
      const push = { ref: 'refs/heads/main', after: 'a'.repeat(40) };
      const attempts: Record<string, string>[] = [{}, { 'x-github-event': 'push', 'x-hub-signature-256': 'sha256=00' }];
      for (const headers of attempts) {
        expectError(await call('POST', '/api/webhooks/nope', headers, push), 401, 'BAD_SIGNATURE');
      }
    });

    it('answers the public routes without credentials', async () => {
      expect((await call('GET', '/api/health')).statusCode).toBe(200);
      expect((await call('GET', '/auth/login?token=nope')).statusCode).toBe(401); // an HTML page, not an API error
    });

    it('lets a valid token through', async () => {
      expect((await admin('GET', '/api/projects')).statusCode).toBe(200);
    });
  });

  it('describes the error body in the OpenAPI document, with the codes the server sends', async () => {
    const doc = (await admin('GET', '/api/openapi.json')).json() as {
      components: { schemas: { Error: { properties: { error: { properties: { code: { enum: string[] } } } } } } };
    };
    const codes = doc.components.schemas.Error.properties.error.properties.code.enum;
    expect(codes).toEqual(expect.arrayContaining(['UNAUTHORIZED', 'CSRF', 'INVALID_INPUT', 'SHUTTING_DOWN', 'INTERNAL']));
    expect(codes).not.toContain('NO_SERVER');
  });

  describe('CSRF with a session cookie', () => {
    const withCookie = (extra: Record<string, string> = {}) => ({ cookie: `gantry_session=${cookie}`, ...extra });

    it('reads with the cookie alone', async () => {
      const res = await call('GET', '/api/projects', withCookie());
      expect(res.statusCode).toBe(200);
    });

    it('refuses POST, PUT and DELETE without x-gantry-csrf or with a wrong one', async () => {
      const cases: [Method, string, object?][] = [
        ['POST', '/api/projects/nope/runs', {}],
        ['PUT', '/api/projects/nope/secrets/TOKEN', { value: 'v' }],
        ['DELETE', '/api/projects/nope'],
      ];
      for (const [method, url, body] of cases) {
        expectError(await call(method, url, withCookie(), body), 403, 'CSRF');
        expectError(await call(method, url, withCookie({ 'x-gantry-csrf': 'wrong' }), body), 403, 'CSRF');
      }
    });

    it('refuses a cross-site Origin even with the header', async () => {
      const res = await call('DELETE', '/api/projects/nope', withCookie({ 'x-gantry-csrf': csrf, origin: 'https://evil.example' }));
      expectError(res, 403, 'CSRF');
    });

    it('passes with the header (and a same-origin Origin), on to the route', async () => {
      expectError(await call('DELETE', '/api/projects/nope', withCookie({ 'x-gantry-csrf': csrf })), 404, 'NOT_FOUND');
      const sameOrigin = withCookie({ 'x-gantry-csrf': csrf, origin: 'http://localhost:80', host: 'localhost:80' });
      expectError(await call('DELETE', '/api/projects/nope', sameOrigin), 404, 'NOT_FOUND');
    });

    it('refuses a cookie that is not a session: unknown, a login link, an API token', async () => {
      for (const value of ['gns_nope', linkToken, t.token]) {
        expectError(await call('GET', '/api/projects', { cookie: `gantry_session=${value}` }), 401, 'UNAUTHORIZED');
      }
    });
  });

  describe('errors', () => {
    it('maps NotFoundError to 404 NOT_FOUND', async () => {
      const error = expectError(await admin('GET', '/api/projects/nope'), 404, 'NOT_FOUND');
      expect(error.message).toContain('nope');
    });

    it('answers 400 INVALID_JSON for a body that is not JSON', async () => {
      expectError(await admin('POST', '/api/projects', '{"path":', { 'content-type': 'application/json' }), 400, 'INVALID_JSON');
    });

    it('answers 400 INVALID_INPUT naming the field for a body that fails its schema', async () => {
      const error = expectError(await admin('POST', '/api/projects', { name: 5 }), 400, 'INVALID_INPUT');
      expect(error.message).toMatch(/\bname\b/);
    });

    it('answers 400 INVALID_INPUT naming the parameter for a query that fails its schema', async () => {
      const error = expectError(await admin('GET', '/api/runs?limit=many'), 400, 'INVALID_INPUT');
      expect(error.message).toMatch(/\blimit\b/);
    });

    it('answers 404 NOT_FOUND in JSON for an unknown route', async () => {
      for (const method of ['GET', 'POST', 'PUT', 'DELETE'] as const) {
        const error = expectError(await admin(method, '/api/no-such-thing'), 404, 'NOT_FOUND');
        expect(error.message).toContain('/api/no-such-thing');
      }
      expectError(await call('GET', '/api/no-such-thing'), 404, 'NOT_FOUND');
      expectError(await call('GET', '/assets/no-such-file.js'), 404, 'NOT_FOUND');
    });

    it('answers 415 UNSUPPORTED_MEDIA_TYPE for a body the API does not read', async () => {
      expectError(await admin('POST', '/api/projects', '<project/>', { 'content-type': 'application/xml' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('answers 400 BAD_REQUEST for a URL that does not decode', async () => {
      const error = expectError(await admin('GET', '/api/projects/%E0%A4%A'), 400, 'BAD_REQUEST');
      expect(error.message).toContain('/api/projects/%E0%A4%A');
    });

    it('answers 400 BAD_REQUEST for a body that does not match its Content-Length', async () => {
      const res = await admin('POST', '/api/projects', '{"name":"a"}', { 'content-type': 'application/json', 'content-length': '5' });
      expectError(res, 400, 'BAD_REQUEST');
    });

    it('answers 413 BODY_TOO_LARGE past the body limit', async () => {
      const big = JSON.stringify({ name: 'x'.repeat(9 * 1024 * 1024) });
      expectError(await admin('POST', '/api/projects', big, { 'content-type': 'application/json' }), 413, 'BODY_TOO_LARGE');
    });

    it('answers every route, called for things that do not exist, with a success or an error of the catalogue', async () => {
      // Event streams never end, so they are left out; everything else must answer, and never with a bug.
      const routes = t.app.routeTable.list().filter((r) => !r.url.endsWith('/stream'));
      for (const route of routes) {
        const payload = route.method === 'POST' || route.method === 'PUT' ? {} : undefined;
        const res = await admin(route.method, concrete(route.url), payload);
        const name = `${route.method} ${route.url}: ${res.statusCode} ${res.body.slice(0, 200)}`;
        expect(res.statusCode, name).toBeLessThan(500);
        if (res.statusCode >= 400 && res.headers['content-type']?.startsWith('application/json')) {
          const code = (res.json() as { error: { code: string } }).error.code;
          expectError(res, res.statusCode, code);
        }
      }
      expect(t.internalErrors).toEqual([]);
    });

    it('answers 500 INTERNAL for a bug of ours without leaking its message, and reports it', async () => {
      t.fault = new Error('database password is hunter2');
      try {
        const res = await admin('GET', '/api/projects');
        const error = expectError(res, 500, 'INTERNAL');
        expect(res.body).not.toContain('hunter2');
        expect(error.message).toBe('internal error (see the server log)');
        expect(t.internalErrors.at(-1)?.message).toBe('database password is hunter2');
      } finally {
        t.fault = null;
      }
    });

    it('reports a coded failure on the server side (5xx) as well as answering it', async () => {
      t.fault = new GantryError('STORE_UNAVAILABLE', 'the store did not answer');
      try {
        const res = await admin('GET', '/api/projects');
        expectError(res, 503, 'STORE_UNAVAILABLE');
        expect(t.internalErrors.at(-1)).toBe(t.fault);
      } finally {
        t.fault = null;
      }
    });

    it('answers 503 SHUTTING_DOWN to every request while closing', async () => {
      t.closing = true;
      try {
        for (const [method, url] of [
          ['GET', '/api/health'],
          ['GET', '/api/projects'],
          ['POST', '/api/projects'],
          ['GET', '/api/no-such-thing'],
        ] as const) {
          const res = await admin(method, url, method === 'POST' ? {} : undefined);
          expectError(res, 503, 'SHUTTING_DOWN');
          expect(res.headers.connection).toBe('close');
        }
      } finally {
        t.closing = false;
      }
      expect((await call('GET', '/api/health')).statusCode).toBe(200);
    });
  });
});

describe('the HTTP shell', () => {
  it('refuses an API route registered around the route table (it would have no auth)', async () => {
    const app = appWithoutAuth();
    expect(() => app.get('/api/sneaky', async () => ({ secret: true }))).toThrow(/not in the route table/);
    app.get('/outside-the-api', async () => 'fine');
    await app.close();
  });

  it('refuses a route given a fastify JSON schema: requests are parsed with zod from the route table', async () => {
    const app = appWithoutAuth();
    app.post('/outside-the-api', { schema: { body: { type: 'object' } } }, async () => 'validated elsewhere');
    await expect(app.ready()).rejects.toThrow(/fastify schemas are not used: parse the request with zod in the route table/);
    await app.close();
  });

  it('refuses an authenticated route that names no permission', () => {
    const routes = new RouteTable();
    routes.add({ method: 'GET', url: '/api/unguarded', summary: 'x', auth: 'admin', handler: async () => ({}) });
    const app = appWithoutAuth(routes);
    expect(() => routes.register(app)).toThrow(
      'GET /api/unguarded has no permission: declare the one it needs (src/access/permissions.ts)',
    );
  });
});
