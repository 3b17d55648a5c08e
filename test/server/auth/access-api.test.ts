/**
 * Users, grants and tokens through the API (real HTTP on loopback): a token is shown once and
 * acts with its user's roles narrowed by its scopes; expiry, revocation and a disabled user are
 * refused on the next request, and revocation ends the token's open event stream at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../support/app.ts';

let t: TestApp;
let base = '';

async function call(
  token: string,
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const admin = (method: string, url: string, body?: unknown) => call(t.token, method, url, body);

beforeAll(async () => {
  t = await buildTestApp();
  base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  await t.store.projects.create({ name: 'shop', source: { kind: 'local', path: '/nonexistent' }, webhookSecret: 'w' });
});
afterAll(async () => {
  await t?.cleanup();
});

describe('users, grants and tokens', () => {
  it('makes a token that acts with its user’s roles, once shown and stored hashed', async () => {
    expect((await admin('POST', '/api/users', { name: 'alice', email: 'alice@example.test', groups: ['dev'] })).status).toBe(201);
    expect((await admin('PUT', '/api/projects/shop/members', { subject: 'group:dev', role: 'developer' })).status).toBe(200);
    const made = await admin('POST', '/api/tokens', { name: 'laptop', owner: 'alice' });
    expect(made.status).toBe(201);
    const token = String(made.json.token);
    expect(token).toMatch(/^gnt_/);
    expect(JSON.stringify(await t.store.tokens.list())).not.toContain(token);

    expect((await call(token, 'GET', '/api/projects/shop')).status).toBe(200);
    expect((await call(token, 'POST', '/api/users', { name: 'mallory' })).json).toMatchObject({ error: { code: 'FORBIDDEN' } });
    const prod = await call(token, 'POST', '/api/projects/shop/environments/production/deploy', { release: 1 });
    expect(prod.json).toMatchObject({
      error: {
        code: 'FORBIDDEN',
        message: 'user:alice has the developer role on environment production of shop (protected); deploy needs maintainer',
      },
    });
    // Overriding a gate is a permission of its own, even where she may deploy.
    const override = await call(token, 'POST', '/api/projects/shop/environments/staging/deploy', {
      release: '1',
      overrideSecurity: { reason: 'hotfix' },
    });
    expect(override.json).toEqual({
      error: {
        code: 'FORBIDDEN',
        message: 'user:alice has the developer role on environment staging of shop; deploy.override needs maintainer',
      },
    });
    // Her own tokens only, never their values.
    const list = await call(token, 'GET', '/api/tokens');
    expect((list.json.tokens as { name: string }[]).map((x) => x.name)).toEqual(['laptop']);
    expect(JSON.stringify(list.json)).not.toContain(token);
  });

  it('narrows a token to its scopes, and dates its expiry', async () => {
    const alice = String((await admin('POST', '/api/tokens', { name: 'a', owner: 'alice' })).json.token);
    const readOnly = String((await call(alice, 'POST', '/api/tokens', { name: 'ro', scopes: ['read'] })).json.token);
    expect((await call(readOnly, 'GET', '/api/projects/shop')).status).toBe(200);
    expect((await call(readOnly, 'PUT', '/api/projects/shop/secrets/X', { value: 'v' })).json).toMatchObject({
      error: { code: 'FORBIDDEN' },
    });
    // Alice may not mint tokens for someone else.
    expect((await call(alice, 'POST', '/api/tokens', { name: 'x', owner: 'bob' })).json).toMatchObject({ error: { code: 'FORBIDDEN' } });

    const shortLived = await admin('POST', '/api/tokens', { name: 'short', owner: 'alice', expiresIn: '1h' });
    expect(Date.parse(String(shortLived.json.expiresAt)) - Date.now()).toBeGreaterThan(3_500_000);
  });

  it('refuses an expired token with what to do', async () => {
    const { hashToken, newToken } = await import('../../../src/server/auth/index.ts');
    const token = newToken();
    await t.store.tokens.create({ name: 'stale', hash: hashToken(token), owner: 'alice', expiresAt: '2020-01-01T00:00:00.000Z' });
    expect((await call(token, 'GET', '/api/projects/shop')).json).toEqual({
      error: { code: 'UNAUTHORIZED', message: 'the API token "stale" expired at 2020-01-01T00:00:00.000Z: create a new one' },
    });
  });

  it('ends an open event stream the moment its token is revoked, and refuses it afterwards', async () => {
    const made = await admin('POST', '/api/tokens', { name: 'stream', owner: 'alice' });
    const token = String(made.json.token);
    const res = await fetch(`${base}/api/events/stream?project=shop`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const reader = res.body?.getReader();
    const ended = (async () => {
      try {
        for (;;) if ((await reader?.read())?.done) return 'ended';
      } catch {
        return 'ended';
      }
    })();
    expect((await admin('DELETE', `/api/tokens/${String(made.json.id)}`)).json).toEqual({ revoked: true });
    expect(await ended).toBe('ended');
    expect((await call(token, 'GET', '/api/projects/shop')).json).toEqual({
      error: { code: 'UNAUTHORIZED', message: 'the API token "stream" was revoked' },
    });
    const events = await t.store.events.list({ types: ['token.revoked'], limit: 10 });
    expect(events.map((e) => e.data.name)).toContain('stream');
  });

  it('refuses every token of a disabled user, and lets an enabled one back in', async () => {
    const token = String((await admin('POST', '/api/tokens', { name: 'd', owner: 'alice' })).json.token);
    expect((await admin('PUT', '/api/users/alice/disabled', { disabled: true })).status).toBe(200);
    expect((await call(token, 'GET', '/api/projects/shop')).json).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    await admin('PUT', '/api/users/alice/disabled', { disabled: false });
    expect((await call(token, 'GET', '/api/projects/shop')).status).toBe(200);
  });

  it('validates what it is given', async () => {
    expect((await admin('POST', '/api/users', { name: 'Bad Name' })).json).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    expect((await admin('PUT', '/api/grants', { subject: 'alice', role: 'owner' })).json).toMatchObject({
      error: { code: 'INVALID_INPUT' },
    });
    expect((await admin('POST', '/api/tokens', { name: 'x' })).json).toEqual({
      error: { code: 'INVALID_INPUT', message: 'say which user or service account the token acts for: "owner"' },
    });
    expect((await admin('DELETE', '/api/projects/shop/members/user:nobody')).status).toBe(404);
  });

  it('keeps an audit trail of who changed what, from where, refusals included', async () => {
    await admin('POST', '/api/users', { name: 'carol' });
    const token = String((await admin('POST', '/api/tokens', { name: 'c', owner: 'carol' })).json.token);
    expect((await call(token, 'PUT', '/api/projects/shop/secrets/DB', { value: 'hunter2' })).status).toBe(403);
    const trail = await admin('GET', '/api/audit?user=carol&since=1h');
    const events = trail.json.events as { type: string; actor: string; data: Record<string, unknown> }[];
    expect(events[0]).toMatchObject({
      type: 'api.call',
      actor: 'user:carol',
      data: {
        method: 'PUT',
        route: '/api/projects/:project/secrets/:name',
        params: { project: 'shop', name: 'DB' },
        status: 403,
        from: '127.0.0.1',
      },
    });
    expect(JSON.stringify(trail.json)).not.toContain('hunter2');
    const all = (await admin('GET', '/api/audit?limit=50')).json.events as { type: string; actor: string }[];
    expect(all.some((e) => e.type === 'user.added' && e.actor === 'api:admin')).toBe(true);
    expect((await call(token, 'GET', '/api/audit')).status).toBe(403);
  });
});
