/**
 * Dashboard sign-in through the identity provider: `/auth/oidc/start` sends the browser there
 * with a flow cookie (HttpOnly, SameSite=Lax: it must come back with the provider's cross-site
 * redirect, 10 minutes, only on /auth/oidc), and `/auth/oidc/callback` checks the answer — state
 * against the cookie, the state unused (one-time row), then the code, PKCE and the ID token
 * (oidc-client.ts) — makes or updates the user (oidc-users.ts), and takes the state and starts a
 * session owned by the user, with its events, in one commit (of two callbacks with one state, one
 * session). Each refusal is a page that says which check failed, and an event in the audit trail.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { EventEnvironment, NewEvent, Store } from '../../store/ports.ts';
import type { RouteTable } from '../http/index.ts';
import { OidcClient, SignInRefusedError } from './oidc-client.ts';
import { userOfIdentity } from './oidc-users.ts';
import { authPage } from './session-routes.ts';
import { cookieValue, SESSION_COOKIE, SIGN_IN_TTL_MS, type SessionService } from './sessions.ts';

export const FLOW_COOKIE = 'gantry_oidc';
/** The dashboard page the sign-in started from, to land on it afterwards. */
const NEXT_COOKIE = 'gantry_oidc_next';
/** Where the dashboard's own sign-in page stays reachable when sign-in goes straight to the provider. */
export const SIGN_IN_PAGE = '/sign-in';

/**
 * With GANTRY_OIDC_AUTO_SIGN_IN, a browser opening a dashboard page without a session goes
 * straight to the provider, and back to that page: one page load of Gantry's fewer than through
 * the sign-in page (Grafana's `oauth_auto_login` and oauth2-proxy do the same). Returns the page
 * to come back to, or null: serve the page (a session cookie, maybe stale, lets the dashboard
 * decide; `/sign-in` shows its page).
 */
export function autoSignInTarget(request: { url: string; headers: Record<string, string | string[] | undefined> }): string | null {
  // Only a page a person opens; a script's fetch of a missing file gets its 404 as before.
  if (!String(request.headers.accept ?? '').includes('text/html')) return null;
  if (cookieValue(request.headers.cookie as string | undefined, SESSION_COOKIE)) return null;
  const path = request.url.split('?')[0] ?? '/';
  if (path === SIGN_IN_PAGE || path.startsWith('/auth/')) return null;
  return request.url;
}

/** A path of this origin only (`/x`, never `//host` or `/\\host`), else the dashboard's home. */
function samePagePath(next: string | undefined): string {
  if (next === undefined || next.length > 2048 || !/^\/(?![/\\])[\x21-\x7e]*$/.test(next)) return '/';
  return next;
}

export interface OidcRouteDeps {
  store: Store;
  sessions: SessionService;
  oidc: OidcClient;
  /** True when the dashboard is served over https (behind a proxy too): cookies get `Secure`. */
  https(): boolean;
  eventEnv(): EventEnvironment;
}

/** What the dashboard's pages use of the sign-in: sending a browser to the provider. */
export interface OidcSignIn {
  /**
   * Answers `request` with the redirect to the provider (the flow cookie set, the state
   * remembered), to come back to `next` (a path of this origin, else home); a refusal page when
   * the provider cannot be read.
   */
  sendToProvider(request: FastifyRequest, reply: FastifyReply, next: string | undefined): Promise<FastifyReply>;
}

export function registerOidcRoutes(routes: RouteTable, deps: OidcRouteDeps): OidcSignIn {
  const { store } = deps;
  const cookie = (name: string, value: string, path: string, maxAgeSeconds: number, secure: boolean) =>
    `${name}=${value}; Path=${path}; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;

  const sendToProvider: OidcSignIn['sendToProvider'] = async (request, reply, nextAsAsked) => {
    const secure = request.protocol === 'https' || deps.https();
    const flow = OidcClient.newFlow();
    let location: string;
    try {
      location = await deps.oidc.authorizationUrl(flow);
    } catch (error) {
      if (!(error instanceof SignInRefusedError)) throw error;
      return refusalPage(reply, error, 502);
    }
    await deps.sessions.rememberSignIn(flow.state);
    const next = samePagePath(nextAsAsked);
    return reply
      .header('set-cookie', [
        cookie(FLOW_COOKIE, flow.cookie, '/auth/oidc', SIGN_IN_TTL_MS / 1000, secure),
        cookie(NEXT_COOKIE, next === '/' ? '' : encodeURIComponent(next), '/auth/oidc', next === '/' ? 0 : SIGN_IN_TTL_MS / 1000, secure),
      ])
      .header('cache-control', 'no-store')
      .redirect(location, 302);
  };

  routes.add({
    method: 'GET',
    url: '/auth/oidc/start',
    summary: 'Sends the browser to the identity provider to sign in (authorization code with PKCE)',
    auth: 'none',
    produces: 'text/html',
    query: z.object({ next: z.string().optional() }),
    handler: ({ query, request, reply }) => sendToProvider(request, reply, query.next),
  });

  routes.add({
    method: 'GET',
    url: '/auth/oidc/callback',
    summary: "The identity provider's answer: checked, then a session cookie (HttpOnly, SameSite=Lax) for the user",
    auth: 'none',
    produces: 'text/html',
    query: z.looseObject({ state: z.string().optional() }),
    handler: async ({ query, request, reply }) => {
      const secure = request.protocol === 'https' || deps.https();
      // Whatever the outcome, this flow is over: a new sign-in starts with a new cookie.
      const clearFlow = cookie(FLOW_COOKIE, '', '/auth/oidc', 0, secure);
      const clearNext = cookie(NEXT_COOKIE, '', '/auth/oidc', 0, secure);
      try {
        const flowCookie = cookieValue(request.headers.cookie, FLOW_COOKIE);
        if (!flowCookie)
          throw new SignInRefusedError(
            'no-flow',
            'this browser has no sign-in under way (it took over 10 minutes, or was started elsewhere)',
          );
        const flow = OidcClient.flowOf(flowCookie);
        if (query.state !== flow.state)
          throw new SignInRefusedError('state-mismatch', 'the answer does not belong to this sign-in (state)');
        if (!(await deps.sessions.signInPending(flow.state))) throw replayed();
        const rawQuery = request.url.slice(request.url.indexOf('?') + 1);
        const identity = await deps.oidc.finish(rawQuery, flow);
        const { user, created, groups } = await userOfIdentity(store, identity);
        const actor = `user:${user.name}`;
        // The state taken, the session and its events: one commit (the callback's critical path
        // waited on three), and a replay that got this far at the same moment writes nothing.
        const session = await deps.sessions.finishSignIn(flow.state, user.name, (sessionId) => [
          ...(created ? [event('user.added', actor, { name: user.name, kind: 'person', groups, via: 'oidc' })] : []),
          event('session.started', actor, { via: 'oidc', session: sessionId, groups, from: request.ip }),
        ]);
        if (session === null) throw replayed();
        const next = samePagePath(cookieValue(request.headers.cookie, NEXT_COOKIE) ?? undefined);
        // 303: the page is fetched anew with GET, whatever brought the browser here.
        return reply
          .header('set-cookie', [clearFlow, clearNext, cookie(SESSION_COOKIE, session.cookie, '/', session.maxAgeSeconds, secure)])
          .header('cache-control', 'no-store')
          .redirect(next, 303);
      } catch (error) {
        if (!(error instanceof SignInRefusedError)) throw error;
        // Nobody is known yet: the refusal is the sign-in's own.
        await record('session.refused', 'sign-in:oidc', { reason: error.reason, message: error.message, from: request.ip });
        return refusalPage(reply.header('set-cookie', [clearFlow, clearNext]), error, 401);
      }
    },
  });

  function event(type: string, actor: string, data: Record<string, string | string[]>): NewEvent {
    return { type, subject: 'server', actor, data, env: deps.eventEnv() };
  }

  async function record(type: string, actor: string, data: Record<string, string | string[]>): Promise<void> {
    await store.events.append(event(type, actor, data));
  }

  return { sendToProvider };
}

function replayed(): SignInRefusedError {
  return new SignInRefusedError('replayed', 'this answer from the identity provider was already used (a replayed state)');
}

function refusalPage(reply: FastifyReply, error: SignInRefusedError, status: number) {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
    .send(
      authPage(
        'Sign-in refused',
        `<span role="alert" data-reason="${error.reason}">Gantry refused this sign-in: ${escapeHtml(error.message)}.</span> ` +
          '<a href="/auth/oidc/start">Sign in again</a>',
      ),
    );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
