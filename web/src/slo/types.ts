/**
 * What the dashboard reads of the SLO, incident and notification APIs (src/server/slo,
 * incidents, notifications). The pure cores' own types where they have them (type-only: nothing
 * of the server is bundled); the few fields the routes add, by hand.
 */
import type { Incident } from '../../../src/core/incident.ts';
import type { SloConfig } from '../../../src/core/slo-config.ts';
import type { BudgetStatus } from '../../../src/slo/budget.ts';
import type { BudgetHistory } from '../../../src/slo/budget-history.ts';
import type { TimelineEntry } from '../../../src/incidents/postmortem.ts';

export type { AlertInterval, BudgetHistory, DeployMarker, HistoryPoint, HistoryWindow } from '../../../src/slo/budget-history.ts';
export type { Incident, SloConfig, TimelineEntry };

export type { AlertState } from '../../../src/slo/burn-rate-alerts.ts';
export type { SloStatus } from '../../../src/slo/slo-status.ts';

/** GET /api/projects/:p/slos/:slo/history?env= */
export type SloHistory = BudgetHistory & { environment: string; slo: SloConfig; budget: BudgetStatus };

export type IncidentRow = Incident & { ttaMs: number | null; ttrMs: number | null };

export interface IncidentImpact {
  failedRequests: number;
  totalRequests: number;
  budgetBurned: number | null;
}

/** GET /api/projects/:p/incidents/:n */
export interface IncidentView {
  incident: Incident;
  ttaMs: number | null;
  ttrMs: number | null;
  notes: { at: number; author: string; text: string }[];
  timeline: TimelineEntry[];
  impact: IncidentImpact | null;
  suggestions: { action: 'rollback' | 'pause-rollouts'; environment: string; text: string }[];
}

/** GET /api/notify/channels */
export interface Channel {
  id: string;
  name: string;
  kind: 'slack' | 'webhook';
  projectId: string | null;
  target: string;
  signed: boolean;
  routes: { events: string[]; environments?: string[]; severities?: string[] };
  createdAt: string;
}

/** GET /api/notify/deliveries */
export interface Delivery {
  id: number;
  channel: string;
  eventId: number;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptMs: number;
  lastError: string | null;
  payload: { type?: string; project?: string | null; environment?: string | null; at?: string };
  createdAt: string;
  deliveredAt: string | null;
}
