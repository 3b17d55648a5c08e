/**
 * Replays DORA's events of one project and environment into the table of rollouts behind every
 * number: which were deployments, which failed and why, when each failure recovered, which
 * commits each deployment put live. The definitions are in ./definitions.ts; the edge cases are
 * decided here, each with a comment and a test (test/dora/delivery-history.test.ts).
 */
import type { Commit, DoraEvent } from './dora-events.ts';

/** What a rollout was, for DORA. */
export type RolloutKind =
  /** A release other than the running one: the changes DORA counts. */
  | 'deployment'
  /** `gantry rollback`, or a deploy of an older release than the running one: restores, changes nothing new. */
  | 'rollback'
  /** The release already running, again: nothing changes, so it is not a deployment. */
  | 'redeploy';

export interface CommitLeadTime {
  sha: string;
  committedAt: number;
  leadTimeMs: number;
  /** The commit is dated after the deployment (a skewed clock): counted as zero. */
  skewed: boolean;
}

export interface Failure {
  /** Why it counts as failed: `rolled back during its rollout`, `rolled back by <actor>`, `incident #3`. */
  causes: string[];
  startedAt: number;
  recoveredAt: number | null;
  /** `rollback finished`, `deployment <rolloutId> live`, `incidents mitigated`, `environment stopped` (no recovery). */
  recoveredBy: string | null;
}

/** One rollout of the environment: a row of the table behind the numbers. */
export interface RolloutRow {
  rolloutId: string;
  releaseId: string;
  releaseNumber: number | null;
  kind: RolloutKind;
  actor: string;
  startedAt: number;
  finishedAt: number | null;
  /** The final phase (succeeded, rolled-back, aborted, failed), null while under way. */
  outcome: string | null;
  /** Counted as a deployment (frequency, change failure rate, rework rate). */
  counted: boolean;
  /** Why it is not counted, for the reader checking the numbers. */
  note: string | null;
  /** Commits this deployment put live for the first time (succeeded deployments only). */
  commits: CommitLeadTime[];
  /** Some commits of its releases were not listed (a release lists at most 1,000). */
  commitsTruncated: boolean;
  /** A release in its history predates commit lists: its commits are unknown. */
  commitsUnknown: boolean;
  failure: Failure | null;
  rework: boolean;
}

export interface IncidentRow {
  number: number;
  openedAt: number;
  restoredAt: number | null;
  /** The deployment it made a failed change, if any. */
  rolloutId: string | null;
  experiment: boolean;
}

export interface EnvironmentStop {
  at: number;
}

export interface DeliveryHistory {
  rollouts: RolloutRow[];
  incidents: IncidentRow[];
  stops: EnvironmentStop[];
}

interface ReleaseInfo {
  number: number;
  baseReleaseId: string | null;
  commits: Commit[] | null;
  truncated: boolean;
}

/** Phases in which the new release took traffic and was being taken back off it. */
const ROLLING_BACK = 'rolling-back';
const FINAL = new Set(['succeeded', 'rolled-back', 'aborted', 'failed']);

/**
 * The history of one environment, from its project's events in log order. Events after `until`
 * are ignored, so a past window is computed as it was known then.
 */
export function deliveryHistory(
  events: readonly DoraEvent[],
  projectId: string,
  environment: string,
  until = Number.POSITIVE_INFINITY,
): DeliveryHistory {
  const releases = new Map<string, ReleaseInfo>();
  const rows = new Map<string, RolloutRow>();
  const tookTraffic = new Set<string>();
  const incidents = new Map<number, IncidentRow>();
  const stops: EnvironmentStop[] = [];
  const liveCommits = new Set<string>();
  const liveReleases = new Set<string>();
  /** What serves the environment's traffic: the last rollout that succeeded (null: nothing, or stopped). */
  let live = null as RolloutRow | null;
  let underWay = null as RolloutRow | null;

  // Kept as they change rather than searched for, so a replay stays linear in the number of events.
  const failing = new Set<RolloutRow>();
  const openIncidents = new Set<number>();
  const unrecovered = (): RolloutRow[] => [...failing];
  const recover = (row: RolloutRow, at: number, by: string): void => {
    if (row.failure === null || row.failure.recoveredBy !== null) return;
    row.failure.recoveredAt = by === 'environment stopped' ? null : Math.max(at, row.failure.startedAt);
    row.failure.recoveredBy = by;
    failing.delete(row);
  };
  const fail = (row: RolloutRow, cause: string, startedAt: number): void => {
    if (row.failure === null) {
      row.failure = { causes: [cause], startedAt, recoveredAt: null, recoveredBy: null };
      failing.add(row);
    } else if (!row.failure.causes.includes(cause)) row.failure.causes.push(cause);
  };
  const latestDeployment = new Map<string, RolloutRow>();
  const incidentsOf = new Map<string, IncidentRow[]>();

  /** The commits a release brings that are not live yet: its own, then those of earlier releases that never went live here. */
  const newCommits = (releaseId: string): { commits: Commit[]; truncated: boolean; unknown: boolean; chain: string[] } => {
    const commits: Commit[] = [];
    const seen = new Set<string>();
    const chain: string[] = [];
    let truncated = false;
    let unknown = false;
    let id: string | null = releaseId;
    while (id !== null && !liveReleases.has(id) && !chain.includes(id)) {
      const info = releases.get(id);
      if (info === undefined) break;
      chain.push(id);
      if (info.commits === null) unknown = true;
      else
        for (const c of info.commits) {
          if (liveCommits.has(c.sha) || seen.has(c.sha)) continue;
          seen.add(c.sha);
          commits.push(c);
        }
      truncated ||= info.truncated;
      id = info.baseReleaseId;
    }
    return { commits, truncated, unknown, chain };
  };

  const finish = (row: RolloutRow, phase: string, at: number): void => {
    row.outcome = phase;
    row.finishedAt = at;
    if (underWay === row) underWay = null;
    if (row.kind === 'deployment') {
      if (phase === 'succeeded') {
        row.counted = true;
        const brought = newCommits(row.releaseId);
        row.commits = brought.commits.map((c) => ({
          sha: c.sha,
          committedAt: c.at,
          // Clock skew: a commit dated after the deploy that shipped it is counted as shipped at once.
          leadTimeMs: Math.max(0, at - c.at),
          skewed: c.at > at,
        }));
        row.commitsTruncated = brought.truncated;
        row.commitsUnknown = brought.unknown;
        for (const c of brought.commits) liveCommits.add(c.sha);
        for (const id of brought.chain) liveReleases.add(id);
        // A later deployment live restores the service after any failure still open (a fix rolled forward).
        for (const failed of unrecovered()) if (failed !== row) recover(failed, at, `deployment ${row.rolloutId} live`);
        live = row;
      } else if (tookTraffic.has(row.rolloutId)) {
        // It reached users and was taken back: a deployment, and a failed one. An abort by hand after
        // traffic ends `aborted` (not `rolled-back`) but is a rollback all the same.
        row.counted = true;
        fail(
          row,
          phase === 'rolled-back' ? 'rolled back during its rollout' : `rolled back during its rollout (${row.outcome} by hand)`,
          row.startedAt,
        );
        recover(row, at, 'rollback finished');
      } else {
        row.note = 'never reached users (failed or aborted before traffic, or ended by stopping the environment)';
        // An incident blamed on it while it rolled out no longer counts against anything.
        if (row.failure !== null) recover(row, at, 'rollout ended');
      }
      return;
    }
    if (phase !== 'succeeded') return;
    if (row.kind === 'rollback') {
      // A rollback marks the deployment it replaced as failed; a rollback of a rollback replaces a
      // rollback, which is no deployment, so it marks nothing (the first rollback already did).
      if (live !== null && live.kind === 'deployment') {
        fail(live, `rolled back by ${row.actor}`, live.finishedAt ?? live.startedAt);
        recover(live, at, 'rollback finished');
      }
      for (const failed of unrecovered()) recover(failed, at, 'rollback finished');
      live = row;
    }
    // A redeploy of the running release changes nothing: `live` stays the deployment that brought it.
  };

  for (const e of events) {
    if (e.at >= until) continue;
    switch (e.kind) {
      case 'release':
        if (e.projectId === projectId)
          releases.set(e.releaseId, { number: e.number, baseReleaseId: e.baseReleaseId, commits: e.commits, truncated: e.truncated });
        break;
      case 'rollout': {
        if (e.projectId !== projectId || e.environment !== environment) break;
        const number = releases.get(e.releaseId)?.number ?? null;
        const liveNumber = live === null ? null : (releases.get(live.releaseId)?.number ?? null);
        // A deploy of an older release than the running one is a rollback by hand, whatever it was called.
        const older = number !== null && liveNumber !== null && number < liveNumber;
        const kind: RolloutKind =
          live !== null && live.releaseId === e.releaseId && e.rollback !== true
            ? 'redeploy'
            : e.rollback === true || older
              ? 'rollback'
              : 'deployment';
        const row: RolloutRow = {
          rolloutId: e.rolloutId,
          releaseId: e.releaseId,
          releaseNumber: number,
          kind,
          actor: e.actor,
          startedAt: e.at,
          finishedAt: null,
          outcome: null,
          counted: false,
          note:
            kind === 'deployment'
              ? null
              : kind === 'rollback'
                ? 'a rollback restores, it is not a deployment'
                : 'a redeploy of the running release',
          commits: [],
          commitsTruncated: false,
          commitsUnknown: false,
          failure: null,
          // Rework: started while the environment was failing (an incident open, a failure not recovered).
          rework: kind === 'deployment' && (openIncidents.size > 0 || failing.size > 0),
        };
        rows.set(e.rolloutId, row);
        if (kind === 'deployment') {
          underWay = row;
          latestDeployment.set(e.releaseId, row);
        }
        break;
      }
      case 'phase': {
        const row = rows.get(e.rolloutId);
        if (row === undefined || row.outcome !== null) break;
        if (e.phase === ROLLING_BACK) tookTraffic.add(row.rolloutId);
        // `from` says it was rolling back when it ended (e.g. stopped mid-rollback): it took traffic.
        if (e.from === ROLLING_BACK) tookTraffic.add(row.rolloutId);
        if (FINAL.has(e.phase)) finish(row, e.phase, e.at);
        break;
      }
      case 'stopped':
        if (e.projectId !== projectId || e.environment !== environment) break;
        stops.push({ at: e.at });
        // Stopping ends the failure without restoring anything: no recovery time.
        for (const failed of unrecovered()) recover(failed, e.at, 'environment stopped');
        live = null;
        break;
      case 'incident-opened': {
        if (e.projectId !== projectId) break;
        const incident: IncidentRow = { number: e.number, openedAt: e.at, restoredAt: null, rolloutId: null, experiment: e.experiment };
        if (e.environment !== environment) break;
        incidents.set(e.number, incident);
        if (e.experiment) break;
        openIncidents.add(e.number);
        const named = e.releaseId === null ? undefined : latestDeployment.get(e.releaseId);
        // The newest change is the suspect: the deployment rolling out, else the one running.
        const suspect = named ?? underWay ?? (live !== null && live.kind === 'deployment' ? live : null);
        if (suspect === null || (!suspect.counted && suspect.outcome !== null)) break;
        incident.rolloutId = suspect.rolloutId;
        incidentsOf.set(suspect.rolloutId, [...(incidentsOf.get(suspect.rolloutId) ?? []), incident]);
        fail(
          suspect,
          `incident #${e.number}`,
          suspect.finishedAt !== null && suspect.outcome === 'succeeded' ? suspect.finishedAt : suspect.startedAt,
        );
        break;
      }
      case 'incident-restored': {
        if (e.projectId !== projectId) break;
        const incident = incidents.get(e.number);
        if (incident === undefined || incident.restoredAt !== null) break;
        incident.restoredAt = e.at;
        openIncidents.delete(e.number);
        const row = incident.rolloutId === null ? undefined : rows.get(incident.rolloutId);
        if (row?.failure == null || row.failure.recoveredBy !== null) break;
        const linked = incidentsOf.get(row.rolloutId) ?? [];
        const onlyIncidents = row.failure.causes.every((c) => c.startsWith('incident #'));
        if (onlyIncidents && linked.every((i) => i.restoredAt !== null)) recover(row, e.at, 'incidents mitigated');
        break;
      }
    }
  }
  return { rollouts: [...rows.values()], incidents: [...incidents.values()], stops };
}
