import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionService } from '../../../src/server/auth/sessions.ts';
import { openStore } from '../../../src/store/open-store.ts';
import type { EventEnvironment, Store } from '../../../src/store/ports.ts';

const ENV: EventEnvironment = { gantryVersion: '0.1.0', nodeVersion: 'v24.0.0', host: 'test-host', configHash: 'cafe' };
import { startTestServer, type TestServer } from '../../support/server.ts';

describe('dashboard sign-in over HTTP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.cleanup();
  });

  async function signIn(): Promise<{ cookie: string; csrf: string }> {
    const link = await server.api<{ url: string; expiresAt: string }>('POST', '/api/login-links');
    expect(link.status).toBe(201);
    const response = await fetch(link.body.url, { redirect: 'manual' });
    expect(response.status).toBe(200);
    const setCookie = response.headers.get('set-cookie') ?? '';
    const cookie = setCookie.split(';')[0]!;
    const session = await fetch(`${server.url}/api/session`, { headers: { cookie } });
    const body = (await session.json()) as { csrf: string; actor: string };
    return { cookie, csrf: body.csrf };
  }

  it('trades a one-time link for an HttpOnly, SameSite=Strict session cookie, exactly once', async () => {
    const link = (await server.api<{ url: string }>('POST', '/api/login-links')).body;
    expect(link.url.startsWith(`${server.url}/auth/login?token=`)).toBe(true);
    const first = await fetch(link.url);
    expect(first.status).toBe(200);
    const setCookie = first.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^gantry_session=gns_[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    expect(first.headers.get('referrer-policy')).toBe('no-referrer');
    const again = await fetch(link.url);
    expect(again.status).toBe(401);
    expect(again.headers.get('set-cookie')).toBeNull();
    expect(await again.text()).toContain('gantry open');
  });

  it('reads with the cookie alone but changes nothing without the CSRF header', async () => {
    const { cookie, csrf } = await signIn();
    expect(csrf.length).toBeGreaterThan(20);
    const list = await fetch(`${server.url}/api/projects`, { headers: { cookie } });
    expect(list.status).toBe(200);

    const path = `${server.url}/api/projects`;
    const body = JSON.stringify({ path: '/nonexistent' });
    const noHeader = await fetch(path, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body });
    expect(noHeader.status).toBe(403);
    expect(((await noHeader.json()) as { error: { code: string } }).error.code).toBe('CSRF');
    const wrongHeader = await fetch(path, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', 'x-gantry-csrf': `${csrf}x` },
      body,
    });
    expect(wrongHeader.status).toBe(403);
    const crossSite = await fetch(path, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', 'x-gantry-csrf': csrf, origin: 'http://evil.example' },
      body,
    });
    expect(crossSite.status).toBe(403);
    // With the header the request reaches the handler (which rejects the missing path, not the caller).
    const allowed = await fetch(path, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', 'x-gantry-csrf': csrf, origin: server.url },
      body,
    });
    expect(allowed.status).not.toBe(403);
    expect(allowed.status).not.toBe(401);
  });

  it('records who acted: the dashboard session, in the event log', async () => {
    const { cookie, csrf } = await signIn();
    await fetch(`${server.url}/api/login-links`, { method: 'POST', headers: { cookie, 'x-gantry-csrf': csrf } });
    const events = (await server.api<{ events: { type: string; actor: string }[] }>('GET', '/api/events?type=session.link-created')).body
      .events;
    expect(events.at(-1)?.actor).toMatch(/^dashboard:/);
  });

  it('never accepts a session or a login link as a bearer token', async () => {
    const { cookie } = await signIn();
    const sessionToken = cookie.split('=')[1]!;
    const asBearer = await fetch(`${server.url}/api/projects`, { headers: { authorization: `Bearer ${sessionToken}` } });
    expect(asBearer.status).toBe(401);
    const link = (await server.api<{ url: string }>('POST', '/api/login-links')).body;
    const linkToken = new URL(link.url).searchParams.get('token')!;
    const linkAsBearer = await fetch(`${server.url}/api/projects`, { headers: { authorization: `Bearer ${linkToken}` } });
    expect(linkAsBearer.status).toBe(401);
  });

  it("signs out: the cookie stops working and the session's open event streams end at once", async () => {
    const { cookie, csrf } = await signIn();
    const stream = await fetch(`${server.url}/api/events/stream`, { headers: { cookie } });
    expect(stream.status).toBe(200);
    const streamEnded = stream.body!.pipeTo(new WritableStream()).then(
      () => 'ended',
      () => 'ended',
    );
    const out = await fetch(`${server.url}/auth/logout`, { method: 'POST', headers: { cookie, 'x-gantry-csrf': csrf } });
    expect(out.status).toBe(200);
    expect(await streamEnded).toBe('ended');
    expect((await fetch(`${server.url}/api/projects`, { headers: { cookie } })).status).toBe(401);
  });

  it('serves the dashboard at / and at its own routes, and 404 JSON under /api', async () => {
    const root = await fetch(`${server.url}/`);
    expect(root.status).toBe(200);
    expect(root.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await root.text();
    expect(html).toContain('<div id="root">');
    const deep = await fetch(`${server.url}/runs/abc/jobs/build`);
    expect(await deep.text()).toBe(html);
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${server.url}${script}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    const missing = await fetch(`${server.url}/api/nothing-here`, { headers: { authorization: `Bearer ${server.token}` } });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });
});

describe('SessionService', () => {
  let dir: string;
  let store: Store;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-sessions-'));
    store = await openStore({ url: `sqlite:${join(dir, 'gantry.db')}` });
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a link after its ten minutes and a session after its expiry', async () => {
    let now = Date.parse('2026-11-22T10:00:00Z');
    const sessions = new SessionService(store, () => now);
    const late = await sessions.createLoginLink('http://127.0.0.1:1');
    now += 10 * 60_000 + 1;
    expect(await sessions.redeem(new URL(late.url).searchParams.get('token')!)).toBeNull();

    const link = await sessions.createLoginLink('http://127.0.0.1:1');
    const redeemed = await sessions.redeem(new URL(link.url).searchParams.get('token')!);
    expect(redeemed).not.toBeNull();
    expect(await sessions.find(redeemed!.cookie)).not.toBeNull();
    now += redeemed!.maxAgeSeconds * 1000;
    expect(await sessions.find(redeemed!.cookie)).toBeNull();
  });

  const started = (type: string) => (sessionId: string) => [
    { type, subject: 'server', actor: 'user:carol', data: { session: sessionId }, env: ENV },
  ];

  it("takes a sign-in's state once, and only within its ten minutes", async () => {
    let now = Date.parse('2026-11-22T10:00:00Z');
    const sessions = new SessionService(store, () => now);
    await sessions.rememberSignIn('state-a');
    expect(await sessions.signInPending('state-a')).toBe(true);
    expect(await sessions.finishSignIn('state-a', 'carol', started('test.once'))).not.toBeNull();
    expect(await sessions.signInPending('state-a')).toBe(false);
    expect(await sessions.finishSignIn('state-a', 'carol', started('test.once'))).toBeNull();
    expect(await sessions.signInPending('never-issued')).toBe(false);
    await sessions.rememberSignIn('state-b');
    now += 10 * 60_000 + 1;
    expect(await sessions.signInPending('state-b')).toBe(false);
  });

  it('finishes one sign-in of two with the same state at the same moment, and writes nothing for the other', async () => {
    const sessions = new SessionService(store);
    await sessions.rememberSignIn('state-raced');
    const type = `test.raced.${Date.now()}`;
    const results = await Promise.all([
      sessions.finishSignIn('state-raced', 'carol', started(type)),
      sessions.finishSignIn('state-raced', 'carol', started(type)),
    ]);
    const finished = results.filter((r) => r !== null);
    expect(finished).toHaveLength(1);
    const events = await store.events.list({ type });
    expect(events.map((e) => e.data.session)).toEqual([finished[0]!.id]);
    expect((await sessions.list()).filter((s) => s.owner === 'carol').map((s) => s.id)).toContain(finished[0]!.id);
  });

  it('makes user sessions that act as the user, listed for admins and ended by id', async () => {
    const sessions = new SessionService(store);
    await sessions.rememberSignIn('state-c');
    const session = (await sessions.finishSignIn('state-c', 'carol', started('test.started')))!;
    const found = await sessions.find(session.cookie);
    expect(found).toMatchObject({ id: session.id, owner: 'carol', actor: 'user:carol' });
    expect((await sessions.list()).find((s) => s.id === session.id)).toMatchObject({ owner: 'carol' });
    expect(await sessions.revoke(session.id)).toBe(true);
    expect(await sessions.find(session.cookie)).toBeNull();
    expect(await sessions.revoke(session.id)).toBe(false);
  });
});
