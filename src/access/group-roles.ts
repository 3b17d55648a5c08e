/**
 * Roles that come from an identity provider's groups: the server option `GANTRY_OIDC_ROLES` says
 * which group holds which role, server-wide or on a project or one of its environments —
 * `platform=admin, shop-devs=developer@shop, shop-ops=maintainer@shop/production`. They are read
 * on every request from the user's groups (which each sign-in replaces with the provider's
 * claim), so a change in the provider or in the option takes effect without touching grants.
 */
import { InputError } from '../core/errors.ts';
import type { Grant } from './decide.ts';
import { ROLES, type Role } from './permissions.ts';

export interface GroupRole {
  group: string;
  grant: Grant;
}

const ENTRY = /^([^=]+?)\s*=\s*([a-z]+)(?:@([a-z0-9][a-z0-9._-]*)(?:\/([a-z0-9][a-z0-9._-]*))?)?$/;

/** Reads `group=role[@project[/environment]]` entries separated by commas; every bad entry is named at once. */
export function parseGroupRoles(text: string): GroupRole[] {
  const out: GroupRole[] = [];
  const problems: string[] = [];
  for (const entry of text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const match = ENTRY.exec(entry);
    const role = match?.[2];
    if (!match || !isRole(role)) {
      problems.push(`'${entry}' (want group=role, group=role@project or group=role@project/environment; roles: ${ROLES.join(', ')})`);
      continue;
    }
    const [, group = '', , project, environment] = match;
    out.push({
      group: groupName(group),
      grant: { role, ...(project ? { project } : {}), ...(environment ? { environment } : {}) },
    });
  }
  if (problems.length > 0) throw new InputError(`bad group-to-role entries: ${problems.join('; ')}`);
  return out;
}

/** The grants a user holds through these groups. */
export function grantsOfGroups(map: readonly GroupRole[], groups: readonly string[]): Grant[] {
  const held = new Set(groups.map(groupName));
  return map.filter((m) => held.has(m.group)).map((m) => m.grant);
}

/**
 * A provider's group as Gantry names it: lower case, other characters than letters, digits, `.`,
 * `_` and `-` become `-` (Keycloak sends `/devs`, Entra display names have spaces), at most 63.
 */
export function groupName(raw: string): string {
  return accessName(raw, 'group');
}

/** Any name a person or group gets from outside made one Gantry accepts (`fallback` when nothing is left). */
export function accessName(raw: string, fallback: string): string {
  const name = raw
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 63);
  return name === '' ? fallback : name;
}

function isRole(name: string | undefined): name is Role {
  return (ROLES as readonly (string | undefined)[]).includes(name);
}
