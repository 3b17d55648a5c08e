/** Dashboard sign-in: one-time login links traded for a session cookie, the session, sign-out, sessions an admin ends. */
import { z } from 'zod';
import { NotFoundError } from '../../core/errors.ts';
import type { EventEnvironment, Store } from '../../store/ports.ts';
import type { RouteTable } from '../http/index.ts';
import type { OpenRequests } from './open-requests.ts';
import { SESSION_COOKIE, type SessionService } from './sessions.ts';

export interface SessionRouteDeps {
  store: Store;
  sessions: SessionService;
  open: OpenRequests;
  /** Whether dashboard sign-in through an identity provider is configured. */
  oidc: boolean;
  /** The address links should use (the one the server listens on). */
  publicUrl(): string;
  eventEnv(): EventEnvironment;
}

export function registerSessionRoutes(routes: RouteTable, deps: SessionRouteDeps): void {
  const { store } = deps;
  routes.add({
    method: 'POST',
    url: '/api/login-links',
    summary: 'A one-time link (10 minutes) that signs a browser in to the dashboard',
    auth: 'admin',
    permission: 'server.admin',
    handler: async ({ request, reply }) => {
      const link = await deps.sessions.createLoginLink(deps.publicUrl());
      await store.events.append({
        type: 'session.link-created',
        subject: 'server',
        actor: request.actor ?? 'api',
        data: { expiresAt: link.expiresAt },
        env: deps.eventEnv(),
      });
      reply.code(201);
      return link;
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/session',
    summary: 'Who is signed in, and the CSRF token for state-changing calls',
    auth: 'admin',
    permission: 'signed-in',
    handler: async ({ request }) => ({
      actor: request.actor,
      csrf: request.session?.csrf ?? '',
      expiresAt: request.session?.expiresAt ?? null,
      roles: (request.principal?.grants ?? []).map((g) =>
        g.project === undefined ? g.role : `${g.role} on ${g.project}${g.environment ? `/${g.environment}` : ''}`,
      ),
      admin: request.principal?.grants.some((g) => g.role === 'admin' && g.project === undefined) ?? false,
    }),
  });
  routes.add({
    method: 'GET',
    url: '/api/sign-in-methods',
    summary: 'How a browser can sign in: a `gantry open` link always, the identity provider when configured',
    auth: 'none',
    handler: async () => ({ link: true, oidc: deps.oidc ? { start: '/auth/oidc/start' } : null }),
  });
  routes.add({
    method: 'GET',
    url: '/api/sessions',
    summary: 'Dashboard sessions that are signed in (never their cookies)',
    auth: 'admin',
    permission: 'server.admin',
    handler: async () => ({ sessions: await deps.sessions.list() }),
  });
  routes.add({
    method: 'DELETE',
    url: '/api/sessions/:id',
    summary: 'End a dashboard session: its next request is refused and its open event streams end now',
    auth: 'admin',
    permission: 'server.admin',
    params: z.object({ id: z.string() }),
    handler: async ({ params, request }) => {
      if (!(await deps.sessions.revoke(params.id))) throw new NotFoundError(`no signed-in session ${params.id}`);
      const ended = deps.open.end([params.id], request.raw);
      await store.events.append({
        type: 'session.revoked',
        subject: 'server',
        actor: request.actor ?? 'api',
        data: { id: params.id, requestsEnded: ended },
        env: deps.eventEnv(),
      });
      return { revoked: true };
    },
  });
  routes.add({
    method: 'GET',
    url: '/auth/login',
    summary: 'Trades a one-time login link for a session cookie (HttpOnly, SameSite=Strict)',
    auth: 'none',
    produces: 'text/html',
    query: z.object({ token: z.string().optional() }),
    handler: async ({ query, request, reply }) => {
      void reply
        .type('text/html; charset=utf-8')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-store')
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'");
      const redeemed = query.token ? await deps.sessions.redeem(query.token) : null;
      if (!redeemed) {
        return reply
          .code(401)
          .send(
            authPage('This sign-in link is not valid', 'Links work once and for 10 minutes. Run <code>gantry open</code> for a new one.'),
          );
      }
      const secure = request.protocol === 'https' ? '; Secure' : '';
      await store.events.append({ type: 'session.started', subject: 'server', actor: 'dashboard', data: {}, env: deps.eventEnv() });
      // An HTML page that moves on by itself, not a redirect: the next request is then a
      // same-site navigation, so the SameSite=Strict cookie goes with it whatever opened the link.
      return reply
        .header(
          'set-cookie',
          `${SESSION_COOKIE}=${redeemed.cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${redeemed.maxAgeSeconds}${secure}`,
        )
        .header('refresh', '0; url=/')
        .send(authPage('Signed in', '<a href="/">Continue to the dashboard</a>'));
    },
  });
  routes.add({
    method: 'POST',
    url: '/auth/logout',
    summary: 'Ends the dashboard session',
    auth: 'admin',
    permission: 'signed-in',
    handler: async ({ request, reply }) => {
      if (request.session) {
        await deps.sessions.end(request.session);
        deps.open.end([request.session.id], request.raw);
      }
      return reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`).send({ signedOut: true });
    },
  });
}

/** A page of its own for sign-in outcomes (the dashboard is not loaded yet); `body` is HTML, escape what it quotes. */
export function authPage(title: string, body: string): string {
  return (
    `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title} · Gantry</title>` +
    `<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem"><h1>${title}</h1><p>${body}</p></body></html>`
  );
}
