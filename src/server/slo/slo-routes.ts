/** The SLO API: each SLO's budget, burn rates and alerts, and the equivalent Prometheus rules. */
import { stringify } from 'yaml';
import { z } from 'zod';
import type { SloConfig } from '../../core/slo-config.ts';
import { PROMETHEUS_BUCKETS_S } from '../../proxy/index.ts';
import { prometheusRules } from '../../slo/index.ts';
import type { Project } from '../../store/ports.ts';
import type { RouteTable } from '../http/index.ts';
import type { SloService } from './slo-service.ts';

export interface SloRouteDeps {
  slos: SloService;
  requireProject(idOrName: string): Promise<Project>;
  /** Burn-rate alerts that resolved, newest first (from the event log). */
  resolvedAlerts(
    projectId: string | undefined,
    limit: number,
  ): Promise<{ at: string; environment: string | null; projectId: string | null; data: Record<string, unknown> }[]>;
}

const projectParams = z.object({ project: z.string().min(1) });

export function registerSloRoutes(routes: RouteTable, deps: SloRouteDeps): void {
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/slos',
    summary: "Each SLO of the project's environments (or of `env`): error budget, burn rate per alert window, alert states",
    auth: 'admin',
    permission: 'read',
    params: projectParams,
    query: z.object({ env: z.string().min(1).optional() }),
    handler: async ({ params, query }) => {
      const project = await deps.requireProject(params.project);
      return { slos: deps.slos.status(project.id, query.env) };
    },
  });

  routes.add({
    method: 'GET',
    url: '/api/alerts',
    summary: 'Burn-rate alerts: those firing now, or (`state=resolved`) the latest that resolved',
    auth: 'admin',
    permission: 'read',
    query: z.object({
      project: z.string().min(1).optional(),
      state: z.enum(['firing', 'resolved']).optional(),
      limit: z.coerce.number().int().min(1).max(1000).optional(),
    }),
    handler: async ({ query }) => {
      const projectId = query.project === undefined ? undefined : (await deps.requireProject(query.project)).id;
      if (query.state === 'resolved') return { alerts: await deps.resolvedAlerts(projectId, query.limit ?? 100) };
      return { alerts: deps.slos.firing(projectId) };
    },
  });

  routes.add({
    method: 'GET',
    url: '/api/projects/:project/slos/rules',
    summary: "Prometheus recording and alerting rules equivalent to Gantry's evaluation of the project's SLOs (YAML)",
    auth: 'admin',
    permission: 'read',
    params: projectParams,
    produces: 'application/yaml',
    handler: async ({ params, reply }) => {
      const project = await deps.requireProject(params.project);
      const byName = new Map<string, { slo: SloConfig; environments: string[] }>();
      for (const status of deps.slos.status(project.id)) {
        const entry = byName.get(status.slo.name) ?? { slo: status.slo, environments: [] };
        entry.environments.push(status.environment);
        byName.set(status.slo.name, entry);
      }
      const groups = [...byName.values()].flatMap(
        ({ slo, environments }) => prometheusRules(project.name, [{ ...slo, environments }], environments, PROMETHEUS_BUCKETS_S).groups,
      );
      return reply.type('application/yaml').send(stringify({ groups }));
    },
  });
}
