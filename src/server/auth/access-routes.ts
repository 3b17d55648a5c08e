/**
 * People and their rights over the API: users (persons and service accounts), their groups,
 * role grants on the server, a project or an environment, and API tokens with scopes and expiry.
 * A token is shown once and stored hashed; revoking it (or disabling its user) ends its open
 * requests at once. Every change is an event with who made it.
 */
import { z } from 'zod';
import { PERMISSION_NAMES, type Permission, ROLES } from '../../access/index.ts';
import { InputError, NotFoundError } from '../../core/errors.ts';
import { spanMs } from '../../core/span.ts';
import type { Value } from '../../core/types.ts';
import type { EventEnvironment, Store, TokenRecord } from '../../store/ports.ts';
import type { RouteTable } from '../http/index.ts';
import type { OpenRequests } from './open-requests.ts';
import { callerMay, requirePermission } from './authorize.ts';
import { isSessionOrLinkToken } from './sessions.ts';
import { hashToken, newToken } from './tokens.ts';

export interface AccessRouteDeps {
  store: Store;
  open: OpenRequests;
  eventEnv(): EventEnvironment;
  now(): number;
}

const NAME = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lower-case letters, digits, ".", "_" and "-", starting with a letter or digit');
const ROLE = z.enum(ROLES as [string, ...string[]]);
const SUBJECT = z.string().regex(/^(user|group):[a-z0-9][a-z0-9._-]{0,62}$/, 'user:NAME or group:NAME');
const LIFETIME = z.string().refine((text) => spanMs(text) !== null, 'a span such as 12h, 30d or 2w');

export function registerAccessRoutes(routes: RouteTable, deps: AccessRouteDeps): void {
  const { store } = deps;
  const record = async (type: string, actor: string | undefined, data: Record<string, Value>, subject = 'server') =>
    store.events.append({ type, subject, actor: actor ?? 'api', data, env: deps.eventEnv() });

  routes.add({
    method: 'GET',
    url: '/api/users',
    summary: 'Users and service accounts, with their groups',
    auth: 'admin',
    permission: 'server.admin',
    handler: async () => ({
      users: await Promise.all((await store.access.listUsers()).map(async (u) => ({ ...u, groups: await store.access.groupsOf(u.name) }))),
    }),
  });
  routes.add({
    method: 'POST',
    url: '/api/users',
    summary: 'Add a person or a service account',
    auth: 'admin',
    permission: 'server.admin',
    body: z.strictObject({
      name: NAME,
      kind: z.enum(['person', 'service']).default('person'),
      displayName: z.string().max(200).optional(),
      email: z.string().email().optional(),
      groups: z.array(NAME).optional(),
    }),
    handler: async ({ body, request, reply }) => {
      const user = await store.access.createUser({
        name: body.name,
        kind: body.kind,
        displayName: body.displayName ?? body.name,
        ...(body.email ? { email: body.email } : {}),
      });
      if (body.groups) await store.access.setGroups(user.name, body.groups);
      await record('user.added', request.actor, { name: user.name, kind: user.kind, groups: body.groups ?? [] });
      reply.code(201);
      return { user: { ...user, groups: await store.access.groupsOf(user.name) } };
    },
  });
  routes.add({
    method: 'PUT',
    url: '/api/users/:name/groups',
    summary: "Set a user's groups",
    auth: 'admin',
    permission: 'server.admin',
    params: z.object({ name: z.string() }),
    body: z.strictObject({ groups: z.array(NAME) }),
    handler: async ({ params, body, request }) => {
      await requireUser(store, params.name);
      await store.access.setGroups(params.name, body.groups);
      await record('user.groups-set', request.actor, { name: params.name, groups: body.groups });
      return { groups: await store.access.groupsOf(params.name) };
    },
  });
  routes.add({
    method: 'PUT',
    url: '/api/users/:name/disabled',
    summary: 'Disable a user (their tokens stop working and their open requests end at once) or enable them again',
    auth: 'admin',
    permission: 'server.admin',
    params: z.object({ name: z.string() }),
    body: z.strictObject({ disabled: z.boolean() }),
    handler: async ({ params, body, request }) => {
      await requireUser(store, params.name);
      await store.access.setUserDisabled(params.name, body.disabled ? new Date(deps.now()).toISOString() : null);
      const ended = body.disabled ? deps.open.end((await store.tokens.listByOwner(params.name)).map((t) => t.id)) : 0;
      await record(body.disabled ? 'user.disabled' : 'user.enabled', request.actor, { name: params.name, requestsEnded: ended });
      return { user: await store.access.findUser(params.name) };
    },
  });

  const grantBody = z.strictObject({ subject: SUBJECT, role: ROLE, environment: NAME.optional() });
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/members',
    summary: 'Who holds which role on the project and its environments (server-wide roles included)',
    auth: 'admin',
    permission: 'read',
    params: z.object({ project: z.string() }),
    handler: async ({ params, request }) => ({
      grants: [...(await store.access.listGrants({ project: params.project })), ...(await serverGrants(store))],
      canManage: callerMay(request, 'member.manage', request.accessTarget ?? { project: params.project }),
    }),
  });
  routes.add({
    method: 'PUT',
    url: '/api/projects/:project/members',
    summary: 'Give a user or group a role on the project, or on one of its environments',
    auth: 'admin',
    permission: 'member.manage',
    params: z.object({ project: z.string() }),
    body: grantBody,
    handler: async ({ params, body, request }) => {
      const grant = await store.access.grant({
        subject: body.subject,
        role: body.role,
        project: params.project,
        environment: body.environment ?? null,
        createdBy: request.actor ?? 'api',
      });
      await record('member.granted', request.actor, { ...body, project: params.project }, `project:${params.project}`);
      return { grant };
    },
  });
  routes.add({
    method: 'DELETE',
    url: '/api/projects/:project/members/:subject',
    summary: "Take a user's or group's role on the project (or, with ?environment=, on that environment)",
    auth: 'admin',
    permission: 'member.manage',
    params: z.object({ project: z.string(), subject: SUBJECT }),
    query: z.object({ environment: NAME.optional() }),
    handler: async ({ params, query, request }) => {
      if (!(await store.access.revokeGrant(params.subject, params.project, query.environment ?? null)))
        throw new NotFoundError(
          `${params.subject} holds no role on ${query.environment ? `${params.project}/${query.environment}` : params.project}`,
        );
      await record('member.revoked', request.actor, { ...params, environment: query.environment ?? null }, `project:${params.project}`);
      return { revoked: true };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/grants',
    summary: 'Every role grant: server-wide, per project and per environment',
    auth: 'admin',
    permission: 'server.admin',
    handler: async () => ({ grants: await store.access.listGrants() }),
  });
  routes.add({
    method: 'PUT',
    url: '/api/grants',
    summary: 'Give a user or group a role on every project (server-wide)',
    auth: 'admin',
    permission: 'server.admin',
    body: z.strictObject({ subject: SUBJECT, role: ROLE }),
    handler: async ({ body, request }) => {
      const grant = await store.access.grant({
        subject: body.subject,
        role: body.role,
        project: null,
        environment: null,
        createdBy: request.actor ?? 'api',
      });
      await record('member.granted', request.actor, { ...body, project: null });
      return { grant };
    },
  });
  routes.add({
    method: 'DELETE',
    url: '/api/grants/:subject',
    summary: "Take a user's or group's server-wide role",
    auth: 'admin',
    permission: 'server.admin',
    params: z.object({ subject: SUBJECT }),
    handler: async ({ params, request }) => {
      if (!(await store.access.revokeGrant(params.subject, null, null)))
        throw new NotFoundError(`${params.subject} holds no server-wide role`);
      await record('member.revoked', request.actor, { subject: params.subject, project: null });
      return { revoked: true };
    },
  });

  routes.add({
    method: 'POST',
    url: '/api/tokens',
    summary: "An API token for the caller (or, for an admin, for a service account), shown once: scopes narrow what its user's roles allow",
    auth: 'admin',
    permission: 'signed-in',
    body: z.strictObject({
      name: z.string().min(1).max(100),
      owner: NAME.optional(),
      scopes: z.array(z.enum(PERMISSION_NAMES as [Permission, ...Permission[]])).optional(),
      expiresIn: LIFETIME.optional(),
    }),
    handler: async ({ body, request, reply }) => {
      const owner = body.owner ?? ownUser(request.principal?.id);
      if (owner === undefined) throw new InputError('say which user or service account the token acts for: "owner"');
      if (ownUser(request.principal?.id) !== owner) requirePermission(request, 'server.admin');
      await requireUser(store, owner);
      const token = newToken();
      const expiresAt = body.expiresIn ? new Date(deps.now() + (spanMs(body.expiresIn) ?? 0)).toISOString() : undefined;
      const created = await store.tokens.create({
        name: body.name,
        hash: hashToken(token),
        owner,
        ...(body.scopes ? { scopes: body.scopes } : {}),
        ...(expiresAt ? { expiresAt } : {}),
      });
      await record('token.created', request.actor, {
        id: created.id,
        name: body.name,
        owner,
        scopes: body.scopes ?? null,
        expiresAt: expiresAt ?? null,
      });
      reply.code(201);
      return { token, ...publicToken(created) };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/tokens',
    summary: "The caller's tokens (an admin sees every user's), never their values",
    auth: 'admin',
    permission: 'signed-in',
    handler: async ({ request }) => {
      const own = ownUser(request.principal?.id);
      const tokens = own !== undefined ? await store.tokens.listByOwner(own) : (await store.tokens.list()).filter((t) => t.owner !== null);
      // A signed-in user's dashboard sessions are rows of the same table, not API tokens.
      return { tokens: tokens.filter((t) => !isSessionOrLinkToken(t.name)).map(publicToken) };
    },
  });
  routes.add({
    method: 'DELETE',
    url: '/api/tokens/:id',
    summary: 'Revoke a token: refused from its next request on, and its open requests end now',
    auth: 'admin',
    permission: 'signed-in',
    params: z.object({ id: z.string() }),
    handler: async ({ params, request }) => {
      const token = await store.tokens.findById(params.id);
      if (!token || token.owner === null || isSessionOrLinkToken(token.name)) throw new NotFoundError(`no API token ${params.id}`);
      if (ownUser(request.principal?.id) !== token.owner) requirePermission(request, 'server.admin');
      const revoked = await store.tokens.revoke(token.id, new Date(deps.now()).toISOString());
      const ended = deps.open.end([token.id]);
      if (revoked)
        await record('token.revoked', request.actor, { id: token.id, name: token.name, owner: token.owner, requestsEnded: ended });
      return { revoked: true };
    },
  });
}

function ownUser(principalId: string | undefined): string | undefined {
  return principalId?.startsWith('user:') ? principalId.slice('user:'.length) : undefined;
}

async function requireUser(store: Store, name: string): Promise<void> {
  if (!(await store.access.findUser(name))) throw new NotFoundError(`no user ${name}: add it first (POST /api/users)`);
}

async function serverGrants(store: Store) {
  return (await store.access.listGrants()).filter((g) => g.project === null);
}

function publicToken(t: TokenRecord) {
  return {
    id: t.id,
    name: t.name,
    owner: t.owner,
    scopes: t.scopes,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt,
  };
}
