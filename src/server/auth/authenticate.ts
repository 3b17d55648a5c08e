/**
 * Who is calling: a bearer token (scripts, the CLI) or the dashboard's session cookie. A cookie
 * alone never changes anything: POST, PUT and DELETE also need the session's CSRF header, and a
 * cross-site Origin is refused outright (SameSite=Strict already keeps the cookie off cross-site
 * requests).
 */
import type { FastifyRequest } from 'fastify';
import { GantryError, UnauthorizedError } from '../../core/errors.ts';
import type { Store } from '../../store/ports.ts';
import { bearer, headerValue } from '../http/index.ts';
import { cookieValue, csrfMatches, isSessionOrLinkToken, SESSION_COOKIE, type Session, type SessionService } from './sessions.ts';
import { hashToken } from './tokens.ts';

declare module 'fastify' {
  interface FastifyRequest {
    session?: Session;
  }
}

export function authenticator(store: Store, sessions: SessionService): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    const token = bearer(request);
    if (token) {
      const record = await store.tokens.findByHash(hashToken(token));
      if (!record || isSessionOrLinkToken(record.name)) throw new UnauthorizedError('the API token is not valid');
      request.actor = `api:${record.name}`;
      return;
    }
    const cookie = cookieValue(request.headers.cookie, SESSION_COOKIE);
    const session = cookie ? await sessions.find(cookie) : null;
    if (!session) throw new UnauthorizedError(cookie ? 'the session has expired: run `gantry open` to sign in again' : undefined);
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      const origin = request.headers.origin;
      if (origin && origin !== `http://${request.headers.host}` && origin !== `https://${request.headers.host}`)
        throw new GantryError('CSRF', 'cross-site request refused');
      if (!csrfMatches(session, headerValue(request.headers['x-gantry-csrf'])))
        throw new GantryError('CSRF', 'missing or wrong x-gantry-csrf header (reload the page)');
    }
    request.session = session;
    request.actor = session.actor;
  };
}
