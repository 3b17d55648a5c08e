/**
 * Who is calling: a bearer token (scripts, the CLI) or the dashboard's session cookie. A cookie
 * alone never changes anything: POST, PUT and DELETE also need the session's CSRF header, and a
 * cross-site Origin is refused outright (SameSite=Strict already keeps the cookie off cross-site
 * requests).
 *
 * The caller becomes a `Principal` (src/access): the admin token, tokens made before users
 * existed, and `gantry open` sessions act as the server's admin; a token owned by a user, or a
 * session of a user signed in through the identity provider, acts with that user's grants and
 * its groups' (stored, and mapped from the provider's groups), a token narrowed by its scopes. A revoked or expired token,
 * or one whose user is disabled, is refused on its next request — every request reads them.
 */
import type { FastifyRequest } from 'fastify';
import { type GroupRole, grantsOfGroups, isPermission, type Principal, ROLES, type Role } from '../../access/index.ts';
import { GantryError, UnauthorizedError } from '../../core/errors.ts';
import type { Store, TokenRecord } from '../../store/ports.ts';
import { bearer, headerValue } from '../http/index.ts';
import { cookieValue, csrfMatches, isSessionOrLinkToken, SESSION_COOKIE, type Session, type SessionService } from './sessions.ts';
import type { OpenRequests } from './open-requests.ts';
import { AGENT_TOKEN_PREFIX, hashToken } from './tokens.ts';

declare module 'fastify' {
  interface FastifyRequest {
    session?: Session;
  }
}

/** What the admin token and `gantry open` sessions act as. */
export const ADMIN_PRINCIPAL: Principal = { id: 'admin', grants: [{ role: 'admin' }] };

export function authenticator(
  store: Store,
  sessions: SessionService,
  open: OpenRequests,
  now: () => number = Date.now,
  /** Roles that users hold through their identity provider's groups (GANTRY_OIDC_ROLES). */
  groupRoles: readonly GroupRole[] = [],
): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    const token = bearer(request);
    if (token) {
      const hash = hashToken(token);
      if (token.startsWith(AGENT_TOKEN_PREFIX)) {
        const agent = await agentPrincipal(store, hash);
        if (!agent) throw new UnauthorizedError('the API token is not valid');
        request.principal = agent;
        request.actor = agent.id;
        return;
      }
      const record = await store.tokens.findByHash(hash);
      if (!record || isSessionOrLinkToken(record.name)) throw new UnauthorizedError('the API token is not valid');
      request.principal = await principalOfToken(store, record, now(), groupRoles);
      request.actor = record.owner === null ? `api:${record.name}` : `user:${record.owner}`;
      open.track(record.id, request.raw);
      return;
    }
    const cookie = cookieValue(request.headers.cookie, SESSION_COOKIE);
    const session = cookie ? await sessions.find(cookie) : null;
    if (!session) throw new UnauthorizedError(cookie ? 'the session has ended (signed out, revoked or expired): sign in again' : undefined);
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      const origin = request.headers.origin;
      if (origin && origin !== `http://${request.headers.host}` && origin !== `https://${request.headers.host}`)
        throw new GantryError('CSRF', 'cross-site request refused');
      if (!csrfMatches(session, headerValue(request.headers['x-gantry-csrf'])))
        throw new GantryError('CSRF', 'missing or wrong x-gantry-csrf header (reload the page)');
    }
    request.session = session;
    request.actor = session.actor;
    request.principal = session.owner === null ? ADMIN_PRINCIPAL : await principalOfUser(store, session.owner, groupRoles);
    open.track(session.id, request.raw);
  };
}

/**
 * A build agent's token (`gantry agents add`): it may do agent work and nothing else, and a
 * revoked agent is refused on its very next request.
 */
async function agentPrincipal(store: Store, hash: string): Promise<Principal | null> {
  const agent = await store.agents.findByTokenHash(hash);
  if (!agent) return null;
  if (agent.revokedAt !== null) throw new UnauthorizedError(`the agent "${agent.name}" was revoked`);
  return { id: `${AGENT_PRINCIPAL_PREFIX}${agent.name}`, grants: [{ role: 'admin' }], scopes: ['agent.work'] };
}

/** Principals of agent tokens are `agent:<name>`. */
export const AGENT_PRINCIPAL_PREFIX = 'agent:';

async function principalOfToken(store: Store, record: TokenRecord, nowMs: number, groupRoles: readonly GroupRole[]): Promise<Principal> {
  if (record.revokedAt !== null) throw new UnauthorizedError(`the API token "${record.name}" was revoked`);
  if (record.expiresAt !== null && Date.parse(record.expiresAt) <= nowMs)
    throw new UnauthorizedError(`the API token "${record.name}" expired at ${record.expiresAt}: create a new one`);
  if (record.owner === null) return ADMIN_PRINCIPAL;
  const principal = await principalOfUser(store, record.owner, groupRoles);
  return record.scopes ? { ...principal, scopes: record.scopes.filter(isPermission) } : principal;
}

/** A user's grants, their groups' and those their groups hold through the identity provider's mapping; refused when disabled. */
async function principalOfUser(store: Store, name: string, groupRoles: readonly GroupRole[]): Promise<Principal> {
  const user = await store.access.findUser(name);
  if (!user || user.disabledAt !== null) throw new UnauthorizedError(`the user ${name} is disabled or gone`);
  const { groups, grants } = await store.access.holdingsOf(user.name);
  return {
    id: `user:${user.name}`,
    grants: [
      ...grants.flatMap((g) =>
        isRole(g.role)
          ? [{ role: g.role, ...(g.project ? { project: g.project } : {}), ...(g.environment ? { environment: g.environment } : {}) }]
          : [],
      ),
      ...grantsOfGroups(groupRoles, groups),
    ],
  };
}

function isRole(name: string): name is Role {
  return (ROLES as readonly string[]).includes(name);
}
