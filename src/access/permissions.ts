/**
 * What each role may do, written once. The server's route table names one permission per route
 * and asks `decide` (./decide.ts); docs/access.md is generated from `PERMISSIONS`, so the table a
 * person reads and the one the server enforces cannot drift apart.
 *
 * Roles are ordered: each one may do everything the one before it may. Environment-scoped
 * permissions name two minimum roles: on an ordinary environment and on a protected one
 * (production by default), which is how "a developer deploys to staging, only maintainers to
 * production" is said.
 */

export type Role = 'viewer' | 'developer' | 'maintainer' | 'admin';
export const ROLES: readonly Role[] = ['viewer', 'developer', 'maintainer', 'admin'];

export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

export function higherRole(a: Role | null, b: Role | null): Role | null {
  if (a === null) return b;
  if (b === null) return a;
  return roleRank(a) >= roleRank(b) ? a : b;
}

/** Where a permission applies: the whole server, one project, or one environment of a project. */
export type PermissionScope = 'server' | 'project' | 'environment';

export interface PermissionRule {
  scope: PermissionScope;
  /** The least role that has it (on an environment that is not protected). */
  role: Role;
  /** The least role that has it on a protected environment (environment scope only). */
  protectedRole?: Role;
  description: string;
}

export const PERMISSIONS = {
  read: {
    scope: 'project',
    role: 'viewer',
    description: 'see the project: runs, logs, releases, environments, SLOs, incidents, findings, DORA, search',
  },
  'run.trigger': { scope: 'project', role: 'developer', description: 'trigger, re-run and cancel runs' },
  'release.create': { scope: 'project', role: 'developer', description: 'create a release from a run' },
  'incident.manage': { scope: 'project', role: 'developer', description: 'open, acknowledge, resolve, reassign incidents; add notes' },
  deploy: {
    scope: 'environment',
    role: 'developer',
    protectedRole: 'maintainer',
    description: 'deploy, roll back, expose and stop an environment; control its rollout',
  },
  'experiment.run': {
    scope: 'environment',
    role: 'developer',
    protectedRole: 'maintainer',
    description: 'start and abort chaos experiments in an environment',
  },
  'deploy.approve': {
    scope: 'environment',
    role: 'maintainer',
    protectedRole: 'maintainer',
    description: "approve a deploy that needs approvals (never one's own change)",
  },
  'deploy.override': {
    scope: 'environment',
    role: 'maintainer',
    protectedRole: 'maintainer',
    description: 'deploy outside a deploy window or past a blocking security finding (recorded with a reason)',
  },
  'finding.suppress': { scope: 'project', role: 'maintainer', description: 'suppress a security finding (with a reason and an expiry)' },
  'secret.write': { scope: 'project', role: 'maintainer', description: "set and delete the project's secrets (values are never shown)" },
  'project.manage': { scope: 'project', role: 'maintainer', description: 'change the project: triggers, webhooks, settings, policy' },
  'member.manage': { scope: 'project', role: 'admin', description: 'grant and revoke roles on the project and its environments' },
  'alert.receive': {
    scope: 'server',
    role: 'developer',
    description: 'post alerts from Alertmanager (give its service token only this scope)',
  },
  'agent.work': {
    scope: 'server',
    role: 'admin',
    description:
      "take jobs, renew leases and report logs, files and results as a build agent (an agent's token has only this; `gantry agents add`)",
  },
  'server.read': { scope: 'server', role: 'viewer', description: 'see server-wide pages: all projects, alerts, incidents, DORA' },
  'server.admin': {
    scope: 'server',
    role: 'admin',
    description: 'add and remove projects, users, groups and service tokens; notification channels; advisories; platform apply',
  },
} as const satisfies Record<string, PermissionRule>;

export type Permission = keyof typeof PERMISSIONS;
export const PERMISSION_NAMES = Object.keys(PERMISSIONS) as Permission[];

export function isPermission(name: string): name is Permission {
  return Object.hasOwn(PERMISSIONS, name);
}

/** The least role that holds `permission` where it applies. */
export function requiredRole(permission: Permission, environmentProtected: boolean): Role {
  const rule: PermissionRule = PERMISSIONS[permission];
  return environmentProtected && rule.protectedRole ? rule.protectedRole : rule.role;
}

/** The Markdown table docs/access.md shows between its markers (a test keeps the two equal). */
export function renderPermissionTable(): string {
  const mark = (p: PermissionRule, role: Role, prot: boolean) =>
    roleRank(role) >= roleRank(prot && p.protectedRole ? p.protectedRole : p.role) ? 'yes' : '–';
  const head = `| permission | scope | what it allows | ${ROLES.join(' | ')} |\n|---|---|---|${ROLES.map(() => '---').join('|')}|`;
  const rows = PERMISSION_NAMES.map((name) => {
    const p: PermissionRule = PERMISSIONS[name];
    const cells = ROLES.map((r) => {
      const plain = mark(p, r, false);
      const prot = mark(p, r, true);
      return plain === prot ? plain : `${plain} (protected: ${prot})`;
    });
    return `| \`${name}\` | ${p.scope} | ${p.description} | ${cells.join(' | ')} |`;
  });
  return [head, ...rows].join('\n');
}
