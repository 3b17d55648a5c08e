/**
 * One SLO's history for the dashboard's charts: the budget burning down over the period, the
 * burn rate over each alert window, the alerts' firing intervals and the deploys, on one time
 * axis. Read-only: the numbers come from the SLO service's histories, the alerts and deploys
 * from the event log.
 */
import { z } from 'zod';
import { NotFoundError } from '../../core/errors.ts';
import { budgetHistory, type HistoryEvent } from '../../slo/index.ts';
import type { Project } from '../../store/ports.ts';
import type { RouteTable } from '../http/index.ts';
import type { SloService } from './slo-service.ts';

export interface SloHistoryRouteDeps {
  slos: SloService;
  requireProject(idOrName: string): Promise<Project>;
  /** The environment's `slo.alert.*`, `rollout.created` and ROLLOUT_FINISHED_EVENT events at or after `fromMs`. */
  environmentEvents(projectId: string, environment: string, fromMs: number): Promise<HistoryEvent[]>;
  clock: { now(): number };
}

/** A chart a few hundred pixels wide gains nothing from more points. */
const DEFAULT_POINTS = 300;
/** How long before the span a rollout may have begun and still be named at its end. */
const ROLLOUT_LOOKBACK_MS = 24 * 3600_000;

export function registerSloHistoryRoutes(routes: RouteTable, deps: SloHistoryRouteDeps): void {
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/slos/:slo/history',
    summary:
      "One SLO's history in an environment, downsampled to `points`: budget remaining (burn-down) and burn rate per alert window over the measured part of its period, alert intervals, deploy markers",
    auth: 'admin',
    permission: 'read',
    params: z.object({ project: z.string().min(1), slo: z.string().min(1) }),
    query: z.object({
      env: z.string().min(1),
      points: z.coerce.number().int().min(2).max(2000).optional(),
    }),
    handler: async ({ params, query }) => {
      const project = await deps.requireProject(params.project);
      const status = deps.slos.status(project.id, query.env).find((s) => s.slo.name === params.slo);
      if (status === undefined)
        throw new NotFoundError(
          `${project.name} has no SLO '${params.slo}' evaluated in ${query.env} (\`gantry slo status ${project.name}\` lists them)`,
        );
      const nowMs = deps.clock.now();
      const key = { projectId: project.id, environment: query.env, slo: params.slo };
      const fromMs = Math.max(nowMs - status.slo.periodMs, status.sinceMs);
      const events = await deps.environmentEvents(project.id, query.env, fromMs - ROLLOUT_LOOKBACK_MS);
      const history = budgetHistory({
        slo: params.slo,
        objective: status.slo.objective,
        periodMs: status.slo.periodMs,
        rules: status.slo.alerts,
        buckets: deps.slos.history(key),
        sinceMs: status.sinceMs,
        nowMs,
        points: query.points ?? DEFAULT_POINTS,
        events,
      });
      return { environment: query.env, slo: status.slo, budget: status.budget, ...history };
    },
  });
}
