/**
 * Authorisation, in one place: every authenticated route names a permission (the route table
 * refuses one that does not), and this checks it against the project and environment the request
 * points at — from its path (`:project`, `:env`, or the project of `:run`) or, for lists across
 * projects, its `project`/`env` query. A request that names no project needs the permission
 * server-wide.
 */
import type { FastifyRequest } from 'fastify';
import { decide, type Permission, type Principal, type Target } from '../../access/index.ts';
import { ForbiddenError, UnauthorizedError } from '../../core/errors.ts';
import type { Store } from '../../store/ports.ts';
import type { RoutePermission } from '../http/index.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    /** Where the request points (set by `authorize`), for checks of a further permission in a handler. */
    accessTarget?: Target;
    /** How `authorize` tells protected environments, for those checks. */
    isProtectedEnvironment?: AuthorizerOptions['isProtected'];
  }
}

export interface AuthorizerOptions {
  /** Whether an environment is protected (deploying there needs a maintainer). */
  isProtected(project: string, environment: string): boolean;
}

/** Production is protected until the platform says otherwise. */
export const defaultProtection: AuthorizerOptions = { isProtected: (_project, environment) => environment === 'production' };

export function authorizer(
  store: Store,
  o: AuthorizerOptions = defaultProtection,
): (request: FastifyRequest, permission: RoutePermission) => Promise<void> {
  return async (request, permission) => {
    const principal = request.principal;
    if (!principal) throw new UnauthorizedError();
    if (permission === 'signed-in') return;
    const target = await targetOf(store, request, o);
    request.accessTarget = target;
    request.isProtectedEnvironment = o.isProtected;
    const decision = decide(principal, permission, target);
    if (!decision.allowed) throw new ForbiddenError(decision.reason);
  };
}

async function targetOf(store: Store, request: FastifyRequest, o: AuthorizerOptions): Promise<Target> {
  const params = (request.params ?? {}) as Record<string, string | undefined>;
  const query = (request.query ?? {}) as Record<string, unknown>;
  let project = params.project ?? stringOf(query.project);
  if (project === undefined && params.run !== undefined) project = await projectOfRun(store, params.run);
  const environment = params.env ?? stringOf(query.env) ?? stringOf(query.environment);
  if (project === undefined) return {};
  // Paths may name a project by id or by name; grants name it by name.
  project = (await store.projects.get(project))?.name ?? project;
  if (environment === undefined) return { project };
  return { project, environment, environmentProtected: o.isProtected(project, environment) };
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A run's project by name; a run of no project (or none at all) points at nothing, so it needs the server-wide permission. */
async function projectOfRun(store: Store, runId: string): Promise<string | undefined> {
  return (await store.runs.projectOf(runId).catch(() => undefined)) ?? undefined;
}

/** For routes that list across projects: whether the caller may see this project's entry. */
export function callerMay(request: FastifyRequest, permission: Permission, target: Target): boolean {
  return request.principal !== undefined && decide(request.principal, permission, target).allowed;
}

/**
 * A further permission a request needs for what its body asks (an override, say), where the
 * route points — or in `environment`, when the body or the handler names it.
 */
export function requirePermission(request: FastifyRequest, permission: Permission, environment?: string): void {
  let target = request.accessTarget ?? {};
  if (environment !== undefined && target.project !== undefined)
    target = { ...target, environment, environmentProtected: request.isProtectedEnvironment?.(target.project, environment) ?? true };
  const decision = request.principal ? decide(request.principal, permission, target) : null;
  if (!decision?.allowed) throw new ForbiddenError(decision && !decision.allowed ? decision.reason : 'not signed in');
}
