/**
 * GANTRY_OIDC_AUTO_SIGN_IN=on, against a real OpenID provider (oidc-provider on loopback) and, for
 * the whole way, a real Chromium: a browser without a session that opens a dashboard page goes
 * straight to the provider (one redirect: the page's answer is the provider's address) and comes
 * back signed in to that same page; the sign-in page stays at
 * /sign-in; a `next` that leaves Gantry's origin lands on the home page instead; API calls,
 * assets and browsers with a session are served as before.
 */
import type { BrowserContext, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserAvailable, type FileBrowser, openBrowser } from '../support/browser.ts';
import { freePort } from '../support/net.ts';
import { startTestProvider, type TestProvider } from '../support/oidc-provider.ts';
import { loopbackOnly } from '../support/oidc-sign-in.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const ERIN = { sub: 'erin', preferred_username: 'erin', name: 'Erin Example', email: 'erin@example.com', groups: ['platform'] };
const html = { accept: 'text/html,application/xhtml+xml' };

describe.runIf(browserAvailable())('OIDC sign-in straight at the provider', () => {
  let server: TestServer;
  let provider: TestProvider;
  let browser: FileBrowser;
  let context: BrowserContext;

  beforeAll(async () => {
    const providerPort = await freePort();
    [server, browser] = await Promise.all([
      startTestServer({
        options: {
          oidcIssuer: `http://localhost:${providerPort}`,
          oidcClientId: 'gantry',
          oidcClientSecret: 'test-client-secret-0123456789',
          oidcRoles: 'platform=admin',
          oidcAutoSignIn: 'on',
        },
      }),
      openBrowser(),
    ]);
    provider = await startTestProvider({ port: providerPort, redirectUri: `${server.url}/auth/oidc/callback`, accounts: [ERIN] });
    context = await browser.newContext();
    await loopbackOnly(context);
  });
  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close();
    await provider?.stop();
    await server?.cleanup();
  });

  it('sends a page request without a session to the provider in one redirect, and leaves the rest alone', async () => {
    const page = await fetch(`${server.url}/events?type=deploy`, { headers: html, redirect: 'manual' });
    // Straight to the provider's authorization endpoint, with this sign-in's flow and the page to come back to.
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toMatch(/^http:\/\/localhost:\d+\/auth\?.*code_challenge_method=S256/);
    expect(page.headers.get('cache-control')).toBe('no-store');
    const cookies = page.headers.getSetCookie();
    expect(cookies.find((c) => c.startsWith('gantry_oidc='))).toMatch(/Path=\/auth\/oidc; HttpOnly; SameSite=Lax/);
    expect(cookies.find((c) => c.startsWith('gantry_oidc_next='))).toContain(encodeURIComponent('/events?type=deploy'));
    expect((await fetch(`${server.url}/sign-in`, { headers: html, redirect: 'manual' })).status).toBe(200);
    expect((await fetch(`${server.url}/api/session`, { headers: html, redirect: 'manual' })).status).toBe(401);
    expect((await fetch(`${server.url}/events`, { redirect: 'manual' })).status).toBe(200);

    const elsewhere = await fetch(`${server.url}/auth/oidc/start?next=${encodeURIComponent('//evil.example/x')}`, { redirect: 'manual' });
    expect(elsewhere.headers.get('location')).toMatch(/^http:\/\/localhost:\d+\/auth\?/);
    expect(elsewhere.headers.getSetCookie().find((c) => c.startsWith('gantry_oidc_next='))).toContain('Max-Age=0');
  });

  it('brings a person from the page they opened through the provider’s form back to that page, signed in', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/events?type=deploy`);
    await page.locator('input[name="login"]').fill('erin');
    await page.locator('input[name="password"]').fill('any password');
    await Promise.all([page.waitForURL(`${server.url}/events?type=deploy`), page.locator('button[type="submit"]').click()]);
    await page.locator('header .who').getByText('user:erin').waitFor({ timeout: 20_000 });
    expect((await context.cookies(server.url)).map((c) => c.name)).toEqual(['gantry_session']);

    // Signed in, the same request is served: the session decides, not the redirect.
    await page.goto(`${server.url}/events`);
    await page.locator('header .who').getByText('user:erin').waitFor({ timeout: 20_000 });
    expect(page.url()).toBe(`${server.url}/events`);
  });

  it('asks who is signed in while its scripts load, once: the header does not wait for the script to ask', async () => {
    const page = await context.newPage();
    const sessionAsked: Request[] = [];
    let script: Request | undefined;
    page.on('request', (request) => {
      const path = new URL(request.url()).pathname;
      if (path === '/api/session') sessionAsked.push(request);
      if (/^\/assets\/index-[\w-]+\.js$/.test(path)) script = request;
    });
    await page.goto(`${server.url}/`);
    await page.locator('header .who').getByText('user:erin').waitFor({ timeout: 20_000 });
    // The page's preload is the app's answer (one request, not a second fetch of its own).
    expect(sessionAsked).toHaveLength(1);
    if (!script) throw new Error('the dashboard loaded no index script');
    await (await script.response())?.finished();
    // The app can only ask once its script has arrived: asked before that, it was the page's preload.
    const { startTime, responseEnd } = script.timing();
    expect(sessionAsked[0]!.timing().startTime).toBeLessThan(startTime + responseEnd);
    await page.close();
  });
});
