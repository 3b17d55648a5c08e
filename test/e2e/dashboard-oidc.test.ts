/**
 * Dashboard sign-in through a real OpenID provider (oidc-provider, started here on loopback) in a
 * real Chromium against a real `gantry up`: a good sign-in lands on the dashboard with the role
 * mapped from the provider's groups; an ID token for another audience, an expired one, one signed
 * by a key not in the provider's JWKS and a replayed answer are refused with a page that says so; a session an admin ends is refused on
 * its next call and its open event stream ends at once. The admin token and `gantry open` links
 * keep working beside it.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AXE, seriousViolations } from '../support/axe.ts';
import { browserAvailable, type FileBrowser, openBrowser, screenshot, signIn } from '../support/browser.ts';
import { openInApp } from '../support/in-app-navigation.ts';
import { freePort } from '../support/net.ts';
import { startTestProvider, type TestProvider } from '../support/oidc-provider.ts';
import { loopbackOnly, signInWithProvider } from '../support/oidc-sign-in.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const ALICE = { sub: 'alice', preferred_username: 'alice', name: 'Alice Doe', email: 'alice@example.com', groups: ['shop-devs'] };
/** The page's answers under a loaded machine: polled for up to this long. */
const SLOW = { timeout: 20_000, interval: 100 };
const ROOT = { sub: 'root', preferred_username: 'root', name: 'Platform Root', email: 'root@example.com', groups: ['platform'] };

describe.runIf(browserAvailable())('dashboard sign-in through an OpenID provider', () => {
  let server: GantryUp;
  let provider: TestProvider;
  let browser: FileBrowser;
  let repo: TestRepo;
  const contexts: BrowserContext[] = [];

  const freshPage = async (): Promise<Page> => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    contexts.push(context);
    await loopbackOnly(context);
    return context.newPage();
  };
  const refusal = (page: Page) => page.getByRole('alert');

  beforeAll(async () => {
    const providerPort = await freePort();
    const issuer = `http://localhost:${providerPort}`;
    [server, browser, repo] = await Promise.all([
      // Discovery happens on the first sign-in, so Gantry may start before its provider.
      startGantryUp({
        env: {
          GANTRY_OIDC_ISSUER: issuer,
          GANTRY_OIDC_CLIENT_ID: 'gantry',
          GANTRY_OIDC_CLIENT_SECRET: 'test-client-secret-0123456789',
          GANTRY_OIDC_ROLES: 'shop-devs=developer@shop, platform=admin',
        },
      }),
      openBrowser(),
      makeRepo({ 'gantry.yaml': 'pipeline:\n  on: { manual: {} }\n  jobs:\n    hello: { steps: ["echo hi"] }\n' }),
    ]);
    provider = await startTestProvider({
      port: providerPort,
      redirectUri: `${server.url}/auth/oidc/callback`,
      accounts: [ALICE, ROOT],
    });
    expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'shop' })).status).toBe(201);
  }, 60_000);
  // A test's pages end with it: left open, each kept its renderer, event stream and polling busy
  // until the file's end.
  const closeContexts = async () => {
    for (const context of contexts.splice(0)) await context.close().catch(() => undefined);
  };
  afterEach(closeContexts);
  afterAll(async () => {
    await closeContexts();
    await browser?.close();
    await provider?.stop();
    await server?.stop();
    await repo?.cleanup();
  });

  it('signs a person in with the role their group maps to, made a user with the groups of the claim', async () => {
    const page = await freshPage();
    await signInWithProvider(page, server.url, 'alice');
    await page.waitForURL(`${server.url}/`);
    const who = page.locator('header .who');
    await expect.poll(() => who.textContent(), SLOW).toContain('user:alice');
    expect(await who.textContent()).toContain('developer on shop');
    await screenshot(page, 'oidc-signed-in');

    const cookies = await page.context().cookies(server.url);
    const session = cookies.find((c) => c.name === 'gantry_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false });
    expect(cookies.find((c) => c.name === 'gantry_oidc')).toBeUndefined();

    // The role is what the mapping says: the project is readable, the server's users are not.
    // A developer sees the project's members but no way to change them.
    await page.goto(`${server.url}/projects/shop/members`);
    await page.getByRole('table', { name: 'Members' }).waitFor();
    expect(await page.getByRole('form', { name: 'Grant a role' }).count()).toBe(0);

    const statuses = await page.evaluate(async () => [
      (await fetch('/api/projects/shop/members')).status,
      (await fetch('/api/users')).status,
    ]);
    expect(statuses).toEqual([200, 403]);
    const users = (await server.api<{ users: { name: string; externalId: string; groups: string[] }[] }>('GET', '/api/users')).body.users;
    expect(users.find((u) => u.name === 'alice')).toMatchObject({ externalId: `${provider.issuer}|alice`, groups: ['shop-devs'] });
  });

  it('refuses an ID token issued for another application, saying so', async () => {
    await provider.tamperNextIdToken((claims) => ({ ...claims, aud: 'another-app' }));
    const page = await freshPage();
    await signInWithProvider(page, server.url, 'alice');
    await expect.poll(() => refusal(page).textContent(), SLOW).toContain('wrong audience');
    expect(await page.title()).toContain('Sign-in refused');
    expect((await page.context().cookies(server.url)).find((c) => c.name === 'gantry_session')).toBeUndefined();
  });

  it('refuses an expired ID token, saying so', async () => {
    const now = Math.floor(Date.now() / 1000);
    await provider.tamperNextIdToken((claims) => ({ ...claims, iat: now - 3600, exp: now - 1800 }));
    const page = await freshPage();
    await signInWithProvider(page, server.url, 'alice');
    await expect.poll(() => refusal(page).textContent(), SLOW).toContain('has expired');
    expect((await page.context().cookies(server.url)).find((c) => c.name === 'gantry_session')).toBeUndefined();
  });

  it("refuses an ID token not signed by the provider's keys, saying so", async () => {
    await provider.tamperNextIdToken((claims) => ({ ...claims, groups: ['platform'] }), { foreignKey: true });
    const page = await freshPage();
    await signInWithProvider(page, server.url, 'alice');
    await expect.poll(() => refusal(page).textContent(), SLOW).toContain('signature does not match');
    expect((await page.context().cookies(server.url)).find((c) => c.name === 'gantry_session')).toBeUndefined();
  });

  it("refuses a replayed answer even with the sign-in's own flow cookie", async () => {
    const page = await freshPage();
    const context = page.context();
    let callback = '';
    page.on('request', (request) => {
      if (request.url().startsWith(`${server.url}/auth/oidc/callback`)) callback = request.url();
    });
    await page.goto(server.url);
    await page.getByRole('link', { name: 'Sign in with your identity provider' }).click();
    await page.locator('input[name="login"]').waitFor();
    const flowCookie = (await context.cookies(`${server.url}/auth/oidc/callback`)).find((c) => c.name === 'gantry_oidc');
    expect(flowCookie).toBeDefined();
    await page.locator('input[name="login"]').fill('alice');
    await page.locator('input[name="password"]').fill('x');
    await Promise.all([page.waitForURL(`${server.url}/`), page.locator('button[type="submit"]').click()]);
    expect(callback).toContain('state=');

    // An attacker holding both the answer and the cookie still cannot use them twice.
    await context.clearCookies();
    await context.addCookies([flowCookie!]);
    await page.goto(callback);
    await expect.poll(() => refusal(page).textContent(), SLOW).toContain('already used (a replayed state)');
    expect((await context.cookies(server.url)).find((c) => c.name === 'gantry_session')).toBeUndefined();
    const refused = (await server.api<{ events: { type: string; data: { reason: string } }[] }>('GET', '/api/audit?user=sign-in:oidc')).body
      .events;
    expect(refused.map((e) => e.data.reason)).toEqual(expect.arrayContaining(['replayed']));
  });

  it('ends a session an admin revokes: the next call is refused and the open event stream ends at once', async () => {
    const page = await freshPage();
    await signInWithProvider(page, server.url, 'alice');
    await page.waitForURL(`${server.url}/`);
    await page.locator('header .who').getByText('user:alice').waitFor();
    // An open event stream of the project, read by the page.
    await page.evaluate(() => {
      const w = window as unknown as { streamState: string };
      w.streamState = 'opening';
      void fetch('/api/events/stream?project=shop').then(async (response) => {
        w.streamState = `open ${response.status}`;
        const reader = response.body!.getReader();
        try {
          while (!(await reader.read()).done);
          w.streamState = 'ended';
        } catch {
          w.streamState = 'ended';
        }
      });
    });
    await expect.poll(() => page.evaluate(() => (window as unknown as { streamState: string }).streamState), SLOW).toBe('open 200');

    const sessions = (await server.api<{ sessions: { id: string; owner: string | null }[] }>('GET', '/api/sessions')).body.sessions;
    const alices = sessions.filter((s) => s.owner === 'alice');
    expect(alices.length).toBeGreaterThan(0);
    for (const s of alices) expect((await server.api('DELETE', `/api/sessions/${s.id}`)).status).toBe(200);

    await expect.poll(() => page.evaluate(() => (window as unknown as { streamState: string }).streamState), SLOW).toBe('ended');
    expect(await page.evaluate(async () => (await fetch('/api/projects/shop/members')).status)).toBe(401);
    // The page says so on its next call.
    await page.getByRole('link', { name: 'DORA' }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent(), SLOW).toContain('Your session has ended');
    await screenshot(page, 'oidc-session-ended');
  });

  it('maps the platform group to admin, who sees people, the audit trail and grants on the members page; `gantry open` and the admin token keep working', async () => {
    const page = await freshPage();
    await signInWithProvider(page, server.url, 'root');
    await page.waitForURL(`${server.url}/`);
    await page.getByRole('link', { name: 'People' }).click();
    await page.getByRole('table', { name: 'Users' }).getByText('alice', { exact: true }).waitFor();
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('textbox', { name: 'User' }).fill('root');
    await page
      .getByRole('table', { name: 'Audit trail' })
      .getByText(/^session\.started via=oidc/)
      .first()
      .waitFor();
    await screenshot(page, 'audit');

    // The project's members: an admin grants and takes a role there.
    await page.goto(`${server.url}/projects/shop/members`);
    const grant = page.getByRole('form', { name: 'Grant a role' });
    await grant.getByRole('textbox', { name: 'User or group' }).fill('user:alice');
    await grant.getByRole('combobox', { name: 'Role' }).selectOption('maintainer');
    await grant.getByRole('button', { name: 'Grant' }).click();
    const aliceRow = page.getByRole('table', { name: 'Members' }).getByRole('row').filter({ hasText: 'user:alice' });
    await aliceRow.getByRole('cell', { name: 'maintainer', exact: true }).waitFor();
    await screenshot(page, 'members');
    await aliceRow.getByRole('button', { name: 'Revoke user:alice' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await aliceRow.waitFor({ state: 'detached' });

    const linkPage = await freshPage();
    await signIn(linkPage, server);
    await expect.poll(() => linkPage.locator('header .who').textContent(), SLOW).toContain('dashboard:');
    expect((await server.api('GET', '/api/projects')).status).toBe(200);
  });

  it('has no serious accessibility problem on the sign-in, people, audit and members pages (axe, WCAG 2.1 AA)', async () => {
    // bypassCSP: only so the test can inject axe; the app itself runs under its strict policy.
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
    contexts.push(context);
    await loopbackOnly(context);
    const page = await context.newPage();
    await page.goto(server.url);
    await page.getByRole('link', { name: 'Sign in with your identity provider' }).waitFor();
    await page.addScriptTag({ content: AXE });
    expect(await seriousViolations(page)).toEqual([]);
    await signInWithProvider(page, server.url, 'root');
    for (const [index, [path, ready]] of (
      [
        ['/people', 'Users'],
        ['/audit', 'Audit trail'],
        ['/projects/shop/members', 'Members'],
      ] as const
    ).entries()) {
      // The first page loads in full and gets axe; the others open inside the app, as its links
      // do, which keeps axe loaded (one load and one injection instead of three).
      if (index === 0) {
        await page.goto(`${server.url}${path}`);
        await page.getByRole('table', { name: ready }).waitFor();
        await page.addScriptTag({ content: AXE });
      } else {
        await openInApp(page, path);
        await page.getByRole('table', { name: ready }).waitFor();
      }
      expect(await seriousViolations(page), path).toEqual([]);
    }
  });

  it('says which user a disabled account is and refuses to sign it in', async () => {
    expect((await server.api('PUT', '/api/users/alice/disabled', { disabled: true })).status).toBe(200);
    const page = await freshPage();
    await signInWithProvider(page, server.url, 'alice');
    await expect.poll(() => refusal(page).textContent(), SLOW).toContain('alice is disabled');
    await waitFor(async () => (await server.api('PUT', '/api/users/alice/disabled', { disabled: false })).status === 200 || undefined, {
      what: 'alice enabled again',
    });
  });
});
