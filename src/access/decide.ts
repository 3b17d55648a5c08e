/**
 * The one authorisation decision: may this principal do this here? Pure: the caller loads the
 * principal's grants (its own and its groups') and says whether the environment is protected.
 *
 * How grants combine (docs/access.md says the same):
 * - A grant without a project holds on every project (a server-wide role).
 * - A project grant holds on that project and all its environments.
 * - An environment grant holds for that environment's permissions only, and makes its holder a
 *   viewer of the project (one must see a project to deploy it).
 * - The effective role is the highest that holds; there are no denials to combine, so the answer
 *   never depends on the order of grants.
 * - A token's scopes narrow what its owner's roles allow, never widen it.
 */
import { higherRole, PERMISSIONS, type Permission, type PermissionRule, type Role, requiredRole } from './permissions.ts';

export interface Grant {
  role: Role;
  /** Absent: every project. */
  project?: string;
  /** Only with `project`: this environment's permissions only. */
  environment?: string;
}

export interface Principal {
  /** Shown in answers and the audit log: `user:alice`, `token:deploy-bot`, `admin`. */
  id: string;
  grants: readonly Grant[];
  /** A token's scopes: what it may be used for at most. Absent: everything its roles allow. */
  scopes?: readonly Permission[];
}

export interface Target {
  project?: string;
  environment?: string;
  /** Whether `environment` is protected (production unless the platform says otherwise). */
  environmentProtected?: boolean;
}

export type Decision = { allowed: true; role: Role } | { allowed: false; reason: string; has: Role | null; needs: Role };

/** The highest role `principal` holds for `permission` at `target`, or null. */
export function effectiveRole(principal: Principal, permission: Permission, target: Target): Role | null {
  const rule: PermissionRule = PERMISSIONS[permission];
  let role: Role | null = null;
  for (const grant of principal.grants) {
    if (grant.project === undefined) role = higherRole(role, grant.role);
    else if (rule.scope === 'server' || grant.project !== target.project) continue;
    else if (grant.environment === undefined) role = higherRole(role, grant.role);
    else if (rule.scope === 'environment' && grant.environment === target.environment) role = higherRole(role, grant.role);
    else role = higherRole(role, 'viewer');
  }
  return role;
}

export function decide(principal: Principal, permission: Permission, target: Target = {}): Decision {
  const rule: PermissionRule = PERMISSIONS[permission];
  const needs = requiredRole(permission, rule.scope === 'environment' && target.environmentProtected === true);
  const has = effectiveRole(principal, permission, target);
  if (principal.scopes && !principal.scopes.includes(permission))
    return { allowed: false, reason: `${principal.id}'s token is not scoped for ${permission}`, has, needs };
  if (has !== null && rankAtLeast(has, needs)) return { allowed: true, role: has };
  return { allowed: false, reason: refusal(principal.id, permission, target, has, needs), has, needs };
}

function rankAtLeast(has: Role, needs: Role): boolean {
  return higherRole(has, needs) === has;
}

function refusal(id: string, permission: Permission, target: Target, has: Role | null, needs: Role): string {
  const where =
    target.environment !== undefined
      ? `environment ${target.environment} of ${target.project}${target.environmentProtected ? ' (protected)' : ''}`
      : target.project !== undefined
        ? `project ${target.project}`
        : 'this server';
  const held = has === null ? 'no role' : `the ${has} role`;
  return `${id} has ${held} on ${where}; ${permission} needs ${needs}`;
}
