/** An incident as stored and shown (its lifecycle is src/incidents/incident-machine.ts). No I/O. */
export type IncidentState = 'open' | 'acknowledged' | 'mitigated' | 'resolved';
export type IncidentSeverity = 'sev1' | 'sev2' | 'sev3';

export interface Incident {
  id: string;
  projectId: string;
  environment: string | null;
  /** Per project, from 1. */
  number: number;
  title: string;
  severity: IncidentSeverity;
  state: IncidentState;
  owner: string | null;
  /** The alert that opened it (`<environment>/<slo>/page`), so repeats of it join this incident. */
  alertKey: string | null;
  openedBy: string;
  openedAt: number;
  acknowledgedAt: number | null;
  mitigatedAt: number | null;
  resolvedAt: number | null;
}
