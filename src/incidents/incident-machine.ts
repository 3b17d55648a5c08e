/**
 * An incident's lifecycle as a pure state machine, PagerDuty's and the SRE book's: open →
 * acknowledged (someone is on it) → mitigated (users are fine again) → resolved (the cause is
 * dealt with). Steps may be skipped forwards (a mitigation acknowledges; a resolution both) but
 * never taken back: a recurrence is a new incident. Notes and severity and owner changes are
 * allowed until it is resolved.
 */
import { ConflictError } from '../core/errors.ts';
import type { Incident, IncidentSeverity, IncidentState } from '../core/incident.ts';

export type { Incident, IncidentSeverity, IncidentState };
export const INCIDENT_STATES: readonly IncidentState[] = ['open', 'acknowledged', 'mitigated', 'resolved'];

export type IncidentAction =
  | { type: 'acknowledge'; at: number; by: string }
  | { type: 'mitigate'; at: number; by: string }
  | { type: 'resolve'; at: number; by: string }
  | { type: 'assign'; owner: string; by: string }
  | { type: 'set-severity'; severity: IncidentSeverity; by: string };

const RANK: Record<IncidentState, number> = { open: 0, acknowledged: 1, mitigated: 2, resolved: 3 };

/** The incident after an action; ConflictError for a step back or a change to a resolved one. */
export function applyIncidentAction(incident: Incident, action: IncidentAction): Incident {
  if (incident.state === 'resolved')
    throw new ConflictError(`incident #${incident.number} is resolved: open a new one if it happened again`);
  switch (action.type) {
    case 'assign':
      return { ...incident, owner: action.owner };
    case 'set-severity':
      return { ...incident, severity: action.severity };
    default: {
      const target: IncidentState = action.type === 'acknowledge' ? 'acknowledged' : action.type === 'mitigate' ? 'mitigated' : 'resolved';
      if (RANK[target] <= RANK[incident.state]) throw new ConflictError(`incident #${incident.number} is already ${incident.state}`);
      return {
        ...incident,
        state: target,
        // Acknowledging is implied by any later step: the first person to act owns it unless someone was assigned.
        owner: incident.owner ?? action.by,
        acknowledgedAt: incident.acknowledgedAt ?? action.at,
        mitigatedAt: target === 'mitigated' || target === 'resolved' ? (incident.mitigatedAt ?? action.at) : incident.mitigatedAt,
        resolvedAt: target === 'resolved' ? action.at : null,
      };
    }
  }
}

/** Time to acknowledge and to restore (mitigated), in ms; null until it happened. */
export function incidentTimes(incident: Incident): { ttaMs: number | null; ttrMs: number | null } {
  return {
    ttaMs: incident.acknowledgedAt === null ? null : incident.acknowledgedAt - incident.openedAt,
    ttrMs: incident.mitigatedAt === null ? null : incident.mitigatedAt - incident.openedAt,
  };
}

/** The median of the values (null for none): the statistic DORA and incident reviews use for TTA/TTR. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
