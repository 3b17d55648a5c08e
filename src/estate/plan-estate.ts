/**
 * The planner: desired estate vs the server's → the ordered changes that make the server match,
 * like `terraform plan`. Pure and deterministic (sorted by kind, then address), so two plans of
 * the same states are equal and a second apply finds nothing to do.
 *
 * Drift: with the estate of the last apply, a change whose server-side value differs from what
 * that apply wrote was made by hand since (the dashboard, the API); the plan marks it, and the
 * user either reverts it (apply) or adopts it into the files (`gantry platform adopt`).
 */
import type { Role } from '../access/index.ts';
import type { EnvironmentProtection } from '../core/protection.ts';
import type { Estate, EstateEnvironment, EstateProject } from './estate-model.ts';

export type ChangeKind = 'project' | 'group' | 'member' | 'protection' | 'security-policy' | 'channel';
export type ChangeAction = 'create' | 'update' | 'delete';

export interface EstateChange {
  action: ChangeAction;
  kind: ChangeKind;
  /** Unique in a plan: `shop`, `shop/production`, `group:sre`… with the kind. */
  address: string;
  project?: string;
  environment?: string;
  /** A member's `user:NAME` / `group:NAME`. */
  subject?: string;
  group?: string;
  /** A notification channel's name. */
  channel?: string;
  /** The server's value (null: none); what `adopt` writes back. */
  before: unknown;
  /** The folder's value (null: none); what `apply` writes. */
  after: unknown;
  /** Changed on the server since the last apply. */
  drift: boolean;
}

export interface SecretNotes {
  project: string;
  /** Declared, but the server has no value: set with `gantry secret set`. */
  missing: string[];
  /** On the server, but the folder does not declare them. */
  undeclared: string[];
}

export interface EstatePlan {
  changes: EstateChange[];
  secrets: SecretNotes[];
}

const KIND_ORDER: readonly ChangeKind[] = ['project', 'group', 'member', 'protection', 'security-policy', 'channel'];

/** `current` holds the server's state of the projects and groups `desired` names (absent: unknown to it). */
export function planEstate(desired: Estate, current: Estate, lastApplied: Estate | null = null): EstatePlan {
  const changes = diffEstates(desired, current);
  if (lastApplied !== null) {
    const drifted = new Set(diffEstates(restrictTo(lastApplied, current), restrictTo(current, lastApplied)).map(keyOf));
    for (const change of changes) change.drift = drifted.has(keyOf(change));
  }
  const secrets: SecretNotes[] = [];
  for (const [name, project] of Object.entries(desired.projects)) {
    const have = current.projects[name]?.secrets ?? [];
    const missing = project.secrets.filter((s) => !have.includes(s));
    const undeclared = have.filter((s) => !project.secrets.includes(s));
    if (current.projects[name] && (missing.length > 0 || undeclared.length > 0)) secrets.push({ project: name, missing, undeclared });
  }
  return { changes, secrets: secrets.sort((a, b) => a.project.localeCompare(b.project)) };
}

/** Counts by action, for summaries. */
export function countChanges(plan: EstatePlan): Record<ChangeAction, number> & { drift: number } {
  const out = { create: 0, update: 0, delete: 0, drift: 0 };
  for (const c of plan.changes) {
    out[c.action] += 1;
    if (c.drift) out.drift += 1;
  }
  return out;
}

function diffEstates(desired: Estate, current: Estate): EstateChange[] {
  const out: EstateChange[] = [];
  for (const [name, want] of Object.entries(desired.projects)) {
    const have = current.projects[name];
    if (!have) {
      out.push(change('project', name, null, { name }, { project: name }));
      continue;
    }
    diffProject(out, name, want, have);
  }
  for (const [group, want] of Object.entries(desired.groups)) {
    const have = current.groups[group] ?? [];
    if (!sameJson(want, have)) out.push(change('group', `group:${group}`, have.length > 0 ? have : null, want, { group }));
  }
  return out.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.address.localeCompare(b.address));
}

function diffProject(out: EstateChange[], name: string, want: EstateProject, have: EstateProject): void {
  diffMembers(out, name, undefined, want.members, have.members);
  for (const env of union(Object.keys(want.environments), Object.keys(have.environments))) {
    const w = want.environments[env];
    const h = have.environments[env];
    diffMembers(out, name, env, w?.members ?? {}, h?.members ?? {});
    const wp = protectionOf(w);
    const hp = protectionOf(h);
    if (!sameJson(wp, hp)) out.push(change('protection', `${name}/${env}`, hp, wp, { project: name, environment: env }));
  }
  if (!sameJson(want.securityPolicy, have.securityPolicy))
    out.push(change('security-policy', name, have.securityPolicy, want.securityPolicy, { project: name }));
  if (want.channels === undefined) return;
  const wantChannels = want.channels;
  const haveChannels = have.channels ?? {};
  for (const channel of union(Object.keys(wantChannels), Object.keys(haveChannels))) {
    const w = wantChannels[channel] ?? null;
    const h = haveChannels[channel] ?? null;
    if (!sameJson(w, h)) out.push(change('channel', `${name} channel:${channel}`, h, w, { project: name, channel }));
  }
}

function diffMembers(
  out: EstateChange[],
  project: string,
  environment: string | undefined,
  want: Record<string, Role>,
  have: Record<string, Role>,
): void {
  const where = environment === undefined ? project : `${project}/${environment}`;
  for (const subject of union(Object.keys(want), Object.keys(have))) {
    const w = want[subject] ?? null;
    const h = have[subject] ?? null;
    if (w !== h)
      out.push(change('member', `${where} ${subject}`, h, w, { project, subject, ...(environment === undefined ? {} : { environment }) }));
  }
}

function change(
  kind: ChangeKind,
  address: string,
  before: unknown,
  after: unknown,
  where: Pick<EstateChange, 'project' | 'environment' | 'subject' | 'group' | 'channel'>,
): EstateChange {
  const action: ChangeAction = before === null ? 'create' : after === null ? 'delete' : 'update';
  return { action, kind, address, ...where, before, after, drift: false };
}

/** The protection part of an environment, null when it asks nothing. */
export function protectionOf(env: EstateEnvironment | undefined): EnvironmentProtection | null {
  if (!env) return null;
  const p: EnvironmentProtection = {
    ...(env.approvals ? { approvals: env.approvals } : {}),
    ...(env.windows && (env.windows.allow?.length || env.windows.deny?.length) ? { windows: env.windows } : {}),
  };
  return p.approvals === undefined && p.windows === undefined ? null : p;
}

/** `a` with only the projects and groups `b` also has. */
function restrictTo(a: Estate, b: Estate): Estate {
  return {
    projects: Object.fromEntries(Object.entries(a.projects).filter(([n]) => b.projects[n] !== undefined)),
    groups: Object.fromEntries(Object.entries(a.groups).filter(([n]) => b.groups[n] !== undefined)),
  };
}

function keyOf(c: EstateChange): string {
  return `${c.kind} ${c.address}`;
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}

/** Equal as JSON with keys in any order. */
function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

/** JSON with keys sorted at every level: equal estates give equal texts (and hashes). */
export function canonical(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object')
    return `{${Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(',')}}`;
  return JSON.stringify(value);
}
