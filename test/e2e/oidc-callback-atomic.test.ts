/**
 * The sign-in's callback against a real OpenID provider (oidc-provider on loopback), the browser's
 * part played by an HTTP client with a cookie jar (Playwright's request context), so that the
 * provider's answer can be held back and delivered twice: the state is taken with the session and its events in one
 * commit, so two deliveries of one answer at the same moment (the browser's and an attacker's, or
 * a double-clicked link) give one session and one refusal, and the audit trail tells of exactly
 * the session that exists.
 */
import { type APIResponse, request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/net.ts';
import { startTestProvider, type TestProvider } from '../support/oidc-provider.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const FRAN = { sub: 'fran', preferred_username: 'fran', name: 'Fran Example', email: 'fran@example.com', groups: ['platform'] };

interface AuditEvent {
  type: string;
  actor: string;
  data: { session?: string; reason?: string };
}

describe('the OIDC callback delivered twice at once', () => {
  let server: TestServer;
  let provider: TestProvider;

  beforeAll(async () => {
    const providerPort = await freePort();
    server = await startTestServer({
      options: {
        oidcIssuer: `http://localhost:${providerPort}`,
        oidcClientId: 'gantry',
        oidcClientSecret: 'test-client-secret-0123456789',
        oidcRoles: 'platform=admin',
        oidcAutoSignIn: 'on',
      },
    });
    provider = await startTestProvider({ port: providerPort, redirectUri: `${server.url}/auth/oidc/callback`, accounts: [FRAN] });
  });
  afterAll(async () => {
    await provider?.stop();
    await server?.cleanup();
  });

  it('makes one session of two callbacks with one state, refuses the other, and records only that session', async () => {
    // The browser's part, step by step with its cookie jar, so that the provider's answer is held
    // back from Gantry: the test delivers it, twice, itself.
    const person = await request.newContext({ extraHTTPHeaders: { accept: 'text/html' } });
    const to = async (response: APIResponse, status: number) => {
      expect(response.status()).toBe(status);
      return new URL(response.headers().location!, response.url()).href;
    };
    try {
      const authorize = await to(await person.get(server.url, { maxRedirects: 0 }), 302);
      const form = await person.get(authorize);
      const action = new URL(/action="([^"]+)"/.exec(await form.text())![1]!, form.url()).href;
      const resume = await to(await person.post(action, { form: { prompt: 'login', login: 'fran', password: 'x' }, maxRedirects: 0 }), 303);
      const answer = await to(await person.get(resume, { maxRedirects: 0 }), 303);
      expect(answer).toMatch(new RegExp(`^${server.url}/auth/oidc/callback\\?.*state=`));
      const flow = (await person.storageState()).cookies.find((c) => c.name === 'gantry_oidc');
      expect(flow).toBeDefined();
      const deliver = () => fetch(answer, { headers: { cookie: `gantry_oidc=${flow!.value}` }, redirect: 'manual' });
      const answers = await Promise.all([deliver(), deliver()]);
      const signedIn = answers.filter((r) => r.status === 303);
      const refused = answers.filter((r) => r.status === 401);
      expect(signedIn).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect(await refused[0]!.text()).toContain('Gantry refused this sign-in');
      expect(refused[0]!.headers.getSetCookie().find((c) => c.startsWith('gantry_session='))).toBeUndefined();

      const cookie = signedIn[0]!.headers
        .getSetCookie()
        .find((c) => c.startsWith('gantry_session='))!
        .split(';')[0]!;
      const session = await fetch(`${server.url}/api/session`, { headers: { cookie } });
      expect(((await session.json()) as { actor: string }).actor).toBe('user:fran');

      // One session of fran's exists, and the audit trail names it and no other.
      const sessions = (await server.api<{ sessions: { id: string; owner: string | null }[] }>('GET', '/api/sessions')).body.sessions;
      const frans = sessions.filter((s) => s.owner === 'fran').map((s) => s.id);
      expect(frans).toHaveLength(1);
      const audit = (await server.api<{ events: AuditEvent[] }>('GET', '/api/audit?user=fran')).body.events;
      expect(audit.filter((e) => e.type === 'session.started').map((e) => e.data.session)).toEqual(frans);
      expect(audit.filter((e) => e.type === 'user.added')).toHaveLength(1);
      const refusals = (await server.api<{ events: AuditEvent[] }>('GET', '/api/audit?user=sign-in:oidc')).body.events;
      // Both passed the state's read at once; the provider gave the code's tokens to one (it takes a
      // code once), and had it not, the state's one commit would have refused the other.
      expect(refusals.filter((e) => e.type === 'session.refused').map((e) => e.data.reason)).toEqual([
        expect.stringMatching(/^(provider-error|replayed)$/),
      ]);
    } finally {
      await person.dispose();
    }
  });
});
