/**
 * The server's side of a plan: the store's snapshot read as an estate, for the projects and groups
 * the platform folder names (the others are not managed, so not compared).
 */
import { ROLES, type Role } from '../../access/index.ts';
import type { Estate, EstateProject, SecretRef } from '../../estate/index.ts';
import type { SecurityPolicy } from '../../security/index.ts';
import type { EstateSnapshot } from '../../store/ports.ts';

/**
 * Which secret of the project holds a channel's stored credential (see channel-secrets.ts); the
 * estate names secrets, never values.
 */
export type CredentialRef = (projectId: string, channel: string, field: 'url' | 'signingKey', ciphertext: string) => SecretRef;

export function currentEstate(
  snapshot: EstateSnapshot,
  projectNames: readonly string[],
  groupNames: readonly string[],
  refOf: CredentialRef,
): Estate {
  const estate: Estate = { projects: {}, groups: {} };
  const byId = new Map(snapshot.projects.map((p) => [p.id, p.name]));
  for (const name of projectNames) {
    if (snapshot.projects.some((p) => p.name === name))
      estate.projects[name] = { members: {}, environments: {}, secrets: [], securityPolicy: null, channels: {} };
  }
  const environment = (project: EstateProject, env: string) => {
    project.environments[env] ??= { members: {} };
    return project.environments[env];
  };
  for (const g of snapshot.grants) {
    const project = g.project === null ? undefined : estate.projects[g.project];
    if (!project || !isRole(g.role)) continue;
    if (g.environment === null) project.members[g.subject] = g.role;
    else environment(project, g.environment).members[g.subject] = g.role;
  }
  for (const p of snapshot.protections) {
    const project = estate.projects[byId.get(p.projectId) ?? ''];
    if (project) Object.assign(environment(project, p.environment), p.protection);
  }
  for (const p of snapshot.policies) {
    const project = estate.projects[byId.get(p.projectId) ?? ''];
    if (project) project.securityPolicy = JSON.parse(p.policy) as SecurityPolicy;
  }
  for (const s of snapshot.secrets) estate.projects[byId.get(s.projectId) ?? '']?.secrets.push(s.name);
  for (const c of snapshot.channels) {
    const project = estate.projects[byId.get(c.projectId) ?? ''];
    if (!project?.channels) continue;
    project.channels[c.name] = {
      type: c.kind,
      url: refOf(c.projectId, c.name, 'url', c.targetCiphertext),
      signingKey: c.secretCiphertext === null ? null : refOf(c.projectId, c.name, 'signingKey', c.secretCiphertext),
      events: c.routes.events,
      environments: c.routes.environments ?? null,
      severities: c.routes.severities ?? null,
    };
  }
  for (const name of groupNames) estate.groups[name] = [];
  for (const g of snapshot.groups) estate.groups[g.group]?.push(g.user);
  return estate;
}

function isRole(name: string): name is Role {
  return (ROLES as readonly string[]).includes(name);
}
