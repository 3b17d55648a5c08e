/**
 * The few facts of the event log DORA needs, typed: releases with their commits, rollouts and
 * their phases, environment stops, incidents opened and restored. Read from the log alone, so a
 * store rebuilt from the log gives the same numbers. Every other event (runs, alerts, chaos
 * experiments…) is ignored: an experiment is never a deploy.
 */

/** An event as the log stores it (GantryEvent of store/ports.ts has this shape). */
export interface LogEvent {
  id: number;
  type: string;
  subject: string;
  actor: string;
  at: string;
  data: Record<string, unknown>;
}

/**
 * The event types DORA reads; the server asks the store for exactly these (the type index serves
 * an exact list; a family like `rollout.phase.*` would scan). Of a rollout's phases only the end
 * and `rolling-back` (the new release took traffic and is being taken off it) matter.
 */
export const DORA_EVENT_TYPES: readonly string[] = [
  'release.created',
  'rollout.created',
  'rollout.phase.rolling-back',
  'rollout.phase.succeeded',
  'rollout.phase.rolled-back',
  'rollout.phase.aborted',
  'rollout.phase.failed',
  'environment.stopped',
  'incident.opened',
  'incident.mitigated',
  'incident.resolved',
];

export interface Commit {
  sha: string;
  /** The committer date, ms since the epoch. */
  at: number;
}

export type DoraEvent =
  | {
      kind: 'release';
      at: number;
      projectId: string;
      releaseId: string;
      number: number;
      /** The release the commits were listed from (the project's previous release), null for the first. */
      baseReleaseId: string | null;
      /** null: the event predates commit lists (lead time unknown for this release). */
      commits: Commit[] | null;
      truncated: boolean;
    }
  | {
      kind: 'rollout';
      at: number;
      rolloutId: string;
      projectId: string;
      environment: string;
      releaseId: string;
      /** true for `gantry rollback`; null when the event predates the flag (inferred from release numbers). */
      rollback: boolean | null;
      actor: string;
    }
  | { kind: 'phase'; at: number; rolloutId: string; phase: string; from: string | null }
  | { kind: 'stopped'; at: number; projectId: string; environment: string }
  | {
      kind: 'incident-opened';
      at: number;
      projectId: string;
      environment: string | null;
      number: number;
      /** A release the incident names (a link made by hand), else null: linked by time. */
      releaseId: string | null;
      /** Opened by a chaos experiment: never a failed change (the chaos issue's hook). */
      experiment: boolean;
    }
  | { kind: 'incident-restored'; at: number; projectId: string; number: number };

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function integer(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) ? value : null;
}

function commitsOf(value: unknown): Commit[] | null {
  if (!Array.isArray(value)) return null;
  const out: Commit[] = [];
  for (const item of value) {
    if (typeof item !== 'object' || item === null) continue;
    const { sha, at } = item as Record<string, unknown>;
    const ms = typeof at === 'string' ? Date.parse(at) : Number.NaN;
    if (typeof sha === 'string' && !Number.isNaN(ms)) out.push({ sha, at: ms });
  }
  return out;
}

/** `environment:<projectId>/<env>` or `project:<projectId>` (how incident events name their scope). */
function incidentScope(subject: string): { projectId: string; environment: string | null } | null {
  if (subject.startsWith('project:')) return { projectId: subject.slice('project:'.length), environment: null };
  if (!subject.startsWith('environment:')) return null;
  const rest = subject.slice('environment:'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return null;
  return { projectId: rest.slice(0, slash), environment: rest.slice(slash + 1) };
}

/**
 * Log events (oldest first, by id) → DORA's typed events; malformed or foreign ones are skipped.
 * `incident.opened` carries no number: incidents are numbered per project in the order they are
 * opened (the store assigns the next number in the transaction that writes the event), so the
 * n-th opened event of a project is incident #n.
 */
export function toDoraEvents(events: readonly LogEvent[]): DoraEvent[] {
  const out: DoraEvent[] = [];
  const openedPerProject = new Map<string, number>();
  for (const e of events) {
    const at = Date.parse(e.at);
    if (Number.isNaN(at)) continue;
    const d = e.data;
    if (e.type === 'release.created') {
      const projectId = text(d.projectId);
      const releaseId = text(d.releaseId);
      const number = integer(d.number);
      if (projectId === null || releaseId === null || number === null) continue;
      out.push({
        kind: 'release',
        at,
        projectId,
        releaseId,
        number,
        baseReleaseId: text(d.baseReleaseId),
        commits: commitsOf(d.commits),
        truncated: d.commitsTruncated === true,
      });
    } else if (e.type === 'rollout.created') {
      const rolloutId = text(d.rolloutId);
      const projectId = text(d.projectId);
      const environment = text(d.environment);
      const releaseId = text(d.releaseId);
      if (rolloutId === null || projectId === null || environment === null || releaseId === null) continue;
      const rollback = d.kind === 'rollback' ? true : d.kind === 'deploy' ? false : null;
      out.push({ kind: 'rollout', at, rolloutId, projectId, environment, releaseId, rollback, actor: e.actor });
    } else if (e.type.startsWith('rollout.phase.')) {
      const rolloutId = text(d.rolloutId);
      if (rolloutId === null) continue;
      out.push({ kind: 'phase', at, rolloutId, phase: e.type.slice('rollout.phase.'.length), from: text(d.from) });
    } else if (e.type === 'environment.stopped') {
      const projectId = text(d.projectId);
      const environment = text(d.environment);
      if (projectId === null || environment === null) continue;
      out.push({ kind: 'stopped', at, projectId, environment });
    } else if (e.type === 'incident.opened') {
      const scope = incidentScope(e.subject);
      if (scope === null) continue;
      const number = integer(d.number) ?? (openedPerProject.get(scope.projectId) ?? 0) + 1;
      openedPerProject.set(scope.projectId, number);
      out.push({
        kind: 'incident-opened',
        at,
        ...scope,
        number,
        releaseId: text(d.releaseId),
        experiment: text(d.experiment) !== null || e.actor.startsWith('experiment'),
      });
    } else if (e.type === 'incident.mitigated' || e.type === 'incident.resolved') {
      const scope = incidentScope(e.subject);
      const number = integer(d.number);
      if (scope === null || number === null) continue;
      out.push({ kind: 'incident-restored', at, projectId: scope.projectId, number });
    }
  }
  return out;
}
